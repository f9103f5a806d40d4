# SPDX-License-Identifier: GPL-2.0
"""Metrics: every number the report shows, computed from the raw record.

A metric is one entry in METRICS: its name (the key in a result's
"metrics"), its column header (None: computed but not a column of the
main table), how it is printed, and a function of the raw record r and
the metrics computed before it, m.  Adding a metric is adding an entry;
the table, the JSON, --compare and the plots pick it up by name.

The raw record is what engine.Engine.run() returns: query_migrate (QEMU's
last query-migrate on the source), events (both sides' QMP events),
phases (tools/perf/migphases.sh's summary: us per kernel-side phase, data
bytes per device and state), ping (engine.ping_summary), memory, link_bps.
"""

from dataclasses import dataclass
from typing import Any, Callable, Optional


@dataclass(frozen=True)
class Metric:
    name: str
    header: Optional[str]
    get: Callable[[dict, dict], Any]
    fmt: str = "{:.0f}"


def _qm(r, *path):
    v = r.get("query_migrate") or {}
    for p in path:
        if not isinstance(v, dict):
            return None
        v = v.get(p)
    return v


def _dev(r, state):
    """Device data bytes in state; None when the trace was not summed up
    (a scenario that stopped, or migphases.sh failing), not 0."""
    ph = r.get("phases")
    if not ph or ph.get("error"):
        return None
    return sum(s.get(state, 0) for s in ph.get("bytes", {}).values())


def _us(r, phase):
    v = (r.get("phases") or {}).get("us", {}).get(phase)
    return None if v is None else v / 1000


def _ev(r, side, name, **data):
    for e in (r.get("events") or {}).get(side, []):
        if e.get("event") == name and all(e.get("data", {}).get(k) == v
                                          for k, v in data.items()):
            return e["timestamp"]["seconds"] + e["timestamp"]["microseconds"] / 1e6
    return None


def _switchover(r, m):
    """Source STOP to the destination's "completed": the VM's real pause
    up to where a destination without -S would run."""
    stop = _ev(r, "src", "STOP")
    done = _ev(r, "dst", "MIGRATION", status="completed")
    return None if stop is None or done is None else (done - stop) * 1000


def _beats(r):
    b = r.get("beats") or {}
    src, dst = b.get("src") or [], b.get("dst") or []
    return (src[-1][0] if src else None), (dst[0][0] if dst else None)


def _guest_pause(r, m):
    """The guest's own view (its 20 ms beats on the console): from the
    last beat on the source to the first on the destination, less the
    benchmark's hold (the destination loaded, paused for the memory check)."""
    last, first = _beats(r)
    done = _ev(r, "dst", "MIGRATION", status="completed")
    res = _ev(r, "dst", "RESUME")
    if last is None or first is None or done is None or res is None:
        return None
    return (first - last - (res - done)) * 1000


def _beat_after_resume(r, m):
    _, first = _beats(r)
    res = _ev(r, "dst", "RESUME")
    return None if first is None or res is None else (first - res) * 1000


def _ratio(a, b):
    return a / b if a is not None and b else None


def _floor(r, m):
    bps = r.get("link_bps") or 0
    if not bps or m["downtime_bytes"] is None:
        return None
    return m["downtime_bytes"] * 8 / bps * 1000 + \
        (m["k_stop_arcs_ms"] or 0) + (m["k_resume_ms"] or 0)


def _floor_qemu(r, m):
    """The floor over QEMU's own mean RAM throughput instead of the link's."""
    mbps = m["ram_mbps"]
    if not mbps or m["downtime_bytes"] is None:
        return None
    return m["downtime_bytes"] * 8 / (mbps * 1e6) * 1000 + \
        (m["k_stop_arcs_ms"] or 0) + (m["k_resume_ms"] or 0)


def _memory(r, m):
    mem = r.get("memory")
    if not mem:
        return "-"
    if mem.get("identical"):
        return "identical"
    if mem.get("pages_differ", 0) > 0:
        return f"{mem['pages_differ']} pages differ"
    if mem.get("records_ok") is False:
        return "ring records missing"
    return "-"


def _sum(*vals):
    return None if any(v is None for v in vals) else sum(vals)


METRICS = [
    Metric("downtime_ms", "downtime ms", lambda r, m: _qm(r, "downtime")),
    Metric("total_ms", "total ms", lambda r, m: _qm(r, "total-time")),
    Metric("setup_ms", None, lambda r, m: _qm(r, "setup-time")),
    Metric("switchover_ms", "stop → loaded ms", _switchover),
    Metric("guest_pause_ms", "guest pause ms", _guest_pause),
    Metric("beat_after_resume_ms", None, _beat_after_resume),
    Metric("ping_gap_ms", "ping gap ms",
           lambda r, m: (r.get("ping") or {}).get("switchover_gap_ms")),
    Metric("ping_lost", "ping lost",
           lambda r, m: (r.get("ping") or {}).get("lost")),
    Metric("ping_other_gap_ms", None,
           lambda r, m: (r.get("ping") or {}).get("other_gap_ms")),
    Metric("ram_precopy_bytes", "RAM precopy MB",
           lambda r, m: _qm(r, "ram", "precopy-bytes"), "{:.1f}"),
    Metric("ram_downtime_bytes", None,
           lambda r, m: _qm(r, "ram", "downtime-bytes")),
    Metric("ram_bytes", None, lambda r, m: _qm(r, "ram", "transferred")),
    Metric("ram_mbps", None, lambda r, m: _qm(r, "ram", "mbps")),
    Metric("vfio_bytes", None, lambda r, m: _qm(r, "vfio", "transferred") or 0),
    Metric("dev_precopy_bytes", "device PRE_COPY MB",
           lambda r, m: _dev(r, "PRE_COPY"), "{:.2f}"),
    Metric("dev_stop_copy_bytes", "device STOP_COPY MB",
           lambda r, m: _dev(r, "STOP_COPY"), "{:.2f}"),
    Metric("downtime_bytes", "downtime MB (RAM + device)",
           lambda r, m: _sum(m["ram_downtime_bytes"], m["dev_stop_copy_bytes"]),
           "{:.1f}"),
    Metric("total_bytes", None,
           lambda r, m: _sum(m["ram_bytes"], m["vfio_bytes"])),
    Metric("k_stop_arcs_ms", None, lambda r, m: _us(r, "stop_arcs"), "{:.1f}"),
    Metric("k_final_read_ms", None, lambda r, m: _us(r, "final_device_read"), "{:.1f}"),
    Metric("k_dirty_sync_ms", None, lambda r, m: _us(r, "final_dirty_sync"), "{:.1f}"),
    Metric("k_load_ms", None, lambda r, m: _us(r, "device_load"), "{:.1f}"),
    Metric("k_resume_ms", None, lambda r, m: _us(r, "resume_arcs"), "{:.1f}"),
    Metric("k_window_ms", None, lambda r, m: _us(r, "window"), "{:.1f}"),
    Metric("floor_ms", "floor ms", _floor),
    Metric("vs_floor", "× floor", lambda r, m: _ratio(m["downtime_ms"], m["floor_ms"]),
           "{:.2f}"),
    Metric("floor_qemu_ms", None, _floor_qemu),
    Metric("vs_floor_qemu", None,
           lambda r, m: _ratio(m["downtime_ms"], m["floor_qemu_ms"]), "{:.2f}"),
    Metric("memory", "memory", _memory, "{}"),
]

BY_NAME = {mt.name: mt for mt in METRICS}

# Megabyte columns: bytes shown in MB
_MB = {"ram_precopy_bytes", "dev_precopy_bytes", "dev_stop_copy_bytes",
       "downtime_bytes"}


def compute(r):
    """The metrics of raw record r, in METRICS order."""
    m = {}
    for mt in METRICS:
        try:
            m[mt.name] = mt.get(r, m)
        except (KeyError, TypeError, ZeroDivisionError):
            m[mt.name] = None
    return m


def show(name, value):
    """A metric's value as the table prints it ("-" when absent)."""
    if value is None:
        return "-"
    mt = BY_NAME[name]
    if name in _MB:
        value = value / 1e6
    try:
        return mt.fmt.format(value)
    except (ValueError, TypeError):
        return str(value)


def upgrade(rec):
    """A record of the bash benchmark (bench/downtime.sh, before the
    Python rewrite) as a raw record, so that --compare and the report
    read old results."""
    if "query_migrate" in rec or "qemu" not in rec:
        return rec
    q, d, k = rec["qemu"], rec.get("device", {}), rec.get("kernel_us", {})
    sc = {"device": "vfsim"}
    sc.update({key: v for key, v in rec["scenario"].items()
               if not (key == "feat" and v is None)})
    return {
        "scenario": sc,
        "status": rec.get("status"),
        "link_bps": (rec.get("link_mbps") or 0) * 1e6,
        "query_migrate": {
            "status": rec.get("status"),
            "downtime": q.get("downtime_ms"), "total-time": q.get("total_ms"),
            "setup-time": q.get("setup_ms"),
            "ram": {"precopy-bytes": q.get("ram_precopy_bytes"),
                    "downtime-bytes": q.get("ram_downtime_bytes"),
                    "transferred": q.get("ram_bytes"), "mbps": q.get("ram_mbps")},
            "vfio": {"transferred": q.get("vfio_bytes") or 0},
        },
        "phases": {
            "us": {"stop_arcs": k.get("stop_arcs", 0),
                   "final_device_read": k.get("final_read", 0),
                   "final_dirty_sync": k.get("final_dirty_sync", 0),
                   "device_load": k.get("device_load", 0),
                   "resume_arcs": k.get("resume_arcs", 0)},
            "bytes": {"device": {"PRE_COPY": d.get("precopy_bytes", 0),
                                 "STOP_COPY": d.get("stop_copy_bytes", 0)}},
        },
        "memory": rec.get("memory"),
        "upgraded": True,
    }
