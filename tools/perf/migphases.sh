#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# migphases.sh - VFIO live migration phases from perf's view of lowdown's
# tracepoints (linux-perf 6.12; the same summary as tools/bpftrace/migphases.bt
# where bpftrace is not available, or to keep the raw events).
#
#   migphases.sh record [-o FILE] CMD [ARG...]
#	record every vfio_mig and iommufd_dirty event, system wide, while
#	CMD runs:  perf record -a -e 'vfio_*:*,iommufd_*:*' -o FILE -- CMD
#	(FILE defaults to migphases.data)
#   migphases.sh report [FILE]
#	perf script over FILE, summed up: event counts, the state changes
#	of every device, the downtime breakdown (stop arcs, final device
#	read, final dirty sync, device load, resume arcs), data bytes per
#	device and state, and the dirty-bitmap reads
#   migphases.sh run CMD [ARG...]
#	both, with a temporary file
#   migphases.sh summary [FILE]
#	the summary of perf script or tracefs (/sys/kernel/tracing/trace)
#	text in FILE or on stdin
#
# The summary reads `perf script -F time,event,trace` lines, whose fields
# are the events' key=value pairs (Documentation/lowdown/tracing.rst).

set -u

PERF=${PERF:-perf}
EVENTS='vfio_*:*,iommufd_*:*'

usage() {
	sed -n '3,25s/^# \{0,1\}//p' "$0" >&2
	exit 64
}

record() {
	local out=migphases.data

	if [ "${1:-}" = -o ]; then
		out=$2
		shift 2
	fi
	[ $# -gt 0 ] || usage
	"$PERF" record -q -a -e "$EVENTS" -o "$out" -- "$@"
}

summary() {
	awk '
	# The key=value pairs of the event in f[], numbers as numbers
	function kv(from,    i, p, v) {
		delete f
		for (i = from; i <= NF; i++) {
			p = index($i, "=")
			if (!p)
				continue
			v = substr($i, p + 1)
			if (v ~ /^-?[0-9]+$/)
				v += 0
			f[substr($i, 1, p - 1)] = v
		}
	}
	function us(ns) { return sprintf("%d", ns / 1000) }
	BEGIN { run["RUNNING"] = run["RUNNING_P2P"] = 1
		run["PRE_COPY"] = run["PRE_COPY_P2P"] = 1
		stopto["STOP"] = stopto["STOP_COPY"] = 1
		stopto["RUNNING_P2P"] = stopto["PRE_COPY_P2P"] = 1 }
	{
		# perf script: "TIME: SYS:EVENT: k=v ..."; tracefs: "TASK-PID
		# [CPU] FLAGS TIME: EVENT: k=v ..."
		ti = 0
		for (i = 1; i <= NF && !ti; i++)
			if ($i ~ /^[0-9]+\.[0-9]+:$/)
				ti = i
		if (!ti || ti == NF)
			next
		t = $ti; sub(/:$/, "", t); t *= 1e9
		ev = $(ti + 1); sub(/:$/, "", ev); sub(/^.*:/, "", ev)
		if (t0 == "") t0 = t
		count[ev]++
		kv(ti + 2)
		dev = f["dev"]
	}
	ev == "vfio_mig_set_state" {
		start = t - f["ns"]
		line[++nl] = sprintf("%10.3f  %-36s %-12s -> %-12s %10s %4s %3s",
			(start - t0) / 1e6, dev, f["from"], f["to"], us(f["ns"]),
			f["ret"], f["data_fd"])
		if (f["ret"] != 0) next
		state[dev] = f["to"]
		if ((f["from"] in run && f["to"] in stopto && f["from"] != f["to"]) ||
		    (f["from"] == "STOP" && f["to"] == "STOP_COPY")) {
			if (stopped == "") stopped = start
			stop_ns += f["ns"]; stop_n++
		}
		if (f["from"] == "RESUMING") resumed[dev] = 1
		if ((dev in resumed) && (f["from"] == "RESUMING" ||
		    f["to"] == "RUNNING" || f["to"] == "RUNNING_P2P")) {
			resume_ns += f["ns"]; resume_n++; resume_end = t
			if (f["to"] == "RUNNING") delete resumed[dev]
		}
	}
	(ev == "vfio_mig_read" || ev == "vfio_mig_write") && f["ret"] > 0 {
		s = (dev in state) ? state[dev] : "?"
		bytes[dev " " s] += f["ret"]
		if (ev == "vfio_mig_read" && s == "STOP_COPY") {
			fread_ns += f["ns"]; fread_b += f["ret"]; fread_n++
		}
		if (ev == "vfio_mig_write" && stopped != "") {
			load_ns += f["ns"]; load_b += f["ret"]; load_n++
		}
	}
	(ev == "iommufd_dirty_read" || ev == "vfio_dma_log_report") && f["ret"] == 0 {
		path = ev == "iommufd_dirty_read" ? "iommufd" : "vfio"
		reads[path]++; pages[path] += f["pages"]; rns[path] += f["ns"]
		if (f["ns"] > rmax[path]) rmax[path] = f["ns"]
		if (stopped != "") { sync_ns += f["ns"]; sync_p += f["pages"]; sync_n++ }
	}
	END {
		print "Events:"
		for (e in count) printf "  %-28s %8d\n", e, count[e]
		printf "\nState changes:\n%10s  %-36s %-12s    %-12s %10s %4s %3s\n",
			"TIME(ms)", "DEVICE", "FROM", "TO", "ARC(us)", "RET", "FD"
		for (i = 1; i <= nl; i++) print line[i]
		printf "\nDowntime breakdown, kernel side (from the first stop arc at %.3f ms):\n",
			stopped == "" ? 0 : (stopped - t0) / 1e6
		printf "  %-18s %10s us  %d arcs\n", "stop arcs", us(stop_ns), stop_n
		printf "  %-18s %10s us  %d bytes in %d reads\n", "final device read",
			us(fread_ns), fread_b, fread_n
		printf "  %-18s %10s us  %d pages in %d reads\n", "final dirty sync",
			us(sync_ns), sync_p, sync_n
		printf "  %-18s %10s us  %d bytes in %d writes\n", "device load",
			us(load_ns), load_b, load_n
		printf "  %-18s %10s us  %d arcs\n", "resume arcs", us(resume_ns), resume_n
		if (stopped != "" && resume_end > stopped)
			printf "  %-18s %10s us  first stop arc to last resume arc\n",
				"window", us(resume_end - stopped)
		print "\nData bytes, by device and state:"
		for (k in bytes) { split(k, a, " "); printf "  %-36s %-12s %12d\n", a[1], a[2], bytes[k] }
		print "\nDirty-bitmap reads:"
		for (p in reads)
			printf "  %-8s %6d reads %10d pages  mean %s us  max %s us\n", p,
				reads[p], pages[p], us(rns[p] / reads[p]), us(rmax[p])
	}'
}

report() {
	local in=${1:-migphases.data}

	"$PERF" script -i "$in" -F time,event,trace 2>/dev/null | summary
}

case ${1:-} in
record)
	shift
	record "$@"
	;;
report)
	shift
	report "$@"
	;;
summary)
	shift
	# (not </dev/stdin: a system without udev, the test VM, has no such link)
	if [ $# -gt 0 ]; then
		summary <"$1"
	else
		summary
	fi
	;;
run)
	shift
	[ $# -gt 0 ] || usage
	tmp=$(mktemp /tmp/migphases.XXXXXX)
	trap 'rm -f "$tmp"' EXIT
	record -o "$tmp" "$@"
	rc=$?
	report "$tmp"
	exit $rc
	;;
*)
	usage
	;;
esac
