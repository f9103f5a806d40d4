#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Nested QEMU smoke test: inside the test VM, start a source and a destination
# QEMU (TCG, 256 MiB, no guest OS), migrate over 127.0.0.1 and check that
# query-migrate says "completed" and that the destination runs on.
#
# Then the same with an mdev (the upstream mtty sample, which lowdown's patch
# 0009 gives access-backed DMA logging) in each QEMU through its iommufd
# backend: unmodified QEMU 10 must take the VFIO DMA logging path (START and
# REPORT reach drivers/vfio/access_log.c on the source, seen with the
# function tracer) and the migration must complete.
#
# vfsim under QEMU, with its memory checked, is qemu_vfsim.sh.
#
# Needs qemu-system-x86_64 >= 10.0 and lowdown's qmp client (QMP=path, or in
# PATH).  Prints KTAP and a kselftest "# Totals:" line.

set -u

QMP=${QMP:-qmp}
MEM=${MEM:-256M}
PORT=${PORT:-4444}
work=$(mktemp -d /tmp/qemu_migrate.XXXXXX)
ntests=7
. "$(dirname "$0")/ktap.sh"
. "$(dirname "$0")/qemu_lib.sh"


cleanup() {
	[ -n "${tracing:-}" ] && echo nop >"$tracing/current_tracer"
	qemu_reap
}
trap cleanup EXIT

echo "TAP version 13"
echo "1..$ntests"

ver=$(qemu-system-x86_64 --version | sed -n 's/^QEMU emulator version \([0-9]*\)\..*/\1/p')
echo "# $(qemu-system-x86_64 --version | head -n1)"
[ "${ver:-0}" -ge 10 ]
result $? "qemu_is_10_or_newer"

start_qemu src && start_qemu dst -incoming "tcp:127.0.0.1:$PORT"
rc=$?
if [ $rc = 0 ]; then
	[ "$(status_of src)" = running ] && [ "$(status_of dst)" = inmigrate ]
	rc=$?
fi
result $rc "source_running_destination_waiting"

migrate src dst "$PORT"
result $? "migration_completed"

[ "$(status_of dst)" = running ] && [ "$(status_of src)" = postmigrate ]
result $? "destination_runs_source_postmigrate"

# The mdev through iommufd, with DMA logging traced on the source
tracing=/sys/kernel/tracing
[ -f $tracing/trace ] || tracing=/sys/kernel/debug/tracing
echo "vfio_access_log_start vfio_access_log_read_and_clear vfio_access_log_stop" \
	>$tracing/set_ftrace_filter
echo function >$tracing/current_tracer
echo >$tracing/trace
# An earlier suite (tracing) may have left tracing off
echo 1 >$tracing/tracing_on
rc=1
if m1=$(mtty_create) && m2=$(mtty_create); then
	# shellcheck disable=SC2046
	start_qemu msrc $(mdev_args "$m1") &&
		start_qemu mdst $(mdev_args "$m2") -incoming "tcp:127.0.0.1:$((PORT + 1))" &&
		[ "$(status_of msrc)" = running ]
	rc=$?
fi
result $rc "mdev_source_running_destination_waiting"

migrate msrc mdst $((PORT + 1)) && [ "$(status_of mdst)" = running ]
result $? "mdev_migration_completed"

# QEMU postpones STOP while the VM is stopped (memory_global_dirty_log_stop()),
# so on a source left in postmigrate logging ends when QEMU closes the device
starts=$(grep -c "vfio_access_log_start" $tracing/trace)
reports=$(grep -c "vfio_access_log_read_and_clear" $tracing/trace)
stops=$(grep -c "vfio_access_log_stop" $tracing/trace)
echo "# DMA logging on the mdev: $starts START, $reports REPORT, $stops STOP"
[ "$starts" -ge 1 ] && [ "$reports" -ge 1 ]
result $? "mdev_dma_logging_used_by_qemu"

totals
