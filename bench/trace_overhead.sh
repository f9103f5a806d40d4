#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# trace_overhead.sh - what lowdown's tracepoints cost: events off against
# events on (every vfio_mig and iommufd_dirty event), ratios from one run.
# Runs in the test VM (make bench-trace).
#
#  1. IOMMU_HWPT_GET_DIRTY_BITMAP of the software log, sparse and dense, and
#     emulated writes (each one an iommufd_dirty_log_mark), through
#     iommufd_dirty_bench --trace: paired rounds, events off then on.
#  2. A vfsim migration driven by migctl: STOP_COPY only (no fixed PRE_COPY
#     waits), 4 MiB of guest memory, a 4 MiB context, DMA running; PAIRS
#     pairs of back-to-back runs, off then on; the ratio printed is the
#     median of the pairs' on / off ratios (TCG's speed drifts, so only
#     close runs compare).
#
# Prints a table: what, off, on, on / off.

set -u

top=$(cd "$(dirname "$0")/.." && pwd)
eval "$("$top/kernel/build" --dirs)"
MIGCTL=$OBJ/lowdown/bin/migctl
BENCH=$OBJ/kselftest/lowdown/iommufd_dirty_bench
PAIRS=${PAIRS:-15}
MIB=${MIB:-256}
T=/sys/kernel/tracing
work=$(mktemp -d /tmp/trace_overhead.XXXXXX)

cleanup() {
	local f

	events 0
	for f in "$work"/*.mdev; do
		[ -f "$f" ] && echo 1 >"/sys/bus/mdev/devices/$(cat "$f")/remove"
	done
	rm -rf "$work"
}
trap cleanup EXIT

events() {
	echo "$1" >$T/events/vfio_mig/enable
	echo "$1" >$T/events/iommufd_dirty/enable
	echo "$1" >$T/tracing_on
	echo >$T/trace
}

vf() {
	local uuid types=/sys/class/mdev_bus/vfsim/mdev_supported_types

	[ -d $types ] || modprobe vfsim || exit 1
	uuid=$(cat /proc/sys/kernel/random/uuid)
	echo "$uuid" >$types/vfsim-vf/create || exit 1
	echo "$uuid" >"$work/$1.mdev"
	printf -v "$1" '%s' \
		"/dev/vfio/devices/$(ls "/sys/bus/mdev/devices/$uuid/vfio-dev")"
}

echo 512 >/proc/sys/vm/nr_hugepages
echo "# trace_overhead: events off vs on; $(nproc) CPUs, $(uname -r)"

# 1: GET_DIRTY_BITMAP and emulated writes, paired rounds inside the bench
"$BENCH" --trace "$MIB" || exit 1
echo

# 2: a migration
vf src
vf dst
ratios=() offs=() ons=()
for i in $(seq "$PAIRS"); do
	for e in 0 1; do
		events $e
		t0=$(date +%s%N)
		"$MIGCTL" migrate "$src" "$dst" -w 1024 -r 1000 -n 0 >"$work/m" 2>&1 ||
			{ cat "$work/m"; exit 1; }
		t=$((($(date +%s%N) - t0) / 1000))
		[ $e = 0 ] && off=$t || on=$t
	done
	events 0
	offs+=("$off") ons+=("$on")
	ratios+=("$(echo "$on / $off" | bc -l)")
done
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
printf '%-34s %14s %14s %10.3f\n' "migration us (median of $PAIRS pairs)" \
	"$(median "${offs[@]}")" "$(median "${ons[@]}")" "$(median "${ratios[@]}")"
echo "# pair ratios: $(printf '%.3f ' "${ratios[@]}")"
