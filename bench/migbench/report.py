# SPDX-License-Identifier: GPL-2.0
"""The report: raw records to the markdown table, the targets, --compare.

Every number comes from metrics.py by name.  The targets (issue and
Documentation/lowdown/benchmark.rst) are checked from the one run in the
file; a target whose scenarios are not in it says "not measured".
"""

import json

from . import metrics
from .scenario import Scenario, size


class Row:
    """One scenario's result: its Scenario, raw record and metrics."""

    def __init__(self, raw):
        self.raw = metrics.upgrade(raw)
        sc = dict(self.raw["scenario"])
        if self.raw.get("upgraded") and "span" not in sc:
            sc["span"] = "0"
        self.sc = Scenario.from_dict(sc)
        self.m = metrics.compute(self.raw)
        self.status = self.raw.get("status") or "none"

    def __getitem__(self, name):
        return self.m[name]


def load(path):
    """The raw records of a results file: a JSON list, or JSON lines."""
    with open(path) as f:
        text = f.read()
    text = text.strip()
    if not text:
        return []
    if text.startswith("["):
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def rows(raws):
    return [Row(r) for r in raws]


def _index(rs):
    """Scenario -> the last row of it."""
    return {r.sc: r for r in rs}


def _r2(x):
    return "-" if x is None else f"{x:.2f}"


def _ms(x):
    return "-" if x is None else f"{x:.0f}"


def table(rs):
    """The main table: a column per metric with a header."""
    cols = [mt for mt in metrics.METRICS if mt.header]
    out = ["| scenario | status | " + " | ".join(mt.header for mt in cols) + " |",
           "|---|---|" + "---|" * len(cols)]
    for r in rs:
        cells = [metrics.show(mt.name, r[mt.name]) for mt in cols]
        if r.raw.get("error") and r.status != "completed":
            status = f"{r.status}: {r.raw['error'][:80]}"
        else:
            status = r.status
        out.append(f"| {r.sc.short()} | {status} | " + " | ".join(cells) + " |")
    return out


def _kernel(rs):
    """The kernel-side phases of the downtime, per scenario with a device."""
    out = ["", "Kernel side of the downtime (tracepoints, ms): stop arcs / final "
           "device read / final dirty sync / device load / resume arcs; first "
           "stop arc to last resume arc:", "",
           "| scenario | stop | final read | dirty sync | load | resume | window |",
           "|---|---|---|---|---|---|---|"]
    for r in rs:
        if r.sc.mode == "baseline" or r.status != "completed":
            continue
        out.append(f"| {r.sc.short()} | " + " | ".join(
            metrics.show(k, r[k]) for k in ("k_stop_arcs_ms", "k_final_read_ms",
                                            "k_dirty_sync_ms", "k_load_ms",
                                            "k_resume_ms", "k_window_ms")) + " |")
    return out


def _mb(x):
    return "-" if x is None else f"{x / 1e6:.1f}"


def targets(rs):
    """The targets, as markdown lines; and whether every measured one was met."""
    idx = _index(rs)
    out = ["", "Targets (ratios from this run):", ""]
    ok = True

    # 1. What the device adds: each row against the no-device baseline
    out += ["What the device adds: each scenario against the same VM, RAM, dirty "
            "rate and link with no VFIO device (target for lowdown: downtime ≤ "
            "1.15 × baseline + the device's own stop arcs):", "",
            "| scenario | downtime ms | baseline ms | × | stop arcs ms | RAM in downtime MB (baseline) | device STOP_COPY MB | met |",
            "|---|---|---|---|---|---|---|---|"]
    added = len(out)
    for r in rs:
        if r.sc.mode == "baseline":
            continue
        b = idx.get(r.sc.baseline())
        if not b or b.status != "completed" or r.status != "completed":
            continue
        x = _ratio(r["downtime_ms"], b["downtime_ms"])
        met = "-"
        if r.sc.mode == "lowdown":
            good = r["downtime_ms"] <= 1.15 * b["downtime_ms"] + (r["k_stop_arcs_ms"] or 0)
            ok &= good
            met = "yes" if good else "**no**"
        out.append(f"| {r.sc.short()} | {_ms(r['downtime_ms'])} | {_ms(b['downtime_ms'])} "
                   f"| {_r2(x)} | {metrics.show('k_stop_arcs_ms', r['k_stop_arcs_ms'])} "
                   f"| {_mb(r['ram_downtime_bytes'])} ({_mb(b['ram_downtime_bytes'])}) "
                   f"| {metrics.show('dev_stop_copy_bytes', r['dev_stop_copy_bytes'])} | {met} |")
    if len(out) == added:
        out[added - 2:] = ["(not measured: no scenario with its baseline completed)"]

    # 2. What the guest sees: the ping gap against QEMU's downtime
    pinged = [r for r in rs if r.raw.get("ping")]
    if pinged:
        out += ["", "What the guest sees: the longest gap in replies to the PF's "
                "echo requests through the VF (bench/pinger, every `ping`), the "
                "benchmark's own hold (the memory check) taken out, against QEMU's "
                "downtime (target for lowdown: ≤ 1.2 ×); stop → loaded is the "
                "source's STOP to the destination's completed:", "",
                "| scenario | ping gap ms | QEMU downtime ms | × | stop → loaded ms "
                "| guest pause ms (first beat after resume) "
                "| first reply to a new request after resume ms "
                "| median RTT ms | lost (in the hold) | not sent (pinger not run) "
                "| longest other gap ms | met |",
                "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in pinged:
            p = r.raw["ping"]
            x = _ratio(r["ping_gap_ms"], r["downtime_ms"])
            met = "-"
            if r.sc.mode == "lowdown" and r.status == "completed":
                good = x is not None and x <= 1.2
                ok &= good
                met = "yes" if good else "**no**"
            if r.status == "completed" and p.get("answered_after_hold") is False:
                met = "**no reply after the resume**"
            out.append(f"| {r.sc.short()} | {_ms(r['ping_gap_ms'])} | {_ms(r['downtime_ms'])} "
                       f"| {_r2(x)} | {_ms(r['switchover_ms'])} "
                       f"| {_ms(r['guest_pause_ms'])} ({_ms(r['beat_after_resume_ms'])}) "
                       f"| {_ms(p.get('new_reply_after_hold_ms'))} "
                       f"| {_ms(p.get('rtt_ms_median'))} "
                       f"| {p.get('lost', '-')} ({p.get('lost_in_hold', '-')}) "
                       f"| {p.get('skipped', '-')} of {p.get('sent', '-')} "
                       f"| {_ms(p.get('other_gap_ms'))} | {met} |")

    # 3. The workaround against lowdown, per device, at 1 GiB and 1 Gbit/s
    out.append("")
    for dev in ("vfsim", "igbvf"):
        w = idx.get(Scenario(device=dev, mode="workaround"))
        lo = idx.get(Scenario(device=dev, mode="lowdown"))
        if w and lo and w.status == lo.status == "completed" and lo["downtime_ms"]:
            x = w["downtime_ms"] / lo["downtime_ms"]
            ok &= x >= 20
            out.append(f"- {dev}: workaround ÷ lowdown downtime at 1 GiB, 1 Gbit/s: "
                       f"{x:.1f} ({_ms(w['downtime_ms'])} / {_ms(lo['downtime_ms'])} ms; "
                       f"target ≥ 20){'' if x >= 20 else ' **not met**'}")
        elif w or lo:
            out.append(f"- {dev}: workaround ÷ lowdown at 1 GiB: not measured "
                       "(one of the two is missing or did not complete)")

    # 4. Upstream without tracking: refused or lossy
    for r in rs:
        if r.sc.mode != "notrack":
            continue
        if r.status == "completed":
            what = ("lossy: " + r["memory"]) if r["memory"] != "identical" else \
                "completed, and no loss seen in this run"
        elif r.status == "refused":
            what = f"refused: {r.raw.get('error', '')}"
        else:
            what = f"{r.status}: {r.raw.get('error') or ''}"
        out.append(f"- {r.sc.short()} (upstream): {what}")

    # 5. The limiter (vfsim): the cut of device state and the bytes
    def done(row):
        return row if row and row.status == "completed" else None
    lo = done(idx.get(Scenario(mode="lowdown")))
    n = done(idx.get(Scenario(mode="noprecopy")))
    if lo and n and n["dev_stop_copy_bytes"] and lo["dev_stop_copy_bytes"] is not None:
        cut = 1 - lo["dev_stop_copy_bytes"] / n["dev_stop_copy_bytes"]
        out.append(f"- vfsim: device state inside the downtime, lowdown vs PRE_COPY off: "
                   f"{lo['dev_stop_copy_bytes']} vs {n['dev_stop_copy_bytes']} bytes, "
                   f"cut {cut * 100:.0f} % (target ≥ 75 %)")
    u = done(idx.get(Scenario(mode="nolimit")))
    if lo and u and u["total_bytes"]:
        out.append(f"- vfsim: total bytes, lowdown vs PRE_COPY without the limiter: "
                   f"{lo['total_bytes']} vs {u['total_bytes']}, "
                   f"{(lo['total_bytes'] / u['total_bytes'] - 1) * 100:+.0f} % (target ≤ +10 %)")
    for r in rs:
        if r.sc.mode == "lowdown" and r.sc.feat == "none" and r["vs_floor"] \
                and r.status == "completed":
            out.append(f"- {r.sc.short()}: ÷ link floor {r['vs_floor']:.2f}, ÷ floor over "
                       f"QEMU's throughput {_r2(r['vs_floor_qemu'])} (the floors leave "
                       "out QEMU's own cost under TCG; the baseline above does not)")
    out += limiter_pairs(rs)

    # 6. Migration features against the default path
    for r in rs:
        if r.sc.feat == "none":
            continue
        d = done(idx.get(r.sc.twin(feat="none")))
        if d and r.status == "completed":
            out.append(f"- {r.sc.short()}: downtime {_ms(r['downtime_ms'])} ms, total "
                       f"{_ms(r['total_ms'])} ms; the default path {_ms(d['downtime_ms'])} ms, "
                       f"total {_ms(d['total_ms'])} ms (× {_r2(_ratio(r['downtime_ms'], d['downtime_ms']))})")

    # 7. Memory
    out.append("- memory: " + "; ".join(f"{r.sc.short()}: {r['memory']}" for r in rs))
    return out, ok


def _ratio(a, b):
    return a / b if a is not None and b else None


def limiter_pairs(rs):
    """Each vfsim lowdown row against its noprecopy twin: downtime ≤,
    total bytes ≤ 1.1 ×, and for a hot set (span > 0) device bytes in the
    downtime ≥ 75 % less, or within 1 % of the most the hot set leaves
    (1 - span ÷ ctx)."""
    idx = _index(rs)
    out = ["", "The limiter: each vfsim lowdown row against its noprecopy twin "
           "(targets: downtime ≤, total bytes ≤ 1.1 ×; hot-set rows, span > 0: "
           "device bytes in the downtime ≥ 75 % less, or within 1 % of the most "
           "the hot set leaves, 1 - span ÷ ctx):", "",
           "| scenario | downtime ms lowdown / noprecopy | total MB lowdown / noprecopy | × | device MB in the downtime lowdown / noprecopy | cut | met |",
           "|---|---|---|---|---|---|---|"]
    any_pair = False
    for r in rs:
        if r.sc.device != "vfsim" or r.sc.mode != "lowdown":
            continue
        n = idx.get(r.sc.twin(mode="noprecopy"))
        if not n:
            continue
        any_pair = True
        lt, nt = r["total_bytes"] or 0, n["total_bytes"] or 0
        ls, ns = r["dev_stop_copy_bytes"], n["dev_stop_copy_bytes"]
        if ls is None or ns is None or r.status != "completed" or n.status != "completed":
            out.append(f"| {r.sc.short()} | - | - | - | - | - | not measured |")
            continue
        cut = 1 - ls / ns if ns else 0
        d_ok = (r["downtime_ms"] if r["downtime_ms"] is not None else 1e9) <= \
            (n["downtime_ms"] or 0)
        t_ok = nt > 0 and lt <= 1.1 * nt
        want = min(0.75, 1 - size(r.sc.span) / size(r.sc.ctx) - 0.01)
        c_ok = r.sc.span == "0" or cut >= want
        verdict = "yes" if d_ok and t_ok and c_ok else "**no:" + \
            ("" if d_ok else " downtime") + ("" if t_ok else " bytes") + \
            ("" if c_ok else " cut") + "**"
        out.append(f"| {r.sc.short()} | {_ms(r['downtime_ms'])} / {_ms(n['downtime_ms'])} "
                   f"| {lt / 1e6:.2f} / {nt / 1e6:.2f} | {_r2(_ratio(lt, nt))} "
                   f"| {ls / 1e6:.2f} / {ns / 1e6:.2f} | {cut * 100:.0f} % | {verdict} |")
    return out if any_pair else []


def markdown(rs):
    """The whole report: the table, the kernel phases, the targets."""
    t, _ = targets(rs)
    return "\n".join(table(rs) + _kernel(rs) + t) + "\n"


def compare(base, new, threshold=25.0):
    """Lines comparing two runs, and whether nothing regressed: a scenario
    in both whose downtime grew by more than threshold percent, or whose
    memory was identical and is not now, is a regression."""
    old = _index(base)
    lines, ok = [], True
    for r in new:
        o = old.get(r.sc)
        if not o:
            continue
        key = r.sc.short()
        od, nd = o["downtime_ms"], r["downtime_ms"]
        if od and nd is not None and nd > od * (1 + threshold / 100):
            lines.append(f"REGRESSION {key}: downtime {od} -> {nd} ms")
            ok = False
        elif o["memory"] == "identical" and r["memory"] != "identical":
            lines.append(f"REGRESSION {key}: memory was identical, now {r['memory']}")
            ok = False
        else:
            lines.append(f"ok {key}: downtime {od} -> {nd} ms")
    return lines, ok
