#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# downtime.sh - migrate a VM with a vfsim device (the software VF, its DMA
# engine writing into guest memory) between two QEMU 10 over a shaped link,
# once per scenario, and report what the downtime was made of.
#
#   bench/downtime.sh [-m MATRIX] [-s SCENARIO]... [-o DIR] [-c BASELINE.json]
#		      [-t PCT]
#
#   -m MATRIX     default (make bench), quick, or full
#   -s SCENARIO   run this scenario instead (repeatable): space-separated
#                 key=value, e.g. "mode=lowdown ram=1G link=1gbit"; keys
#                 below, unset keys take the defaults
#   -o DIR        results: downtime.json, downtime.md, downtime-*.png, and
#                 downtime.jsonl, written as each scenario ends
#                 (default $LOWDOWN_OUT, else ./bench-out)
#   -c BASELINE   compare with an earlier downtime.json: exit 1 when a
#                 scenario's downtime grew, or its memory verdict got worse,
#                 by more than -t PCT percent (default 25)
#
# Runs as root inside the test VM (make bench): network namespaces, tc, QEMU
# 10, lowdown's kernel.  Scenario keys (defaults in brackets):
#
#   mode     lowdown      exact tracking (DMA logging), rate-limited PRE_COPY
#            workaround   x-pre-copy-dirty-page-tracking=off with the
#                         conservative software source (iommufd
#                         dirty_conservative=1: every device-writable page
#                         reads dirty, as type1 does for a physical VF), so
#                         all of guest RAM goes inside the downtime
#            notrack      no dirty tracking at all (vfsim without DMA
#                         logging, migration forced): upstream 6.12 + QEMU 10
#            noprecopy    lowdown without PRE_COPY device data
#            nolimit      lowdown with the PRE_COPY limiter off   [lowdown]
#   ram      guest RAM, filled with a non-zero pattern            [1G]
#   rate     DMA records per second, into a sequential ring       [2000]
#   ring     ring pages                                           [4096]
#   ctx      vfsim device context bytes                           [4M]
#   churn    context bytes changed per second                     [1M]
#   span     bytes at the context's start the churn writes, its
#            hot set; 0: the whole context                        [256K]
#   link     veth shaping (tc tbf rate)                           [1gbit]
#   feat     a QEMU 10 migration feature on both sides: multifd (the
#            device state over multifd channels too,
#            x-migration-multifd-transfer=on), switchover-ack (with the
#            return path), or none                                [none]
#
# Per scenario it reports QEMU's downtime, total-time and setup-time, RAM
# bytes before and inside the downtime, device bytes per phase, the kernel's
# phase breakdown (from the vfio_mig and iommufd_dirty tracepoints, through
# tools/perf/migphases.sh), whether the two guests' final memory is
# identical (read in place with process_vm_readv() once the source is in
# postmigrate and the destination, started with -S, has not run), and the
# floor: downtime bytes over the link's measured bandwidth plus the device
# arcs; also over QEMU's own measured throughput, which under TCG is the
# tighter limit.

set -u

top=$(cd "$(dirname "$0")/.." && pwd)
eval "$("$top/kernel/build" --dirs)"
QMP=$OBJ/lowdown/bin/qmp
MIGCTL=$OBJ/lowdown/bin/migctl
LINKBW=$OBJ/lowdown/bin/linkbw
MEMIMG=$OBJ/lowdown/bin/memimg
MIGPHASES=$top/tools/perf/migphases.sh
T=/sys/kernel/tracing
CONSERVATIVE=/sys/module/iommufd/parameters/dirty_conservative
QBASE=0x1000000
PORT=4500
SRC_IP=10.77.0.1
DST_IP=10.77.0.2

matrix=default
scenarios=()
out=${LOWDOWN_OUT:-./bench-out}
baseline=
threshold=25

usage() {
	sed -n '3,20s/^# \{0,1\}//p' "$0" >&2
	exit 64
}

while getopts m:s:o:c:t:h opt; do
	case $opt in
	m) matrix=$OPTARG ;;
	s) scenarios+=("$OPTARG") ;;
	o) out=$OPTARG ;;
	c) baseline=$OPTARG ;;
	t) threshold=$OPTARG ;;
	*) usage ;;
	esac
done

if [ ${#scenarios[@]} = 0 ]; then
	case $matrix in
	quick)
		scenarios=("mode=lowdown ram=256M" "mode=workaround ram=256M")
		;;
	default)
		scenarios=(
			"mode=lowdown ram=1G"
			"mode=workaround ram=1G"
			"mode=notrack ram=1G"
			"mode=noprecopy ram=1G"
			"mode=nolimit ram=1G"
			"mode=lowdown ram=256M link=100mbit"
			"mode=lowdown ram=1G feat=multifd"
			"mode=lowdown ram=1G feat=switchover-ack"
		)
		;;
	full)
		# Every lowdown row has a noprecopy twin (the limiter's targets
		# compare the two), the RAM rows every mode
		for ram in 256M 1G 2G; do
			for mode in lowdown workaround notrack noprecopy nolimit; do
				scenarios+=("mode=$mode ram=$ram")
			done
		done
		for rate in 500 8000; do
			scenarios+=("mode=lowdown rate=$rate" "mode=noprecopy rate=$rate")
		done
		for cs in "churn=0" "churn=10M" "span=0" "span=1M" \
			  "churn=10M span=0" "churn=10M span=1M"; do
			scenarios+=("mode=lowdown $cs" "mode=noprecopy $cs" "mode=nolimit $cs")
		done
		scenarios+=("mode=lowdown link=100mbit" "mode=noprecopy link=100mbit"
			    "mode=workaround link=100mbit")
		for feat in multifd switchover-ack; do
			scenarios+=("mode=lowdown feat=$feat" "mode=noprecopy feat=$feat")
		done
		;;
	*) usage ;;
	esac
fi

mkdir -p "$out" || exit 1
out=$(cd "$out" && pwd)
work=$(mktemp -d /tmp/downtime.XXXXXX)
results=$out/downtime.jsonl
: >"$results"
. "$top/tools/testing/selftests/lowdown/qemu_lib.sh"

cleanup() {
	ip netns del lds 2>/dev/null
	ip netns del ldd 2>/dev/null
	[ -w $CONSERVATIVE ] && echo 0 >$CONSERVATIVE
	echo 0 >$T/tracing_on 2>/dev/null
	qemu_reap -9
	umount $RAMDIR 2>/dev/null
}
trap cleanup EXIT

log() { echo "downtime: $*" >&2; }

bytes_of() { numfmt --from=iec "$1"; }

# The link: two namespaces, a veth pair, both ends shaped to $1
link_up() {
	ip netns del lds 2>/dev/null
	ip netns del ldd 2>/dev/null
	ip netns add lds && ip netns add ldd &&
		ip link add ldv0 type veth peer name ldv1 &&
		ip link set ldv0 netns lds && ip link set ldv1 netns ldd &&
		ip -n lds addr add $SRC_IP/24 dev ldv0 &&
		ip -n ldd addr add $DST_IP/24 dev ldv1 &&
		ip -n lds link set ldv0 up && ip -n ldd link set ldv1 up &&
		ip -n lds link set lo up && ip -n ldd link set lo up &&
		tc -n lds qdisc add dev ldv0 root tbf rate "$1" burst 1mb latency 100ms &&
		tc -n ldd qdisc add dev ldv1 root tbf rate "$1" burst 1mb latency 100ms
}

# The link's TCP bandwidth, bits per second
link_measure() {
	local bps

	ip netns exec ldd "$LINKBW" -s $((PORT - 1)) &
	sleep 0.3
	bps=$(ip netns exec lds "$LINKBW" -c $DST_IP $((PORT - 1)) 128 | awk '{ print $3 }')
	wait
	echo "${bps:-0}"
}

vfsim_drop() {
	echo 1 >"/sys/bus/mdev/devices/$1/remove"
	rm -f "$work/$1.mdev"
}

# qemu NS NAME RAM DEVICE_ARGS [ARGS...]: a daemonized QEMU in namespace NS
qemu() {
	local ns=$1 name=$2 ram=$3 dev=$4 i

	shift 4
	ip netns exec "$ns" qemu-system-x86_64 -M q35 -accel tcg -m "$ram" \
		-nodefaults -display none -bios "$work/halt.bin" \
		-machine memory-backend=ram0 -device "$dev" \
		-object iommufd,id=fd0 \
		-qmp "unix:$work/$name.sock,server=on,wait=off" \
		-pidfile "$work/$name.pid" -daemonize "$@" || return 1
	for i in $(seq 100); do
		[ -S "$work/$name.sock" ] && return 0
		sleep 0.1
	done
	return 1
}

qmp() { "$QMP" -t 120 "$work/$1.sock" "${@:2}"; }

# The pattern the source guest's RAM starts from (a private mapping of it):
# non-zero, so that QEMU sends every page, and each page stamped with its
# number.  Kept, for one size at a time, on a tmpfs of its own with
# transparent huge pages: filling it takes a third of the time
RAMDIR=/run/downtime-ram
ram_image() {
	local f=$RAMDIR/pattern-$1

	if [ ! -f "$f" ]; then
		rm -f $RAMDIR/pattern-*
		"$MEMIMG" fill "$f" "$(bytes_of "$1")" || return 1
	fi
	echo "$f"
}

# hva NAME: the host address of the guest RAM in QEMU NAME
hva() {
	qmp "$1" x-query-ramblock | jq -r '."human-readable-text"' |
		awk '$1 ~ /ram0$/ { print $(NF - 1) }'
}

# mem_compare RAM RING UUID: compare the two paused guests' memories in
# place (bench/memimg); the pages that differ in $differ (-1: not
# compared); succeeds when the destination's ring holds the source
# device's last records without a gap
mem_compare() {
	local a b n

	differ=-1
	a=$(hva src) && b=$(hva dst) && [ -n "$a" ] && [ -n "$b" ] || return 1
	differ=$("$MEMIMG" cmp "$(cat "$work/src.pid")@$a" \
		"$(cat "$work/dst.pid")@$b" "$(bytes_of "$1")" |
		sed -n 's/^\([0-9]*\) pages differ$/\1/p')
	differ=${differ:--1}
	# The ring, at its guest address in a dump of the memory below it
	qmp dst pmemsave "{\"val\": 0, \"size\": $((QBASE + $2 * 4096)), \"filename\": \"$work/ring.mem\"}" >/dev/null &&
		"$MIGCTL" records "$work/ring.mem" -b $QBASE -w "$2" \
			-x "$(cat "/sys/bus/mdev/devices/$3/vfsim/seq")" >"$work/records" 2>&1
	n=$?
	rm -f "$work/ring.mem"
	return $n
}

# ph FILE PHASE: microseconds of PHASE in migphases.sh's summary FILE
ph() {
	local v

	v=$(sed -n "s/^  $2 *\([0-9]*\) us.*/\1/p" "$1" | head -n1)
	echo "${v:-0}"
}

# dev_bytes FILE DEVICE STATE: the device's data bytes in STATE
dev_bytes() {
	local v

	v=$(awk -v d="$2" -v st="$3" '$1 == d && $2 == st { print $3 }' "$1")
	echo "${v:-0}"
}

# run SCENARIO: one migration; appends its JSON object to $results
run() {
	local mode=lowdown ram=1G rate=2000 ring=4096 ctx=4M churn=1M span=256K
	local link=1gbit feat=none kv k v s d extra="" st info t0 elapsed bps differ=-1
	local caps=
	local rec=false img t_begin t_mig t_cmp t_trace
	local line

	for kv in $1; do
		k=${kv%%=*} v=${kv#*=}
		case $k in
		mode|ram|rate|ring|ctx|churn|span|link|feat) printf -v "$k" '%s' "$v" ;;
		*) log "unknown key $k"; return 1 ;;
		esac
	done
	case $feat in
	none) ;;
	multifd)
		caps='[{"capability": "multifd", "state": true}]'
		extra=",x-migration-multifd-transfer=on"
		;;
	switchover-ack)
		caps='[{"capability": "return-path", "state": true}, {"capability": "switchover-ack", "state": true}]'
		;;
	*) log "unknown feat $feat"; return 1 ;;
	esac
	log "scenario: mode=$mode ram=$ram rate=$rate ring=$ring ctx=$ctx churn=$churn span=$span link=$link feat=$feat"

	t_begin=$SECONDS
	link_up "$link" || { log "cannot set the link up"; return 1; }
	bps=$(link_measure)
	img=$(ram_image "$ram") || return 1

	s=$(vfsim_create) && d=$(vfsim_create) || return 1
	for v in "$s" "$d"; do
		echo "$(bytes_of "$ctx")" >"/sys/bus/mdev/devices/$v/vfsim/ctx_size"
		[ "$mode" = notrack ] && echo 0 >"/sys/bus/mdev/devices/$v/vfsim/dma_logging"
		[ "$mode" = noprecopy ] && echo 0 >"/sys/bus/mdev/devices/$v/vfsim/precopy"
	done
	echo 0 >$CONSERVATIVE
	if [ "$mode" = workaround ]; then
		echo 1 >$CONSERVATIVE
		extra="$extra,x-pre-copy-dirty-page-tracking=off"
	fi

	qemu lds src "$ram" \
		"vfio-pci,sysfsdev=/sys/bus/mdev/devices/$s,iommufd=fd0,enable-migration=on$extra" \
		-object "memory-backend-file,id=ram0,size=$ram,mem-path=$img,share=off" &&
		qemu ldd dst "$ram" \
			"vfio-pci,sysfsdev=/sys/bus/mdev/devices/$d,iommufd=fd0,enable-migration=on${extra%%,x-pre-copy*}" \
			-object "memory-backend-ram,id=ram0,size=$ram" \
			-S -incoming defer || { log "QEMU did not start"; return 1; }
	# The capabilities on both sides, the destination's before it listens
	if [ -n "$caps" ]; then
		qmp src migrate-set-capabilities "{\"capabilities\": $caps}" >/dev/null &&
			qmp dst migrate-set-capabilities "{\"capabilities\": $caps}" >/dev/null ||
			{ log "cannot set the capabilities $caps"; return 1; }
	fi
	qmp dst migrate-incoming "{\"uri\": \"tcp:$DST_IP:$PORT\"}" >/dev/null ||
		{ log "the destination does not listen"; return 1; }
	[ "$mode" = nolimit ] &&
		echo 0 >"$(ls -d /sys/bus/mdev/devices/"$s"/vfio-dev/vfio*/migration)/limiter"

	echo "$rate $QBASE $ring seq" >"/sys/bus/mdev/devices/$s/vfsim/traffic"
	echo "$(bytes_of "$span")" >"/sys/bus/mdev/devices/$s/vfsim/churn_span"
	echo "$(bytes_of "$churn")" >"/sys/bus/mdev/devices/$s/vfsim/churn"
	sleep 1

	echo 0 >$T/tracing_on
	echo >$T/trace
	echo 16384 >$T/buffer_size_kb
	echo 1 >$T/events/vfio_mig/enable
	echo 1 >$T/events/iommufd_dirty/enable
	echo 0 >$T/events/iommufd_dirty/iommufd_dirty_log_mark/enable
	echo 1 >$T/tracing_on

	t_mig=$SECONDS
	t0=$(date +%s%N)
	qmp src migrate "{\"uri\": \"tcp:$DST_IP:$PORT\"}" >/dev/null
	st=none
	while :; do
		info=$(qmp src query-migrate) || break
		st=$(jq -r '.status // "none"' <<<"$info")
		elapsed=$((($(date +%s%N) - t0) / 1000000))
		printf '\r  %-10s %6d ms  RAM %6d MB  device %6d MB ' "$st" "$elapsed" \
			"$(jq -r '(.ram.transferred // 0) / 1000000 | floor' <<<"$info")" \
			"$(jq -r '(.vfio.transferred // 0) / 1000000 | floor' <<<"$info")" >&2
		case $st in completed|failed|cancelled) break ;; esac
		[ "$elapsed" -gt 900000 ] && { qmp src migrate_cancel >/dev/null; st=timeout; break; }
		sleep 0.5
	done
	echo >&2

	# Both paused: the source in postmigrate, the destination (-S) before
	# it runs; then the destination resumes, and its resume arcs are traced
	t_cmp=$SECONDS
	if [ "$st" = completed ] && mem_compare "$ram" "$ring" "$s"; then
		rec=true
		qmp dst cont >/dev/null
		sleep 1
	elif [ "$st" = completed ]; then
		qmp dst cont >/dev/null
		sleep 1
	fi
	echo 0 >$T/tracing_on
	t_trace=$SECONDS
	cat $T/trace >"$work/trace"
	echo 0 >$T/events/vfio_mig/enable
	echo 0 >$T/events/iommufd_dirty/enable
	"$MIGPHASES" summary "$work/trace" >"$work/phases"

	kill -9 "$(cat "$work/src.pid")" "$(cat "$work/dst.pid")" 2>/dev/null
	rm -f "$work/src.pid" "$work/dst.pid" "$work/src.sock" "$work/dst.sock"
	sleep 0.5
	vfsim_drop "$s"
	vfsim_drop "$d"
	echo 0 >$CONSERVATIVE

	log "setup $((t_mig - t_begin)) s, migration $((t_cmp - t_mig)) s," \
		"memory check $((t_trace - t_cmp)) s, trace and clean-up" \
		"$((SECONDS - t_trace)) s"
	[ -n "${info:-}" ] || info='{}'
	line=$(jq -c -n \
		--arg mode "$mode" --arg ram "$ram" --arg rate "$rate" \
		--arg ring "$ring" --arg ctx "$ctx" --arg churn "$churn" \
		--arg span "$span" \
		--arg link "$link" --arg feat "$feat" --arg status "$st" \
		--argjson link_bps "${bps:-0}" \
		--argjson info "$info" \
		--argjson differ "$differ" --argjson records_ok "$rec" \
		--argjson stop_us "$(ph "$work/phases" 'stop arcs')" \
		--argjson read_us "$(ph "$work/phases" 'final device read')" \
		--argjson sync_us "$(ph "$work/phases" 'final dirty sync')" \
		--argjson load_us "$(ph "$work/phases" 'device load')" \
		--argjson resume_us "$(ph "$work/phases" 'resume arcs')" \
		--argjson dev_pre "$(dev_bytes "$work/phases" "$s" PRE_COPY)" \
		--argjson dev_stop "$(dev_bytes "$work/phases" "$s" STOP_COPY)" '
		def num(x): if x == null then 0 else x end;
		{
		  scenario: {mode: $mode, ram: $ram, rate: ($rate | tonumber),
			     ring: ($ring | tonumber), ctx: $ctx, churn: $churn,
			     span: $span, link: $link, feat: $feat},
		  status: $status,
		  link_mbps: ($link_bps / 1e6),
		  qemu: {downtime_ms: $info.downtime, total_ms: $info["total-time"],
			 setup_ms: $info["setup-time"],
			 ram_precopy_bytes: $info.ram["precopy-bytes"],
			 ram_downtime_bytes: $info.ram["downtime-bytes"],
			 ram_bytes: $info.ram.transferred,
			 ram_mbps: $info.ram.mbps,
			 vfio_bytes: num($info.vfio.transferred)},
		  device: {precopy_bytes: num($dev_pre), stop_copy_bytes: num($dev_stop)},
		  kernel_us: {stop_arcs: num($stop_us), final_read: num($read_us),
			      final_dirty_sync: num($sync_us), device_load: num($load_us),
			      resume_arcs: num($resume_us)},
		  memory: {pages_differ: $differ, records_ok: $records_ok,
			   identical: ($differ == 0 and $records_ok)}
		}
		| .downtime_bytes = num(.qemu.ram_downtime_bytes) + .device.stop_copy_bytes
		| .floor_ms = (.downtime_bytes * 8 / ($link_bps + 1) * 1000
			       + (.kernel_us.stop_arcs + .kernel_us.resume_arcs) / 1000)
		| .floor_qemu_ms = (if num(.qemu.ram_mbps) > 0 then
			.downtime_bytes * 8 / (.qemu.ram_mbps * 1e6) * 1000
			+ (.kernel_us.stop_arcs + .kernel_us.resume_arcs) / 1000
			else null end)
		| .vs_floor = (if .floor_ms > 0 and .qemu.downtime_ms != null then
			.qemu.downtime_ms / .floor_ms else null end)
		| .vs_floor_qemu = (if .floor_qemu_ms != null and .floor_qemu_ms > 0
			and .qemu.downtime_ms != null then
			.qemu.downtime_ms / .floor_qemu_ms else null end)') || return 1
	echo "$line" >>"$results"
	log "$(jq -r '"\(.status): downtime \(.qemu.downtime_ms) ms, total \(.qemu.total_ms) ms, memory \(if .memory.identical then "identical" else "DIFFERS (\(.memory.pages_differ) pages)" end)"' <<<"$line")"
}

modprobe vfsim 2>/dev/null
halt_firmware "$work/halt.bin"
mkdir -p $RAMDIR && mount -t tmpfs -o huge=always,size=90% downtime-ram $RAMDIR ||
	exit 1

i=0
for sc in "${scenarios[@]}"; do
	i=$((i + 1))
	log "[$i/${#scenarios[@]}] $(date +%T)"
	run "$sc" || log "scenario failed: $sc"
done

jq -s '.' "$results" >"$out/downtime.json"
"$top/bench/downtime-report.sh" "$out/downtime.json" "$out" || exit 1
cat "$out/downtime.md"
if [ -n "$baseline" ]; then
	"$top/bench/downtime-report.sh" -c "$baseline" -t "$threshold" \
		"$out/downtime.json" || exit 1
fi
