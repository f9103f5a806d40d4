#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# iommufd unloaded and loaded again while it still has software dirty
# tracking state to free: each round, iommufd_churn leaves dozens of logs,
# views and pin records behind closed fds (their frees wait for an RCU
# grace period, then a workqueue) and unloads iommufd at once.
# A free that outlives the module runs in freed text; the kernel's splat
# checks in tools/testing/check fail the suite then.  The VFIO modules that
# hold iommufd go out and come back with it.
#
# Needs iommufd built as a module (skipped when it is built in).  Prints KTAP
# and a kselftest "# Totals:" line.

set -u

ROUNDS=${ROUNDS:-10}
churn=$(dirname "$0")/iommufd_churn
. "$(dirname "$0")/ktap.sh"

echo "TAP version 13"
if [ ! -e /sys/module/iommufd/initstate ]; then
	echo "1..0 # SKIP iommufd is built in"
	echo "# Totals: pass:0 fail:0 xfail:0 xpass:0 skip:1 error:0"
	exit 0
fi

# The modules that hold iommufd, users first, as loaded now
holders() {
	local m=$1 h

	for h in /sys/module/"$m"/holders/*; do
		[ -e "$h" ] || continue
		holders "${h##*/}"
		echo "${h##*/}"
	done
}

# (no process substitution: the VM has no /dev/fd)
stack=($(holders iommufd | awk '!seen[$0]++'))
echo "1..4"
echo "# holders of iommufd: ${stack[*]:-none}"

unload() {
	local m

	for m in "${stack[@]}" iommufd; do
		[ -e /sys/module/"$m" ] || continue
		rmmod "$m" || { echo "# rmmod $m failed"; return 1; }
	done
}

reload() {
	local m i

	modprobe iommufd || return 1
	for ((i = ${#stack[@]} - 1; i >= 0; i--)); do
		m=${stack[$i]}
		[ -e /sys/module/"$m" ] || modprobe "$m" || return 1
	done
}

# rmmod waits for a grace period before it frees the module's memory; with
# expedited grace periods that wait ends long before the callbacks queued by
# call_rcu() run, which is when a free queued by queue_rcu_work() would run
expedited=$(cat /sys/kernel/rcu_expedited)
echo 1 >/sys/kernel/rcu_expedited
rc=0
unload || rc=1
for ((r = 1; r <= ROUNDS && rc == 0; r++)); do
	modprobe iommufd || { echo "# round $r: modprobe iommufd failed"; rc=1; break; }
	"$churn" 16 --unload || { echo "# round $r: iommufd_churn failed"; rc=1; break; }
	[ ! -e /sys/module/iommufd ] || { echo "# round $r: iommufd still loaded"; rc=1; }
done
echo "$expedited" >/sys/kernel/rcu_expedited
echo "# $((r - 1)) rounds of setup, close and rmmod"
result $rc "unload_with_frees_pending"

# The same with the frees' worker held off until the module is gone: the
# fds are closed on CPU 1 under a SCHED_FIFO spinner there, by a process
# of higher priority that then unloads iommufd.  The grace period still
# ends and the RCU callbacks still run (softirq), but a bound kworker on
# CPU 1 cannot run until the spinner stops, seconds after the unload.  RT
# throttling is off meanwhile, or it would give that kworker its 5 %.
splats() {
	dmesg | grep -cE 'BUG:|Oops|general protection|KASAN:|WARNING:'
}

starved() {
	local before rt spin ret

	[ "$(nproc)" -ge 2 ] || { echo "# SKIP one CPU"; return 4; }
	before=$(splats)
	rt=$(cat /proc/sys/kernel/sched_rt_runtime_us)
	echo -1 >/proc/sys/kernel/sched_rt_runtime_us
	modprobe iommufd || return 1
	# (the spinner stops by itself: nothing at its priority or below
	# runs on CPU 1 while it spins)
	taskset -c 1 chrt -f 10 bash -c \
		'e=$((SECONDS + 4)); while ((SECONDS < e)); do :; done' &
	spin=$!
	sleep 0.5
	taskset -c 1 chrt -f 50 "$churn" 16 --unload
	ret=$?
	wait $spin
	echo "$rt" >/proc/sys/kernel/sched_rt_runtime_us
	# whatever was held off runs now
	sleep 2
	[ $ret -eq 0 ] || { echo "# iommufd_churn failed"; return 1; }
	[ ! -e /sys/module/iommufd ] || { echo "# iommufd still loaded"; return 1; }
	[ "$(splats)" -eq "$before" ] || { echo "# the kernel complained"; return 1; }
}
if [ $rc -eq 0 ]; then
	starved
	result $? "unload_with_worker_held_off"
else
	result 4 "unload_with_worker_held_off"
fi

# The log frees ran (or the module could not have gone): one more round
# with everything the tests use loaded again
reload
result $? "stack_reloaded"
"$churn" 4
result $? "iommufd_works_after_reload"
totals
