#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# End to end: unmodified QEMU 10 migrates a VM with a vfsim device (the
# software VF, its DMA engine writing numbered records into guest memory the
# whole time) through its iommufd backend, live, over TCP, and the guest
# memory arrives whole:
#
#  1-4. lowdown: the migration completes; the source's final memory (paused
#       in postmigrate) and the destination's (started with -S, paused) are
#       identical byte for byte; the records in it have no gap and end
#       where the source's device stopped; resumed, the destination's
#       device goes on from the next number.
#  5.   the negative control, what upstream 6.12 + QEMU 10 do: vfsim without
#       DMA logging (no dirty tracking anywhere, migration forced with
#       enable-migration=on): the migration completes and the memory
#       check must see the device's writes lost.
#  6-7. the destination QEMU killed mid-migration: the source runs on and
#       its device keeps writing; a second migration to a new destination
#       then completes with identical memory.
#  8-9. QEMU 10's migration features: the device state over multifd
#       channels (x-migration-multifd-transfer=on), and switchover-ack (the
#       destination acks once the INITIAL image is loaded, and only then
#       may the source stop): each completes with identical memory, records
#       without a gap, and the same device context on both sides (vfsim's
#       ctx_crc, once the destination runs); the downtime is printed
#       beside the default path's (test 1).
#
# The guests run no OS: a 3-byte firmware halts the vCPU, so the memory map
# never changes under the device (halt_firmware in qemu_lib.sh).
#
# Needs QEMU >= 10, migctl and qmp (MIGCTL=, QMP=).  Prints KTAP and a
# "# Totals:" line.

set -u

MIGCTL=${MIGCTL:-migctl}
QMP=${QMP:-qmp}
MEM=${MEM:-128M}
PORT=${PORT:-4480}
QBASE=0x1000000
QPAGES=256
work=$(mktemp -d /tmp/qemu_vfsim.XXXXXX)
ntests=9
. "$(dirname "$0")/ktap.sh"
. "$(dirname "$0")/qemu_lib.sh"

trap 'qemu_reap -9' EXIT

halt_firmware "$work/halt.bin"

sysfs() { echo "/sys/bus/mdev/devices/$1/vfsim/$2"; }

# pair NAME [DMA_LOGGING]: a source and a destination vfsim, a 256 KiB
# context changing at 1 MB/s; sets ${NAME}_src, ${NAME}_dst (uuids)
pair() {
	local s d

	s=$(vfsim_create) && d=$(vfsim_create) || return 1
	echo "${2:-1}" >"$(sysfs "$s" dma_logging)" &&
		echo "${2:-1}" >"$(sysfs "$d" dma_logging)" &&
		echo 262144 >"$(sysfs "$s" ctx_size)" &&
		echo 262144 >"$(sysfs "$d" ctx_size)" || return 1
	printf -v "${1}_src" '%s' "$s"
	printf -v "${1}_dst" '%s' "$d"
}

# vm NAME UUID [ARGS...]: QEMU with the vfsim, the halting firmware
vm() {
	local name=$1 uuid=$2

	shift 2
	# shellcheck disable=SC2046
	start_qemu "$name" -bios "$work/halt.bin" $(mdev_args "$uuid") "$@"
}

# traffic UUID: the DMA engine on: 500 records/s into a 256-page ring
traffic() {
	echo "500 $QBASE $QPAGES seq" >"$(sysfs "$1" traffic)" &&
		echo 1000000 >"$(sysfs "$1" churn)"
}

# records NAME SEQ: migctl's check of the records in NAME's dump
records() {
	"$MIGCTL" records "$work/$1.mem" -b $QBASE -w $QPAGES -x "$2" >"$work/rec" 2>&1
	local rc=$?

	sed 's/^/# /' "$work/rec"
	return $rc
}

seq_of() { cat "$(sysfs "$1" seq)"; }

echo "TAP version 13"
echo "1..$ntests"

# 1-4: lowdown
rc=1
if pair a; then
	vm asrc "$a_src" && vm adst "$a_dst" -S -incoming "tcp:127.0.0.1:$PORT" &&
		traffic "$a_src" && sleep 1 && migrate asrc adst "$PORT"
	rc=$?
fi
echo "# source device: records $(cat "$(sysfs "$a_src" records)")," \
	"DMA errors $(cat "$(sysfs "$a_src" dma_errors)")"
result $rc "migration_completed"

[ "$(status_of asrc)" = postmigrate ] && memory_identical asrc adst
result $? "memory_identical"

last=$(seq_of "$a_src")
records adst "$last"
result $? "records_without_gap"

rc=1
if "$QMP" "$work/adst.sock" cont >/dev/null; then
	sleep 1
	now=$(seq_of "$a_dst")
	echo "# destination device: next record $now, the source stopped before $last"
	[ "$now" -gt "$last" ]
	rc=$?
fi
result $rc "destination_continues"

# 5: the negative control
rc=1
if pair b 0; then
	vm bsrc "$b_src" && vm bdst "$b_dst" -S -incoming "tcp:127.0.0.1:$((PORT + 1))" &&
		traffic "$b_src" && sleep 1 && migrate bsrc bdst $((PORT + 1)) &&
		dump bsrc && dump bdst
	rc=$?
fi
if [ $rc = 0 ]; then
	npages=$(differ bsrc bdst)
	echo "# without dirty tracking, pages that differ: $npages"
	! records bdst "$(seq_of "$b_src")"
	lost=$?
	[ "$npages" -gt 0 ] && [ $lost = 0 ]
	rc=$?
fi
result $rc "negative_control_without_tracking_loses_writes"

# 6-7: the destination killed mid-migration, then a second migration.
# 1 MB/s makes the first take seconds; the kill comes once device data flows
rc=1
if pair c; then
	vm csrc "$c_src" && vm cdst1 "$c_dst" -S -incoming "tcp:127.0.0.1:$((PORT + 2))" &&
		traffic "$c_src" && sleep 1 &&
		"$QMP" "$work/csrc.sock" migrate-set-parameters '{"max-bandwidth": 1048576}' >/dev/null &&
		"$QMP" "$work/csrc.sock" migrate "{\"uri\": \"tcp:127.0.0.1:$((PORT + 2))\"}" >/dev/null
	rc=$?
fi
if [ $rc = 0 ]; then
	for _ in $(seq 100); do
		[ "$("$QMP" "$work/csrc.sock" query-migrate | jq -r '.vfio.transferred // 0')" -gt 0 ] && break
		sleep 0.1
	done
	kill -9 "$(cat "$work/cdst1.pid")"
	rm -f "$work/cdst1.pid"
	for _ in $(seq 100); do
		state=$("$QMP" "$work/csrc.sock" query-migrate | jq -r .status)
		[ "$state" = failed ] && break
		sleep 0.1
	done
	s1=$(seq_of "$c_src")
	sleep 1
	s2=$(seq_of "$c_src")
	echo "# after the kill: migration $state, source $(status_of csrc)," \
		"its device wrote records $s1 -> $s2," \
		"DMA errors $(cat "$(sysfs "$c_src" dma_errors)")"
	[ "$state" = failed ] && [ "$(status_of csrc)" = running ] && [ "$s2" -gt "$s1" ]
	rc=$?
fi
result $rc "destination_killed_source_runs_on"

rc=1
if [ -n "${c_dst:-}" ]; then
	# A fresh destination device: the killed QEMU's was mid-RESUMING
	d2=$(vfsim_create) && echo 262144 >"$(sysfs "$d2" ctx_size)" &&
		vm cdst2 "$d2" -S -incoming "tcp:127.0.0.1:$((PORT + 3))" &&
		"$QMP" "$work/csrc.sock" migrate-set-parameters '{"max-bandwidth": 1073741824}' >/dev/null &&
		migrate csrc cdst2 $((PORT + 3)) && dump csrc && dump cdst2
	rc=$?
	if [ $rc = 0 ]; then
		npages=$(differ csrc cdst2)
		echo "# second migration: pages that differ: $npages"
		records cdst2 "$(seq_of "$c_src")" && [ "$npages" = 0 ]
		rc=$?
	fi
fi
result $rc "second_migration_completes_whole"

# feature NAME CAPS [VFIO PROPERTY]: a migration with the capabilities CAPS
# (a QMP list) on both sides, the destination's set before it listens
feature() {
	local name=$1 caps=$2 port=$3 prop=${4:-} s d

	pair "$name" || return 1
	s=${name}_src d=${name}_dst
	vm "${name}s" "${!s}" ${prop:+-global "vfio-pci.$prop"} &&
		vm "${name}d" "${!d}" ${prop:+-global "vfio-pci.$prop"} -S -incoming defer &&
		"$QMP" "$work/${name}s.sock" migrate-set-capabilities "{\"capabilities\": $caps}" >/dev/null &&
		"$QMP" "$work/${name}d.sock" migrate-set-capabilities "{\"capabilities\": $caps}" >/dev/null &&
		"$QMP" "$work/${name}d.sock" migrate-incoming "{\"uri\": \"tcp:127.0.0.1:$port\"}" >/dev/null &&
		traffic "${!s}" && sleep 1 && migrate "${name}s" "${name}d" "$port" || return 1
	[ "$(status_of "${name}s")" = postmigrate ] && memory_identical "${name}s" "${name}d" &&
		records "${name}d" "$(seq_of "${!s}")" || return 1
	# The destination's device takes the staged context when it leaves
	# RESUMING, which QEMU does as the guest starts; it does not churn
	"$QMP" "$work/${name}d.sock" cont >/dev/null && sleep 1 || return 1
	echo "# $name: device context crc $(cat "$(sysfs "${!s}" ctx_crc)") -> $(cat "$(sysfs "${!d}" ctx_crc)")"
	[ "$(cat "$(sysfs "${!s}" ctx_crc)")" = "$(cat "$(sysfs "${!d}" ctx_crc)")" ]
}

# 8: the device state over multifd channels
feature mf '[{"capability": "multifd", "state": true}]' $((PORT + 4)) \
	x-migration-multifd-transfer=on
result $? "multifd_device_state_identical"

# 9: switchover-ack (needs the return path)
feature sa '[{"capability": "return-path", "state": true}, {"capability": "switchover-ack", "state": true}]' \
	$((PORT + 5))
result $? "switchover_ack_identical"

totals
