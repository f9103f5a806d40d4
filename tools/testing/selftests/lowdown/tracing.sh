#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# lowdown's tracepoints (include/trace/events/vfio_mig.h, iommufd_dirty.h)
# and the tools that read them (tools/bpftrace, tools/perf):
#
#  - every event has the fields Documentation/lowdown/tracing.rst lists, and
#    the page lists every field the kernel has;
#  - with the events off a migration leaves nothing in the trace;
#  - a vfsim migration (lowdown's PRE_COPY engine) driven by migctl: the
#    state changes, the bytes read and written equal the records the
#    engine made and loaded and what migctl moved, the DMA log reports'
#    pages equal the pages migctl copied, the limiter's decisions equal its
#    sysfs counters;
#  - an mtty migration between two QEMU 10 (the upstream sample, a driver
#    lowdown did not write): state changes, data bytes out = bytes in,
#    MIG_DATA_SIZE, PRECOPY_INFO and DMA logging, all from vfio core;
#  - iommufd dirty reads through the selftest mock: the IOMMU's and the
#    software log's shares counted exactly;
#  - migphases.bt, dirtyrate.bt, precopy.bt and tools/perf/migphases.sh each
#    run on a real migration and print their summary with the right numbers.
#
# Needs migctl and qmp (MIGCTL=, QMP=), bpftrace, perf, QEMU >= 10, and
# LOWDOWN_TOP (the repository).  Prints KTAP and a "# Totals:" line.

set -u

MIGCTL=${MIGCTL:-migctl}
QMP=${QMP:-qmp}
MEM=${MEM:-256M}
PORT=${PORT:-4460}
TOP=${LOWDOWN_TOP:?set LOWDOWN_TOP to the repository}
T=/sys/kernel/tracing
KSFT=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/tracing.XXXXXX)
ntests=10
. "$(dirname "$0")/ktap.sh"
. "$(dirname "$0")/qemu_lib.sh"

cleanup() {
	events_off
	qemu_reap
}
trap cleanup EXIT

events_off() {
	echo 0 >$T/events/vfio_mig/enable
	echo 0 >$T/events/iommufd_dirty/enable
	echo 0 >$T/tracing_on
}

# events_on SYSTEM...: only those systems' events, an empty buffer
events_on() {
	local s

	events_off
	echo >$T/trace
	echo 8192 >$T/buffer_size_kb
	for s in "$@"; do
		echo 1 >"$T/events/$s/enable"
	done
	echo 1 >$T/tracing_on
}

# snap: the trace so far into $work/trace
snap() {
	cat $T/trace >"$work/trace"
}

# q MODE EVENT KEY [KEY=VALUE...]: over the EVENT lines of $work/trace whose
# fields include every KEY=VALUE given, MODE is count (lines), sum (of KEY),
# bytes (the sum of KEY's positive values: a read's ret, errors left out),
# first or last (KEY's value)
q() {
	awk -v mode="$1" -v ev="$2:" -v key="$3" -v conds="${*:4}" '
	BEGIN { nc = split(conds, c, " ") }
	{
		at = 0
		for (i = 1; i <= NF; i++)
			if ($i == ev) { at = i; break }
		if (!at)
			next
		for (k = 1; k <= nc; k++) {
			found = 0
			for (j = at + 1; j <= NF; j++)
				if ($j == c[k]) found = 1
			if (!found)
				next
		}
		v = ""
		for (j = at + 1; j <= NF; j++)
			if (index($j, key "=") == 1)
				v = substr($j, length(key) + 2)
		if (mode == "bytes" && v + 0 <= 0)
			next
		n++
		s += v
		if (n == 1)
			first = v
		last = v
	}
	END {
		if (mode == "count") print n + 0
		else if (mode == "sum" || mode == "bytes") printf "%d\n", s
		else if (mode == "first") print first
		else print last
	}' "$work/trace"
}

# expect NAME GOT WANT: compare, print both
expect() {
	echo "#   $1: $2 (want $3)"
	[ "$2" = "$3" ]
}

# atleast NAME GOT MIN
atleast() {
	echo "#   $1: $2 (want >= $3)"
	[ "${2:-0}" -ge "$3" ]
}

# between NAME GOT MIN MAX
between() {
	echo "#   $1: $2 (want $3..$4)"
	[ "${2:-0}" -ge "$3" ] && [ "${2:-0}" -le "$4" ]
}

# vf NAME: a vfsim instance; sets $NAME (uuid) and ${NAME}_cdev
vf() {
	local uuid

	uuid=$(vfsim_create) || return 1
	printf -v "$1" '%s' "$uuid"
	printf -v "${1}_cdev" '%s' \
		"/dev/vfio/devices/$(ls "/sys/bus/mdev/devices/$uuid/vfio-dev")"
}

# migctl_run LOG: a vfsim PRE_COPY migration src -> dst with DMA and the
# context changing; migctl's output in $work/LOG
migctl_run() {
	"$MIGCTL" migrate "$src_cdev" "$dst_cdev" -w 256 -r 1000 -n 10 -t 50 \
		>"$work/$1" 2>&1
}

# mfield LOG REGEX: the first number after REGEX in migctl's output LOG
mfield() {
	sed -n "s/.*$2 *\([0-9][0-9]*\).*/\1/p" "$work/$1" | head -n1
}

echo "TAP version 13"
echo "1..$ntests"

# 1: the events and their fields, as documented
doc=$TOP/Documentation/lowdown/tracing.rst
rc=0
for f in $T/events/vfio_mig/*/format $T/events/iommufd_dirty/*/format; do
	ev=$(basename "$(dirname "$f")")
	fields=$(sed -n 's/^\tfield:.* \([a-z_]*\)\(\[[0-9]*\]\)\{0,1\};.*/\1/p' "$f" |
		grep -v '^common_')
	grep -q "^$ev\$" "$doc" 2>/dev/null ||
		{ echo "# $ev: not in tracing.rst"; rc=1; }
	for fld in $fields; do
		# The event's section lists the field as ``name``
		awk -v ev="$ev" -v fld="\`\`$fld\`\`" '
			$0 == ev { in_ev = 1; next }
			in_ev && /^(vfio|iommufd)_[a-z_]*$/ { in_ev = 0 }
			in_ev && index($0, fld) { found = 1 }
			END { exit !found }' "$doc" ||
			{ echo "# $ev: field $fld not documented"; rc=1; }
	done
	echo "# $ev:" $fields
done
n_ev=$(ls -d $T/events/vfio_mig/*/ $T/events/iommufd_dirty/*/ | wc -l)
atleast events "$n_ev" 15 || rc=1
result $rc "events_and_fields_documented"

vf src && vf dst || { echo "Bail out! cannot create vfsim instances"; exit 1; }
lim=$(ls -d /sys/bus/mdev/devices/"$src"/vfio-dev/vfio*/migration)

# 2: events off: nothing recorded, and the migration is the same
events_off
echo >$T/trace
echo 1 >$T/tracing_on
migctl_run off
rc=$?
snap
echo 0 >$T/tracing_on
got=$(grep -cE 'vfio_mig|vfio_dma|iommufd_dirty' "$work/trace")
expect "events with tracing off" "$got" 0 && [ $rc = 0 ]
result $? "events_off_record_nothing"

# 3: a vfsim migration through the engine, everything accounted for
echo 2 >"$lim/hot_pct"
echo 10000000 >/sys/bus/mdev/devices/"$src"/vfsim/churn
events_on vfio_mig
migctl_run on
rc=$?
snap
echo 0 >/sys/bus/mdev/devices/"$src"/vfsim/churn
sed 's/^/# migctl: /' "$work/on"
if [ $rc = 0 ]; then
	pre=$(mfield on 'precopy') stop=$(mfield on 'stop-copy')
	pages=$(mfield on 'pages:')
	expect "src RUNNING->PRE_COPY opened a data fd" \
		"$(q count vfio_mig_set_state ns dev=$src from=RUNNING to=PRE_COPY ret=0 data_fd=1)" 1 &&
	expect "src PRE_COPY->STOP_COPY" \
		"$(q count vfio_mig_set_state ns dev=$src from=PRE_COPY to=STOP_COPY ret=0 data_fd=0)" 1 &&
	expect "dst RUNNING->RESUMING opened a data fd" \
		"$(q count vfio_mig_set_state ns dev=$dst from=RUNNING to=RESUMING ret=0 data_fd=1)" 1 &&
	expect "dst RESUMING->STOP" \
		"$(q count vfio_mig_set_state ns dev=$dst from=RESUMING to=STOP ret=0)" 1 &&
	expect "src bytes read = bytes of records saved" \
		"$(q bytes vfio_mig_read ret dev=$src)" \
		"$(q sum vfio_mig_engine_record bytes dev=$src save)" &&
	expect "dst bytes written = migctl's precopy + stop-copy" \
		"$(q bytes vfio_mig_write ret dev=$dst)" $((pre + stop)) &&
	expect "dst bytes written = bytes of records loaded" \
		"$(q bytes vfio_mig_write ret dev=$dst)" \
		"$(q sum vfio_mig_engine_record bytes dev=$dst load)" &&
	init=$(q sum vfio_mig_engine_record bytes dev=$src save type=INITIAL) &&
	nini=$(q count vfio_mig_engine_record bytes dev=$src save type=INITIAL) &&
	between "first PRECOPY_INFO initial = the INITIAL's records, a header per half record at most over" \
		"$(q first vfio_mig_precopy_info initial dev=$src)" \
		"$init" $((init + 32 * (nini + 1))) &&
	expect "DMA log report pages = pages migctl copied" \
		"$(q sum vfio_dma_log_report pages dev=$src ret=0)" "$pages" &&
	expect "DMA log started once over migctl's 1 MiB" \
		"$(q count vfio_dma_log_start ns dev=$src ranges=1 bytes=1048576 page_size=4096 ret=0)" 1 &&
	expect "engine arcs = arcs asked of vfio_mig_get_next_state" \
		"$(q count vfio_mig_engine_arc ns dev=$src)" \
		"$(q count vfio_mig_arc next dev=$src)" &&
	expect "limiter holds = sysfs holds" \
		"$(q count vfio_mig_engine_limiter dirty dev=$src produce=0)" \
		"$(cat "$lim/holds")" &&
	expect "INITIAL + DELTA images = sysfs images (the session's)" \
		$(($(q count vfio_mig_engine_record bytes dev=$src save type=DELTA first=1) + 1)) \
		"$(cat "$lim/images")" &&
	atleast "deltas the limiter let go" \
		"$(q count vfio_mig_engine_limiter dirty dev=$src produce=1)" \
		"$(q count vfio_mig_engine_record bytes dev=$src save type=DELTA first=1)" &&
	atleast "limiter decisions" \
		"$(q count vfio_mig_engine_limiter dirty dev=$src)" 2
	rc=$?
fi
echo 50 >"$lim/hot_pct"
result $rc "vfsim_migration_events"

# 4: mtty, the upstream sample, migrated by QEMU 10: vfio core's events
events_on vfio_mig
rc=1
if m1=$(mtty_create) && m2=$(mtty_create); then
	# shellcheck disable=SC2046
	start_qemu msrc $(mdev_args "$m1") &&
		start_qemu mdst $(mdev_args "$m2") -incoming "tcp:127.0.0.1:$PORT" &&
		migrate msrc mdst "$PORT" && [ "$(status_of mdst)" = running ]
	rc=$?
fi
snap
if [ $rc = 0 ]; then
	expect "src left RUNNING with a data fd" \
		"$(q count vfio_mig_set_state ns dev=$m1 from=RUNNING ret=0 data_fd=1)" 1 &&
	expect "dst left RESUMING" \
		"$(q count vfio_mig_set_state ns dev=$m2 from=RESUMING ret=0)" 1 &&
	expect "dst ends RUNNING" \
		"$(q last vfio_mig_set_state to dev=$m2 ret=0)" RUNNING &&
	expect "bytes read on src = bytes written on dst" \
		"$(q bytes vfio_mig_read ret dev=$m1)" "$(q bytes vfio_mig_write ret dev=$m2)" &&
	atleast "bytes read on src" "$(q bytes vfio_mig_read ret dev=$m1)" 1 &&
	atleast "MIG_DATA_SIZE answered" "$(q count vfio_mig_data_size bytes dev=$m1 ret=0)" 1 &&
	atleast "PRECOPY_INFO answered" "$(q count vfio_mig_precopy_info initial dev=$m1 ret=0)" 1 &&
	expect "DMA logging started" "$(q count vfio_dma_log_start ns dev=$m1 ret=0)" 1 &&
	atleast "DMA log reports" "$(q count vfio_dma_log_report ns dev=$m1 ret=0)" 1 &&
	atleast "mtty's arcs" "$(q count vfio_mig_arc next dev=$m1)" 2
	rc=$?
fi
result $rc "mtty_via_qemu_events"

# 5: iommufd reads through the mock: the IOMMU's share and the log's, exact.
# The mock dirties every other 2 KiB IO page of a 2 MiB area (512 bits);
# an emulated write to its last 4 KiB page adds the one bit not set yet
events_on iommufd_dirty
(cd "$KSFT" && ./iommufd_dirty -t union_with_emulated_writes \
	-t driver_reports_exact >"$work/ksft" 2>&1)
rc=$?
snap
grep -E '^(ok|not ok)' "$work/ksft" | sed 's/^/# iommufd_dirty: /'
if [ $rc = 0 ]; then
	expect "IOMMU tracking on" \
		"$(q count iommufd_dirty_tracking ret enable=1 hw=1 ret=0)" 1 &&
	expect "software-only tracking on" \
		"$(q count iommufd_dirty_tracking ret enable=1 hw=0 ret=0)" 1 &&
	expect "union read: IOMMU pages" \
		"$(q first iommufd_dirty_read hw_pages page_size=2048)" 512 &&
	expect "union read: software pages" \
		"$(q first iommufd_dirty_read sw_pages page_size=2048)" 1 &&
	expect "union read: pages" \
		"$(q first iommufd_dirty_read pages page_size=2048)" 513 &&
	expect "emulated write marked" \
		"$(q count iommufd_dirty_log_mark length source=write)" 1 &&
	expect "driver reports marked" \
		"$(q count iommufd_dirty_log_mark length source=report)" 64 &&
	expect "report read: no IOMMU pages" \
		"$(q first iommufd_dirty_read hw_pages page_size=4096)" 0 &&
	atleast "report read: software pages" \
		"$(q first iommufd_dirty_read sw_pages page_size=4096)" 64
	rc=$?
fi
result $rc "iommufd_read_shares_exact"
events_off

# bt SCRIPT LOG: run a bpftrace tool over a vfsim migration; its output in
# $work/LOG, migctl's in $work/LOG.m
bt() {
	local script=$TOP/tools/bpftrace/$1.bt rc

	echo 10000000 >/sys/bus/mdev/devices/"$src"/vfsim/churn
	timeout 300 bpftrace -c "$MIGCTL migrate $src_cdev $dst_cdev -w 256 -r 1000 -n 10 -t 50" \
		"$script" >"$work/$2" 2>"$work/$2.err"
	rc=$?
	echo 0 >/sys/bus/mdev/devices/"$src"/vfsim/churn
	grep -E '^(bytes|pages|memory|records|device):' "$work/$2" >"$work/$2.m"
	grep -vE '^(bytes|pages|memory|records|device):' "$work/$2" |
		grep -v '^$' | sed "s/^/# $1: /"
	[ $rc = 0 ] || sed "s/^/# $1 stderr: /" "$work/$2.err"
	grep -q '^memory: 0 pages differ' "$work/$2.m" && return $rc
	echo "# $1: the migration under it failed"
	sed "s/^/# /" "$work/$2.m"
	return 1
}

# 6: migphases.bt: the timeline and the downtime breakdown
bt migphases mp
rc=$?
if [ $rc = 0 ]; then
	grep -qE "^ *[0-9]+\.[0-9]+ +$src +PRE_COPY +-> STOP_COPY " "$work/mp" &&
		grep -q '^Downtime breakdown' "$work/mp" &&
		atleast "stop arcs" "$(sed -n 's/^  stop arcs .* us  \([0-9]*\) arcs/\1/p' "$work/mp")" 1 &&
		atleast "resume arcs" "$(sed -n 's/^  resume arcs .* us  \([0-9]*\) arcs/\1/p' "$work/mp")" 1 &&
		expect "PRE_COPY bytes = migctl's" \
			"$(sed -n "s/^@data_bytes\[$src, PRE_COPY\]: //p" "$work/mp")" \
			"$(mfield mp.m precopy)"
	rc=$?
fi
result $rc "bpftrace_migphases"

# 7: dirtyrate.bt: reads, pages, latency
bt dirtyrate dr
rc=$?
if [ $rc = 0 ]; then
	expect "pages found = pages migctl copied" \
		"$(sed -n 's/^@pages\[vfio\]: //p' "$work/dr")" "$(mfield dr.m 'pages:')" &&
		atleast "reads" "$(sed -n 's/^@reads\[vfio\]: //p' "$work/dr")" 2 &&
		grep -q '^@read_us\[vfio\]:' "$work/dr" &&
		grep -q '^@pages_per_read\[vfio\]:' "$work/dr"
	rc=$?
fi
result $rc "bpftrace_dirtyrate"

# 8: precopy.bt: images, bytes, the limiter
echo 2 >"$lim/hot_pct"
bt precopy pc
rc=$?
echo 50 >"$lim/hot_pct"
if [ $rc = 0 ]; then
	lp=$(sed -n "s/^@limiter\[$src, produce\]: //p" "$work/pc")
	lh=$(sed -n "s/^@limiter\[$src, hold\]: //p" "$work/pc")
	expect "INITIAL images" \
		"$(sed -n "s/^@images\[$src, INITIAL\]: //p" "$work/pc")" 1 &&
		expect "PRE_COPY bytes read = migctl's" \
			"$(sed -n "s/^@read_bytes\[$src, PRE_COPY\]: //p" "$work/pc")" \
			"$(mfield pc.m precopy)" &&
		atleast "limiter decisions (produce and hold)" \
			"$((${lp:-0} + ${lh:-0}))" 1 &&
		grep -q "^@verdicts\[$src, " "$work/pc"
	rc=$?
fi
result $rc "bpftrace_precopy"

# 9: the perf recipe: record, perf script, the same summary
echo 10000000 >/sys/bus/mdev/devices/"$src"/vfsim/churn
(cd "$work" && "$TOP/tools/perf/migphases.sh" run "$MIGCTL" migrate \
	"$src_cdev" "$dst_cdev" -w 256 -r 1000 -n 10 -t 50 >"$work/perf" 2>&1)
rc=$?
echo 0 >/sys/bus/mdev/devices/"$src"/vfsim/churn
sed 's/^/# perf: /' "$work/perf"
if [ $rc = 0 ]; then
	grep -qE "^ *[0-9.]+ +$src +PRE_COPY +-> STOP_COPY " "$work/perf" &&
		atleast "stop arcs" "$(sed -n 's/^  stop arcs .* us  \([0-9]*\) arcs/\1/p' "$work/perf")" 1 &&
		expect "vfio pages = pages migctl copied" \
			"$(sed -n 's/^  vfio *[0-9]* reads *\([0-9]*\) pages.*/\1/p' "$work/perf")" \
			"$(mfield perf 'pages:')" &&
		expect "PRE_COPY bytes = migctl's" \
			"$(awk -v d="$src" '$1 == d && $2 == "PRE_COPY" { print $3 }' "$work/perf")" \
			"$(mfield perf precopy)"
	rc=$?
fi
result $rc "perf_migphases"

# 10: events on, the driver's data file is behind the tracing proxy; off,
# it is the driver's own (checked through the fd's link while open)
rc=1
events_on vfio_mig
"$MIGCTL" migrate "$src_cdev" "$dst_cdev" -w 256 -n 100 -t 20 >/dev/null 2>&1 &
pid=$!
on=
for _ in $(seq 100); do
	on=$(ls -l /proc/$pid/fd 2>/dev/null | grep -o '\[vfio-mig-trace\]' | head -n1)
	[ -n "$on" ] && break
	sleep 0.05
done
wait $pid
events_off
"$MIGCTL" migrate "$src_cdev" "$dst_cdev" -w 256 -n 100 -t 20 >/dev/null 2>&1 &
pid=$!
off=
for _ in $(seq 40); do
	off+=$(ls -l /proc/$pid/fd 2>/dev/null | grep -o '\[vfio-mig-trace\]' | head -n1)
	sleep 0.05
done
wait $pid
expect "proxied with events on" "$on" "[vfio-mig-trace]" &&
	expect "proxied with events off" "$off" ""
result $? "data_file_proxied_only_while_traced"

totals
