# SPDX-License-Identifier: GPL-2.0
#
# QEMU helpers for the selftests that run QEMU inside
# the test VM, sourced after $work (a scratch directory) and $QMP (lowdown's
# qmp client) are set.  QEMUs leave their pid files and mdevs their *.mdev
# files in $work, for qemu_reap.

# start_qemu NAME [QEMU ARGS...]: daemonized QEMU with QMP on $work/NAME.sock
start_qemu() {
	local name=$1 i

	shift
	qemu-system-x86_64 -M q35 -accel tcg -m "$MEM" -nodefaults -display none \
		-qmp "unix:$work/$name.sock,server=on,wait=off" \
		-pidfile "$work/$name.pid" -daemonize "$@" ||
		return 1
	for i in $(seq 100); do
		[ -S "$work/$name.sock" ] && return 0
		sleep 0.1
	done
	return 1
}

# migrate SRC DST PORT: migrate, print QEMU's numbers, succeed on "completed";
# the last query-migrate is left in $work/SRC.migrated
migrate() {
	local src=$1 port=$3 start state=none info= elapsed

	start=$(date +%s%N)
	"$QMP" "$work/$src.sock" migrate "{\"uri\": \"tcp:127.0.0.1:$port\"}" >/dev/null
	for _ in $(seq 1200); do
		info=$("$QMP" "$work/$src.sock" query-migrate) || break
		state=$(jq -r '.status // "none"' <<<"$info")
		case $state in completed|failed|cancelled) break ;; esac
		sleep 0.1
	done
	elapsed=$((($(date +%s%N) - start) / 1000000))
	echo "# migration $state after ${elapsed} ms wall;" \
		"total-time $(jq -r '."total-time" // "?"' <<<"$info") ms," \
		"downtime $(jq -r '.downtime // "?"' <<<"$info") ms," \
		"ram transferred $(jq -r '.ram.transferred // "?"' <<<"$info") bytes," \
		"vfio transferred $(jq -r '.vfio.transferred // "-"' <<<"$info") bytes"
	printf '%s\n' "$info" >"$work/$src.migrated"
	[ "$state" = completed ]
}

# mdev_args UUID: QEMU arguments for the mdev through an iommufd backend
mdev_args() {
	echo "-object iommufd,id=fd0 -device vfio-pci,sysfsdev=/sys/bus/mdev/devices/$1,iommufd=fd0,enable-migration=on"
}

# mtty_create: an mtty instance; its uuid on stdout
mtty_create() {
	local types=/sys/class/mdev_bus/mtty/mdev_supported_types uuid

	[ -d $types ] || modprobe mtty || return 1
	uuid=$(cat /proc/sys/kernel/random/uuid)
	echo "$uuid" >$types/mtty-1/create || return 1
	echo "$uuid" >"$work/$uuid.mdev"
	echo "$uuid"
}

# dump NAME: the guest's memory into $work/NAME.mem
dump() {
	"$QMP" "$work/$1.sock" pmemsave \
		"{\"val\": 0, \"size\": $(($(numfmt --from=iec "$MEM"))), \"filename\": \"$work/$1.mem\"}" \
		>/dev/null
}

# differ A B: pages of the two dumps that differ
differ() {
	cmp -l "$work/$1.mem" "$work/$2.mem" | awk '{ print int(($1 - 1) / 4096) }' |
		uniq | wc -l
}

# memory_identical A B: dump both memories and compare them, printing the
# pages that differ; succeeds when none do
memory_identical() {
	local npages

	dump "$1" && dump "$2" || return 1
	npages=$(differ "$1" "$2")
	echo "# pages that differ between the two memories: $npages"
	[ "$npages" = 0 ]
}

status_of() { "$QMP" "$work/$1.sock" query-status | jq -r .status; }

# vfsim_create: a vfsim instance; its uuid on stdout
vfsim_create() {
	local types=/sys/class/mdev_bus/vfsim/mdev_supported_types uuid

	[ -d $types ] || modprobe vfsim || return 1
	uuid=$(cat /proc/sys/kernel/random/uuid)
	echo "$uuid" >$types/vfsim-vf/create || return 1
	echo "$uuid" >"$work/$uuid.mdev"
	echo "$uuid"
}

# qemu_reap [-9]: kill the QEMUs whose pid files are in $work (with
# SIGKILL given -9), remove the mdevs named in its *.mdev files, and $work
qemu_reap() {
	local f

	for f in "$work"/*.pid; do
		[ -f "$f" ] && kill "$@" "$(cat "$f")" 2>/dev/null
	done
	sleep 0.5
	for f in "$work"/*.mdev; do
		[ -f "$f" ] && echo 1 >"/sys/bus/mdev/devices/$(cat "$f")/remove"
	done
	rm -rf "$work"
}

# halt_firmware FILE: a 64 KiB firmware image for -bios whose reset vector
# halts the vCPU (hlt; jmp back): a guest without an OS whose memory map
# never changes (SeaBIOS reprograms it at boot, and a DMA into a window
# QEMU has unmapped for a moment stops vfsim, as an IOMMU fault stops a VF)
halt_firmware() {
	head -c 65536 /dev/zero >"$1" &&
		printf '\364\353\375' |
		dd of="$1" bs=1 seek=65520 conv=notrunc 2>/dev/null
}
