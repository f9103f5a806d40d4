# SPDX-License-Identifier: GPL-2.0
"""The plots (PNG, through Debian's gnuplot-nox):

downtime.png
    per scenario: QEMU's downtime, its no-device baseline's and the link
    floor (log scale)
downtime-bytes.png
    per scenario: bytes of each phase (RAM before and inside the
    downtime, device PRE_COPY and STOP_COPY)
downtime-guest.png
    per pinged scenario: the guest's longest gap in ping replies against
    QEMU's downtime
"""

import os
import subprocess


def _label(r):
    s = r.sc.short().replace(" ", "\\n", 2)
    return '"' + s.replace('"', "") + '"'


def _n(v, scale=1.0):
    return 0 if v is None else v / scale


def plot(rs, outdir):
    """Write the PNGs of rows rs into outdir; False when gnuplot failed."""
    idx = {r.sc: r for r in rs}
    dat = os.path.join(outdir, "downtime.dat")
    with open(dat, "w") as f:
        for r in rs:
            b = idx.get(r.sc.baseline())
            f.write(f"{_label(r)} {_n(r['downtime_ms'])} "
                    f"{_n(b['downtime_ms']) if b and r.sc.mode != 'baseline' else 0} "
                    f"{_n(r['floor_ms'])}\n")
    bdat = os.path.join(outdir, "downtime-bytes.dat")
    with open(bdat, "w") as f:
        for r in rs:
            f.write(f"{_label(r)} {_n(r['ram_precopy_bytes'], 1e6)} "
                    f"{_n(r['ram_downtime_bytes'], 1e6)} "
                    f"{_n(r['dev_precopy_bytes'], 1e6)} "
                    f"{_n(r['dev_stop_copy_bytes'], 1e6)}\n")
    pinged = [r for r in rs if r['ping_gap_ms'] is not None]
    gdat = os.path.join(outdir, "downtime-guest.dat")
    with open(gdat, "w") as f:
        for r in pinged:
            f.write(f"{_label(r)} {_n(r['downtime_ms'])} {_n(r['ping_gap_ms'])}\n")
    script = f"""
set terminal png size 1200,650
set bmargin 6
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set grid ytics
set key top left
set logscale y
set output "{outdir}/downtime.png"
set title "Downtime per scenario, its no-device baseline and the link floor (ms, log scale)"
plot "{dat}" using 2:xtic(1) title "QEMU downtime", \\
     '' using 3 title "baseline (no device)", '' using 4 title "floor (link)"
unset logscale y
set style histogram rowstacked
set output "{outdir}/downtime-bytes.png"
set title "Bytes per phase (MB)"
plot "{bdat}" using 2:xtic(1) title "RAM before the stop", \\
     '' using 3 title "RAM inside the downtime", \\
     '' using 4 title "device PRE_COPY", '' using 5 title "device STOP_COPY"
"""
    if pinged:
        script += f"""
set style histogram clustered gap 1
set output "{outdir}/downtime-guest.png"
set title "What the guest sees: longest gap in ping replies vs QEMU downtime (ms)"
plot "{gdat}" using 2:xtic(1) title "QEMU downtime", '' using 3 title "ping gap"
"""
    p = subprocess.run(["gnuplot"], input=script, capture_output=True, text=True)
    for f in (dat, bdat, gdat):
        os.unlink(f)
    return p.returncode == 0
