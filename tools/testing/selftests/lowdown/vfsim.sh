#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vfsim, the software VF, driven through the uAPI by lowdown's migctl (no
# QEMU): every state arc; its DMA log exactly the pages its records landed
# in; migrations source -> destination with the DMA engine running and the
# context changing (guest memory identical, records without a gap, device
# state identical, the destination going on with the next record number);
# the limiter on and off; the loss without DMA logging (the negative
# control); streams corrupted, cut or from another configuration refused
# with the source running on; the capability switches.
#
# Needs migctl (MIGCTL=path, or in PATH).  Prints KTAP and a kselftest
# "# Totals:" line.

set -u

MIGCTL=${MIGCTL:-migctl}
TYPE=/sys/class/mdev_bus/vfsim/mdev_supported_types/vfsim-vf
work=$(mktemp -d /tmp/vfsim.XXXXXX)
ntests=12
. "$(dirname "$0")/ktap.sh"


cleanup() {
	local f

	for f in "$work"/*.mdev; do
		[ -f "$f" ] && echo 1 >"/sys/bus/mdev/devices/$(cat "$f")/remove"
	done
	rm -rf "$work"
}
trap cleanup EXIT

# vf NAME: create a vfsim instance; sets $NAME (cdev) and ${NAME}_sys
vf() {
	local uuid cdev

	uuid=$(cat /proc/sys/kernel/random/uuid)
	echo "$uuid" >"$TYPE/create" || return 1
	echo "$uuid" >"$work/$1.mdev"
	cdev=$(ls "/sys/bus/mdev/devices/$uuid/vfio-dev")
	printf -v "$1" '%s' "/dev/vfio/devices/$cdev"
	printf -v "${1}_sys" '%s' "/sys/bus/mdev/devices/$uuid"
}

# drop NAME: remove the instance
drop() {
	echo 1 >"/sys/bus/mdev/devices/$(cat "$work/$1.mdev")/remove"
	rm -f "$work/$1.mdev"
}

# run LOG ARGS...: migctl, output kept in $work/LOG and shown as comments;
# its exit status
run() {
	local log=$work/$1 rc

	shift
	"$MIGCTL" "$@" >"$log" 2>&1
	rc=$?
	sed 's/^/# /' "$log"
	return $rc
}

# field LOG REGEX: the first number after REGEX in LOG
field() {
	sed -n "s/.*$2 *\([0-9][0-9]*\).*/\1/p" "$work/$1" | head -n1
}

echo "TAP version 13"
echo "1..$ntests"
if [ ! -d "$TYPE" ] && ! modprobe vfsim; then
	echo "# vfsim is not available"
fi

vf src && vf dst || { echo "Bail out! cannot create vfsim instances"; exit 1; }

# 1: all arcs between the six states a data fd can leave
run arcs arcs "$src"
rc=$?
[ $rc = 0 ] && grep -q "arcs: 34 done, 2 refused" "$work/arcs"
result $? "every_arc"

# 2: the DMA log holds exactly the pages the records landed in
run dirty dirty "$src" -w 512 -r 3000 -t 500
rc=$?
[ $rc = 0 ] && [ "$(field dirty 'dirty:')" -gt 100 ]
result $? "dma_log_exact"

# 3: STOP_COPY only, DMA running until the stop
run sc migrate "$src" "$dst" -n 0 -w 1024 -r 3000 -t 300
rc=$?
[ $rc = 0 ] && grep -q "memory: 0 pages differ" "$work/sc" &&
	grep -q "device: state identical" "$work/sc"
result $? "stop_copy_migration"

# 4: PRE_COPY with the context changing in a 16 KiB hot set, then the
# destination runs on.  The whole context goes once, in the INITIAL image;
# after it, deltas and the FINAL carry at most the hot set's 4 blocks each
# (with their TLV and record headers) and the device registers: the churn
# touches nothing else.  Over the whole context, each 250 ms round would
# dirty most of its 1,024 blocks
echo 2000000 >"$src_sys/vfsim/churn"
echo 16384 >"$src_sys/vfsim/churn_span"
run pc migrate "$src" "$dst" -n 4 -w 1024 -r 3000 -t 250 -R
rc=$?
echo 0 >"$src_sys/vfsim/churn"
echo 0 >"$src_sys/vfsim/churn_span"
[ $rc = 0 ] && [ "$(field pc 'precopy')" -gt 4194304 ] &&
	[ "$(field pc 'precopy')" -lt 8388608 ] &&
	[ "$(field pc 'stop-copy')" -lt 20480 ] &&
	grep -q "memory: 0 pages differ" "$work/pc"
result $? "precopy_migration_and_resume"

# 5: the limiter on and off, a 4 MiB context changing at 10 MB/s: both
# migrate; the bytes each sends in PRE_COPY and STOP_COPY are printed.
# hot_pct 2: the reader here drains far faster than the context churns
lim=$(ls -d "$src_sys"/vfio-dev/vfio*/migration)
echo 2 >"$lim/hot_pct"
ok=0
for on in 1 0; do
	echo $on >"$lim/limiter"
	echo 10000000 >"$src_sys/vfsim/churn"
	run lim$on migrate "$src" "$dst" -n 20 -w 256 -r 1000 -t 50 || ok=1
	echo 0 >"$src_sys/vfsim/churn"
	echo "# limiter $on: precopy $(field lim$on 'precopy') bytes," \
		"stop-copy $(field lim$on 'stop-copy') bytes," \
		"images $(cat "$lim/images"), holds $(cat "$lim/holds")"
done
echo 1 >"$lim/limiter"
echo 50 >"$lim/hot_pct"
result $ok "limiter_on_and_off"

# 6: random and hot-set DMA patterns.  The context does not change here,
# so MIG_DATA_SIZE at the end of PRE_COPY is the FINAL delta's headers
# only, not the whole context (QEMU waits for it to fit the downtime)
run rnd migrate "$src" "$dst" -n 2 -w 512 -r 3000 -t 200 -p random &&
	run hot migrate "$src" "$dst" -n 2 -w 512 -r 3000 -t 200 -p hot &&
	[ "$(field rnd 'end of pre-copy')" -lt 4096 ] &&
	[ "$(field rnd 'data-size: running')" -gt 4194304 ]
result $? "random_and_hot_patterns"

# 7: negative control: without DMA logging the device's writes are lost
run nolog migrate "$src" "$dst" -n 2 -w 1024 -r 3000 -t 250 -L
rc=$?
[ $rc = 1 ] && [ "$(field nolog 'memory:')" -gt 0 ]
result $? "no_dma_log_loses_writes"

# 8, 9: a corrupted and a cut stream are refused; the source runs on
run bad migrate "$src" "$dst" -n 2 -w 256 -r 1000 -t 150 -c 40000
rc=$?
[ $rc = 2 ] && grep -q "refused" "$work/bad" &&
	grep -q "destination: state 4" "$work/bad" &&
	[ "$(sed -n 's/.*records [0-9]* -> \([0-9]*\)/\1/p' "$work/bad")" -gt \
	  "$(sed -n 's/.*records \([0-9]*\) -> .*/\1/p' "$work/bad")" ]
result $? "corrupt_stream_refused"
run cut migrate "$src" "$dst" -n 1 -w 256 -r 1000 -t 150 -k 9000
rc=$?
[ $rc = 2 ] && grep -q "refused it leaving RESUMING" "$work/cut"
result $? "cut_stream_refused"

# 10: a destination with another context size refuses the stream
drop dst && vf dst && echo $((8 << 20)) >"$dst_sys/vfsim/ctx_size"
run cfg migrate "$src" "$dst" -n 0 -w 256 -r 1000 -t 100
[ $? = 2 ] && grep -q "refused" "$work/cfg"
result $? "other_configuration_refused"
drop dst && vf dst

# 11, 12: the capability switches
echo 0 >"$src_sys/vfsim/precopy"
run nopre migrate "$src" "$dst" -n 2 -w 256 -r 1000 -t 100
rc=$?
echo 1 >"$src_sys/vfsim/precopy"
[ $rc = 2 ] && grep -q "set state 6" "$work/nopre" &&
	run nopre0 migrate "$src" "$dst" -n 0 -w 256 -r 1000 -t 100
result $? "precopy_switched_off"
echo 0 >"$src_sys/vfsim/dma_logging"
run nodl dirty "$src" -w 256 -r 1000 -t 100
rc=$?
echo 1 >"$src_sys/vfsim/dma_logging"
[ $rc = 2 ] && grep -q "DMA_LOGGING_START" "$work/nodl"
result $? "dma_logging_switched_off"

totals
