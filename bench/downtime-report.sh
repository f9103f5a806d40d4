#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# downtime-report.sh - the tables, plots and regression check of
# bench/downtime.sh's results.
#
#   bench/downtime-report.sh RESULTS.json OUTDIR
#	OUTDIR/downtime.md (the table and the targets) and
#	OUTDIR/downtime.png, OUTDIR/downtime-bytes.png (gnuplot)
#   bench/downtime-report.sh -c BASELINE.json [-t PCT] RESULTS.json
#	exit 1 when a scenario in both got slower (QEMU downtime) by more
#	than PCT percent (default 25), or its memory was identical in the
#	baseline and is not now

set -u

compare=
threshold=25
while getopts c:t: opt; do
	case $opt in
	c) compare=$OPTARG ;;
	t) threshold=$OPTARG ;;
	*) exit 64 ;;
	esac
done
shift $((OPTIND - 1))
res=${1:?results}

if [ -n "$compare" ]; then
	jq -r -n --slurpfile a "$compare" --slurpfile b "$res" --argjson t "$threshold" '
		def key: .scenario | "\(.mode) ram=\(.ram) rate=\(.rate) ring=\(.ring) ctx=\(.ctx) churn=\(.churn) span=\(.span // "0") link=\(.link)\(if (.feat // "none") != "none" then " feat=\(.feat)" else "" end)";
		($a[0] | map({key: key, value: .}) | from_entries) as $base
		| $b[0][] | key as $k | select($base[$k] != null) | $base[$k] as $o
		| (if ($o.qemu.downtime_ms // 0) > 0 and (.qemu.downtime_ms // 0) >
			$o.qemu.downtime_ms * (1 + $t / 100)
		   then "REGRESSION \($k): downtime \($o.qemu.downtime_ms) -> \(.qemu.downtime_ms) ms"
		   elif $o.memory.identical and (.memory.identical | not)
		   then "REGRESSION \($k): memory was identical, now \(.memory.pages_differ) pages differ"
		   else "ok \($k): downtime \($o.qemu.downtime_ms) -> \(.qemu.downtime_ms) ms" end)' \
		>/tmp/downtime-compare.$$ || exit 2
	cat /tmp/downtime-compare.$$
	! grep -q '^REGRESSION' /tmp/downtime-compare.$$
	rc=$?
	rm -f /tmp/downtime-compare.$$
	exit $rc
fi

outdir=${2:?outdir}
mkdir -p "$outdir" || exit 1
md=$outdir/downtime.md

jq -r '
	def mb: if . == null then "-" else (. / 1e6 * 10 | round / 10 | tostring) end;
	def ms: if . == null then "-" else (. * 10 | round / 10 | tostring) end;
	def usms: if . == null then "-" else (. / 100 | round / 10 | tostring) end;
	def x: if . == null then "-" else (. * 100 | round / 100 | tostring) end;
	"| scenario | status | downtime ms | total ms | setup ms | RAM precopy MB | downtime MB (RAM + device) | device PRE_COPY MB | device STOP_COPY MB | kernel: stop / final read / dirty sync / load / resume ms | memory | floor ms (link) | × floor | floor ms (QEMU tput) | × floor |",
	"|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
	(.[] | "| \(.scenario.mode) ram=\(.scenario.ram) link=\(.scenario.link)\(if .scenario.rate != 2000 then " rate=\(.scenario.rate)" else "" end)\(if .scenario.churn != "1M" then " churn=\(.scenario.churn)" else "" end)\(if (.scenario.span // "0") != "256K" then " span=\(.scenario.span // "0")" else "" end)\(if (.scenario.feat // "none") != "none" then " \(.scenario.feat)" else "" end) | \(.status) | \(.qemu.downtime_ms // "-") | \(.qemu.total_ms // "-") | \(.qemu.setup_ms // "-") | \(.qemu.ram_precopy_bytes | mb) | \(.downtime_bytes | mb) | \(.device.precopy_bytes | mb) | \(.device.stop_copy_bytes | mb) | \(.kernel_us.stop_arcs | usms) / \(.kernel_us.final_read | usms) / \(.kernel_us.final_dirty_sync | usms) / \(.kernel_us.device_load | usms) / \(.kernel_us.resume_arcs | usms) | \(if .memory.identical then "identical" elif .memory.pages_differ < 0 then "-" else "**\(.memory.pages_differ) pages differ**" end) | \(.floor_ms | ms) | \(.vs_floor | x) | \(.floor_qemu_ms | ms) | \(.vs_floor_qemu | x) |")
' "$res" >"$md" || exit 1

# The targets, from the scenarios that exist
jq -r '
	def pick(m; r): [.[] | select(.scenario.mode == m and .scenario.ram == r
		and .scenario.link == "1gbit" and .scenario.rate == 2000
		and .scenario.churn == "1M" and .scenario.span == "256K"
		and (.scenario.feat // "none") == "none")][0];
	# ram.transferred counts multifd channels too, precopy-bytes not
	def total: (.qemu.ram_bytes // ((.qemu.ram_precopy_bytes // 0)
		+ (.qemu.ram_downtime_bytes // 0))) + (.qemu.vfio_bytes // 0);
	def r2: . * 100 | round / 100;
	def bytes: if . == null or . == "0" then 0 else
		(capture("^(?<n>[0-9]+)(?<u>[KMG]?)$") | (.n | tonumber) *
		 ({"": 1, "K": 1024, "M": 1048576, "G": 1073741824}[.u])) end;
	. as $all
	| ["", "Targets (ratios from this run):", ""]
	+ [(pick("workaround"; "1G")) as $w | (pick("lowdown"; "1G")) as $l
	   | if $w and $l and ($l.qemu.downtime_ms // 0) > 0 then
		"- workaround ÷ lowdown downtime at 1 GiB, 1 Gbit/s: \($w.qemu.downtime_ms / $l.qemu.downtime_ms | r2) (target ≥ 20)"
	     else "- workaround ÷ lowdown at 1 GiB: not measured" end]
	+ [(pick("lowdown"; "1G")) as $l
	   | if $l then "- lowdown ÷ floor at 1 GiB: \($l.vs_floor // "-" | if type == "number" then r2 else . end) over the link bandwidth, \($l.vs_floor_qemu // "-" | if type == "number" then r2 else . end) over the QEMU throughput (target ≤ 1.3)"
	     else "- lowdown ÷ floor: not measured" end]
	+ [.[] | select(.scenario.mode == "lowdown" and .scenario.link != "1gbit")
	   | "- lowdown ÷ floor at \(.scenario.ram), \(.scenario.link): \(.vs_floor // "-" | if type == "number" then r2 else . end) over the link bandwidth, \(.vs_floor_qemu // "-" | if type == "number" then r2 else . end) over the QEMU throughput"]
	+ [(pick("lowdown"; "1G")) as $l | (pick("noprecopy"; "1G")) as $n
	   | if $l and $n and $n.device.stop_copy_bytes > 0 then
		"- device state inside the downtime, lowdown vs PRE_COPY off: \($l.device.stop_copy_bytes) vs \($n.device.stop_copy_bytes) bytes, cut \((1 - $l.device.stop_copy_bytes / $n.device.stop_copy_bytes) * 100 | round) % (target ≥ 75 %)"
	     else "- device state share vs PRE_COPY off: not measured" end]
	+ [(pick("lowdown"; "1G")) as $l | (pick("nolimit"; "1G")) as $u
	   | if $l and $u and ($u | total) > 0 then
		"- total bytes, lowdown vs PRE_COPY without the limiter: \($l | total) vs \($u | total), \((($l | total) / ($u | total) - 1) * 100 | round) % (target ≤ +10 %)"
	     else "- total bytes vs no limiter: not measured" end]
	+ (["", "The limiter: each lowdown row against its noprecopy twin (targets: downtime ≤, total bytes ≤ 1.1 ×; hot-set rows, span > 0: device bytes in the downtime ≥ 75 % less, or within 1 % of the most the hot set leaves, 1 - span ÷ ctx):", "",
	    "| scenario | downtime ms lowdown / noprecopy | total MB lowdown / noprecopy | × | device MB in the downtime lowdown / noprecopy | cut | met |",
	    "|---|---|---|---|---|---|---|"]
	   + [$all[] | select(.scenario.mode == "lowdown") as $l
	      | ($l.scenario | del(.mode)) as $k
	      | ([$all[] | select(.scenario.mode == "noprecopy" and (.scenario | del(.mode)) == $k)][0]) as $n
	      | select($n != null)
	      | ($l | total) as $lt | ($n | total) as $nt
	      | (if $n.device.stop_copy_bytes > 0 then 1 - $l.device.stop_copy_bytes / $n.device.stop_copy_bytes else 0 end) as $cut
	      | (($l.qemu.downtime_ms // 1e9) <= ($n.qemu.downtime_ms // 0)) as $d_ok
	      | ($nt > 0 and $lt <= 1.1 * $nt) as $t_ok
	      # The hot set stays dirty to the end: at most 1 - span / ctx
	      # can leave the downtime, less the record framing
	      | ([0.75, 1 - ($k.span | bytes) / ($k.ctx | bytes) - 0.01] | min) as $c_want
	      | (($l.scenario.span == "0") or $cut >= $c_want) as $c_ok
	      | "| ram=\($k.ram) rate=\($k.rate) churn=\($k.churn) span=\($k.span) link=\($k.link)\(if ($k.feat // "none") != "none" then " \($k.feat)" else "" end) | \($l.qemu.downtime_ms // "-") / \($n.qemu.downtime_ms // "-") | \($lt / 1e6 | r2) / \($nt / 1e6 | r2) | \(if $nt > 0 then $lt / $nt | r2 else "-" end) | \($l.device.stop_copy_bytes / 1e6 | r2) / \($n.device.stop_copy_bytes / 1e6 | r2) | \($cut * 100 | round) % | \(if $d_ok and $t_ok and $c_ok then "yes" else "**no:" + (if $d_ok then "" else " downtime" end) + (if $t_ok then "" else " bytes" end) + (if $c_ok then "" else " cut" end) + "**" end) |"])
	+ [.[] | select((.scenario.feat // "none") != "none") as $f
	   | ($f.scenario | del(.feat)) as $k
	   | ([$all[] | select((.scenario.feat // "none") == "none" and .scenario == ($k + {feat: "none"}))][0]) as $d
	   | "- \($f.scenario.mode) with \($f.scenario.feat): downtime \($f.qemu.downtime_ms // "-") ms, total \($f.qemu.total_ms // "-") ms; the default path \(if $d then "\($d.qemu.downtime_ms) ms, total \($d.qemu.total_ms) ms (× \(if ($d.qemu.downtime_ms // 0) > 0 then $f.qemu.downtime_ms / $d.qemu.downtime_ms | r2 else "-" end))" else "not measured" end)"]
	+ ["- memory: " + ([$all[] | "\(.scenario.mode) \(.scenario.ram): \(if .memory.identical then "identical" elif .memory.pages_differ < 0 then "not compared" else "\(.memory.pages_differ) pages differ" end)"] | join("; "))]
	| .[]' "$res" >>"$md" || exit 1

# Plots: downtime and its floor per scenario; bytes per phase
jq -r '.[] | "\"\(.scenario.mode)\\n\(.scenario.ram)\" \(.qemu.downtime_ms // 0) \(.floor_ms // 0) \(.floor_qemu_ms // 0)"' \
	"$res" >"$outdir/downtime.dat"
jq -r '.[] | "\"\(.scenario.mode)\\n\(.scenario.ram)\" \((.qemu.ram_precopy_bytes // 0) / 1e6) \((.qemu.ram_downtime_bytes // 0) / 1e6) \(.device.precopy_bytes / 1e6) \(.device.stop_copy_bytes / 1e6)"' \
	"$res" >"$outdir/downtime-bytes.dat"
gnuplot <<EOF || exit 1
set terminal png size 1100,600
set bmargin 4
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set grid ytics
set logscale y
set key top left
set output "$outdir/downtime.png"
set title "Downtime and its floor per scenario (ms, log scale)"
plot "$outdir/downtime.dat" using 2:xtic(1) title "QEMU downtime", \
	'' using 3 title "floor (link)", '' using 4 title "floor (QEMU throughput)"
unset logscale y
set style histogram rowstacked
set output "$outdir/downtime-bytes.png"
set title "Bytes per phase (MB)"
plot "$outdir/downtime-bytes.dat" using 2:xtic(1) title "RAM before the stop", \
	'' using 3 title "RAM inside the downtime", \
	'' using 4 title "device PRE_COPY", '' using 5 title "device STOP_COPY"
EOF
