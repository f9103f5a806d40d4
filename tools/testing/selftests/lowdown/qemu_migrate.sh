#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Nested QEMU smoke test: inside the test VM, start a source and a destination
# QEMU (TCG, 256 MiB, no guest OS), migrate over 127.0.0.1 and check that
# query-migrate says "completed" and that the destination runs on.
#
# Needs qemu-system-x86_64 >= 10.0 and lowdown's qmp client (QMP=path, or in
# PATH).  Prints KTAP and a kselftest "# Totals:" line.

set -u

QMP=${QMP:-qmp}
MEM=${MEM:-256M}
PORT=${PORT:-4444}
work=$(mktemp -d /tmp/qemu_migrate.XXXXXX)
ntests=4 pass=0 fail=0 n=0

result() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		pass=$((pass + 1))
		echo "ok $n $2"
	else
		fail=$((fail + 1))
		echo "not ok $n $2"
	fi
}

cleanup() {
	local f

	for f in "$work"/*.pid; do
		[ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
	done
	rm -rf "$work"
}
trap cleanup EXIT

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

status_of() { "$QMP" "$work/$1.sock" query-status | jq -r .status; }

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

start=$(date +%s%N)
"$QMP" "$work/src.sock" migrate "{\"uri\": \"tcp:127.0.0.1:$PORT\"}" >/dev/null
state=none
for _ in $(seq 1200); do
	info=$("$QMP" "$work/src.sock" query-migrate) || break
	state=$(jq -r '.status // "none"' <<<"$info")
	case $state in completed|failed|cancelled) break ;; esac
	sleep 0.1
done
elapsed=$((($(date +%s%N) - start) / 1000000))
echo "# migration $state after ${elapsed} ms wall;" \
	"total-time $(jq -r '."total-time" // "?"' <<<"$info") ms," \
	"downtime $(jq -r '.downtime // "?"' <<<"$info") ms," \
	"ram transferred $(jq -r '.ram.transferred // "?"' <<<"$info") bytes"
[ "$state" = completed ]
result $? "migration_completed"

[ "$(status_of dst)" = running ] && [ "$(status_of src)" = postmigrate ]
result $? "destination_runs_source_postmigrate"

echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:0 error:0"
[ $fail = 0 ]
