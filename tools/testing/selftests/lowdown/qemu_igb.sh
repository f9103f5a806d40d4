#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# End to end with a real VF: unmodified QEMU 10 migrates a running Linux
# guest (kernel/build-guest: igbvf built in, its address from ip=, so the
# guest kernel itself answers ping) whose NIC is an igb VF bound to
# igb-vfio-pci, through QEMU's iommufd backend, from VF 0 to VF 1 of the
# test VM's igb PF, while the PF pings the guest every 10 ms:
#
#  1. the guest boots and answers through VF 0 (its boot time printed);
#  2. QEMU sees the VF dirty-capable and migrates with dirty tracking on
#     (no x-pre-copy-dirty-page-tracking=off): "completed";
#  3. the source's memory (postmigrate) and the destination's (-S, before
#     it runs) are identical byte for byte;
#  4. resumed, the guest answers through VF 1, which now has VF 0's MAC
#     from the stream (nobody set it);
#  5. back to VF 0 with the destination running as soon as it arrives:
#     the longest gap in ping replies and the replies lost are printed,
#     and the guest answers after it;
#  6. a destination killed mid-migration: the source guest runs on and
#     answers;
#  7. the negative control: with igb-vfio-pci's DMA reports off the VF is
#     not dirty-capable and QEMU 10 refuses to migrate (as upstream);
#  8. the workaround users run today: reports off and iommufd's
#     dirty_conservative on, the VF's HWPT counts all it maps writable
#     dirty on every read, and QEMU reads it only after the stop
#     (x-pre-copy-dirty-page-tracking=off); the memories are identical,
#     but all of RAM is sent again inside the downtime, where exact
#     tracking (2) sends RAM about once.
#
# Needs the VF BAR workaround of tools/testing/vm/run, QEMU >= 10, qmp
# (QMP=).  Prints KTAP and a "# Totals:" line.
set -u
QMP=${QMP:-qmp}
MEM=${MEM:-128M}
PORT=${PORT:-4490}
top=${LOWDOWN_TOP:-$(cd "$(dirname "$0")/../../../.." && pwd)}
work=$(mktemp -d /tmp/qemu_igb.XXXXXX)
. "$(dirname "$0")/ktap.sh"
. "$(dirname "$0")/qemu_lib.sh"
. "$(dirname "$0")/igb_lib.sh"

guest=$("$top/kernel/build-guest" --path)
ip=10.78.0.20
mac0=52:54:00:1d:0e:11

echo "TAP version 13"
if ! igb_pf || [ ! -f "$guest" ]; then
	echo "1..0 # SKIP no igb SR-IOV PF, or no guest (kernel/build-guest)"
	echo "# Totals: pass:0 fail:0 xfail:0 xpass:0 skip:1 error:0"
	exit 0
fi
echo "1..8"

cleanup() {
	[ -z "${pinger:-}" ] || kill "$pinger" 2>/dev/null
	qemu_reap -9
	igb_cleanup
}
trap cleanup EXIT

# Two VFs on igb-vfio-pci; only VF 0 has a MAC from the PF's administrator
modprobe igb-vfio-pci || { echo "Bail out! igb-vfio-pci does not load"; exit 1; }
igb_vfs 2
ip addr add 10.78.0.1/24 dev "$pfnet"
ip link set "$pfnet" vf 0 mac "$mac0"
for vf in "${vfs[@]}"; do
	igb_bind "$vf" igb_vfio_pci || echo "# $vf: not bound to igb_vfio_pci"
done
echo "# vfs ${vfs[*]}, guest $guest"

# guest NAME VF [ARGS...]: QEMU running the guest with VF as its NIC
guest() {
	local name=$1 vf=$2

	shift 2
	start_qemu "$name" -kernel "$guest" \
		-append "console=ttyS0 no_timer_check ip=$ip::10.78.0.1:255.255.255.0::eth0:off" \
		-serial "file:$work/$name.log" -D "$work/$name.qemu.log" ${QEMU_TRACE:+-trace "$QEMU_TRACE"} \
		-object iommufd,id=fd0 -device "vfio-pci,host=$vf,iommufd=fd0" "$@"
}

# stop NAME: QEMU NAME gone, its VF free: SIGTERM, then SIGKILL after 10 s
# (what it is stuck in printed then), giving up after 10 s more
stop() {
	local pid t

	pid=$(cat "$work/$1.pid" 2>/dev/null) || return 0
	rm -f "$work/$1.pid"
	kill "$pid" 2>/dev/null
	for ((t = 0; t < 200; t++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		[ "$t" != 100 ] || {
			echo "# QEMU $1 still there after 10 s: $(tr '\0' ' ' </proc/"$pid"/wchan 2>/dev/null)"
			sed 's/^/#   /' /proc/"$pid"/stack 2>/dev/null | head -n 12
			kill -9 "$pid"
		}
		sleep 0.1
	done
	return 1
}

# answers: the guest answers one ping within a second
answers() { ping -c 1 -W 1 "$ip" >/dev/null 2>&1; }

# gap FILE: from FILE (ping -D -i 0.01): the longest time between two
# replies, the longest run of requests in a row without a reply (what
# the guest missed, at 10 ms each; the time gap also counts the pinger
# itself stalled in the busy test VM), and the replies missing.  Late
# replies (a number below one already seen) and duplicates count once,
# and do not open a run.
gap() {
	awk -F'[][ =]+' '/icmp_seq=/ && !/DUP/ {
		for (i = 1; i <= NF; i++) if ($i == "icmp_seq") seq = $(i + 1)
		if (seen[seq]++) next
		t = $2 * 1000
		if (n++) {
			if (t - last > max) max = t - last
			if (seq > top && seq - top - 1 > run) run = seq - top - 1
		}
		last = t; got++
		if (seq > top) top = seq
	} END {
		printf "%d ms longest between replies, %d requests in a row unanswered (%d ms), %d of %d replies missing\n",
			max, run, run * 10, top - got, top
	}' "$1"
}

# pages SRC: the pages SRC's last migration sent (zero pages included) and
# its RAM's pages, from $work/SRC.migrated
pages() {
	jq -r '"\(.ram.normal + .ram.duplicate) \(.ram.total / 4096 | floor)"' "$work/$1.migrated" 2>/dev/null
}

# phases SRC: bytes per phase of SRC's last migration
phases() {
	jq -r '"precopy \(.ram."precopy-bytes") bytes, downtime \(.ram."downtime-bytes") bytes, \(.ram."dirty-sync-count") dirty syncs, pages sent \(.ram.normal + .ram.duplicate) of \(.ram.total / 4096 | floor)"' \
		"$work/$1.migrated" 2>/dev/null
}

# 1: the guest boots and answers through VF 0
start=$(date +%s)
rc=1
if guest src "${vfs[0]}"; then
	for ((t = 0; t < 300; t++)); do
		answers && { rc=0; break; }
	done
fi
echo "# guest answered after $(($(date +%s) - start)) s"
booted=$rc
result $rc "guest_answers_through_vf0"

# 2: migrate to VF 1, the destination paused on arrival
rc=1
if [ $booted = 0 ] && guest dst "${vfs[1]}" -S -incoming "tcp:127.0.0.1:$PORT"; then
	ping -D -i 0.01 "$ip" >"$work/ping1" 2>&1 &
	pinger=$!
	sleep 2
	migrate src dst "$PORT"
	rc=$?
	[ $rc = 0 ] || {
		"$QMP" "$work/src.sock" query-migrate | jq -r '."error-desc" // empty' | sed 's/^/# source: /'
		sed 's/^/# destination: /' "$work/dst.qemu.log" 2>/dev/null | tail -n 5
	}
	echo "# exact: $(phases src)"
fi
result $rc "migration_completed"

# 3: the memories, while both are paused
[ "$(status_of src)" = postmigrate ] && memory_identical src dst
result $? "memory_identical"

# 4: resumed on VF 1, with VF 0's MAC
rc=1
if "$QMP" "$work/dst.sock" cont >/dev/null; then
	for ((t = 0; t < 30; t++)); do
		answers && { rc=0; break; }
	done
	ip link show "$pfnet" | grep -q "vf 1 .*$mac0" || {
		echo "# the PF does not list $mac0 for VF 1"
		rc=1
	}
fi
[ -z "${pinger:-}" ] || { kill "$pinger"; wait "$pinger" 2>/dev/null; pinger=; }
result $rc "guest_answers_through_vf1"

# 5: back to VF 0, the destination running as soon as it arrives
rc=1
# the source lets VF 0 go
if [ $booted = 0 ] && stop src && guest back "${vfs[0]}" -incoming "tcp:127.0.0.1:$((PORT + 1))"; then
	ping -D -i 0.01 "$ip" >"$work/ping2" 2>&1 &
	pinger=$!
	sleep 2
	migrate dst back $((PORT + 1)) && sleep 3
	rc=$?
	kill "$pinger"
	wait "$pinger" 2>/dev/null
	pinger=
	echo "# ping during the migration: $(gap "$work/ping2")"
	# what the guest said after it arrived (igbvf resets, link changes)
	sed 's/^/# guest: /' "$work/back.log" 2>/dev/null | tail -n 8
	if [ $rc = 0 ]; then
		rc=1
		for ((t = 0; t < 10; t++)); do
			answers && { rc=0; break; }
		done
	fi
fi
result $rc "migrated_back_and_answers"

# 6: VF 1 free again, a destination there killed once RAM flows (the
# bandwidth capped so that the migration takes seconds)
rc=1
if stop dst && guest gone "${vfs[1]}" -incoming "tcp:127.0.0.1:$((PORT + 2))" &&
	"$QMP" "$work/back.sock" migrate-set-parameters '{"max-bandwidth": 4194304}' >/dev/null &&
	"$QMP" "$work/back.sock" migrate "{\"uri\": \"tcp:127.0.0.1:$((PORT + 2))\"}" >/dev/null; then
	sleep 2
	kill -9 "$(cat "$work/gone.pid")"
	rm -f "$work/gone.pid"
	for _ in $(seq 100); do
		state=$("$QMP" "$work/back.sock" query-migrate | jq -r .status)
		case $state in failed|cancelled|completed) break ;; esac
		sleep 0.1
	done
	echo "# source after the kill: migration $state, guest $(status_of back)"
	if [ "$state" != completed ] && [ "$(status_of back)" = running ]; then
		for ((t = 0; t < 10; t++)); do
			answers && { rc=0; break; }
		done
	fi
fi
result $rc "source_runs_on_when_destination_dies"

# 7: reports off when QEMU binds the VF (the driver latches it then)
rc=1
param=/sys/module/igb_vfio_pci/parameters/dma_reports
if echo N >"$param" && guest off "${vfs[1]}" -S; then
	echo Y >"$param"
	out=$("$QMP" "$work/off.sock" migrate '{"uri": "tcp:127.0.0.1:9"}' 2>&1)
	echo "# QEMU: $(tr -d '\n' <<<"$out" | cut -c1-160)"
	# refused outright, or failed at once: never completed
	grep -qiE "error|blocker|dirty" <<<"$out" && rc=0
	[ $rc = 0 ] || [ "$("$QMP" "$work/off.sock" query-migrate | jq -r .status)" = failed ] && rc=0
fi
echo Y >"$param"
result $rc "reports_off_qemu_refuses"

# 8: the guest moves (exactly) to a VF 1 bound with reports off and the
# HWPT conservative (latched when QEMU binds it and allocates the HWPT),
# then from there, with the workaround, back to VF 0
rc=1
cons=/sys/module/iommufd/parameters/dirty_conservative
if stop off && echo N >"$param" && echo Y >"$cons" &&
	guest cons "${vfs[1]}" -incoming "tcp:127.0.0.1:$((PORT + 3))" \
		-global vfio-pci.x-pre-copy-dirty-page-tracking=off; then
	echo Y >"$param"
	echo N >"$cons"
	if migrate back cons $((PORT + 3)) && stop back &&
		guest cdst "${vfs[0]}" -S -incoming "tcp:127.0.0.1:$((PORT + 4))" &&
		migrate cons cdst $((PORT + 4)); then
		echo "# workaround: $(phases cons)"
		read -r sent ram <<<"$(pages cons)"
		read -r xsent _ <<<"$(pages src)"
		sent=${sent:-0} xsent=${xsent:-0} ram=${ram:-999999999}
		# all of RAM in the first pass and again after the stop
		if [ "$sent" -ge $((ram * 19 / 10)) ] && [ "$xsent" -le $((ram * 3 / 2)) ]; then
			memory_identical cons cdst && rc=0
		else
			echo "# pages sent: workaround $sent, exact $xsent, of $ram"
		fi
		if [ $rc = 0 ]; then
			rc=1
			"$QMP" "$work/cdst.sock" cont >/dev/null
			for ((t = 0; t < 30; t++)); do
				answers && { rc=0; break; }
			done
			[ $rc = 0 ] || echo "# the guest does not answer through VF 0 after the conservative migration"
		fi
	fi
fi
echo Y >"$param"
echo N >"$cons"
result $rc "workaround_identical_all_ram_in_downtime"
totals
