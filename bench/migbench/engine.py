# SPDX-License-Identifier: GPL-2.0
"""The engine: one scenario, one live migration, in the test VM.

Engine.run(scenario) sets up and measures one migration and returns its raw
record (a dict, JSON as it stands): what QEMU's query-migrate said, the
QMP events of both sides, the kernel's phase breakdown from the
tracepoints, the pinger's log summed up and the memory verdict.  metrics.py
turns that into numbers.

What it drives, in order:

1. the link: network namespaces lds and ldd, a veth pair, tc tbf on both
   ends, and its TCP bandwidth measured (bench/linkbw);
2. the device: two vfsim mdevs, or two fresh VFs of the igb PF bound to
   igb-vfio-pci (the guest moves from VF 0 to VF 1), set up for the mode;
   none for a baseline;
3. two QEMU 10: the source in lds, its RAM a private mapping of a pattern
   file (non-zero, every page stamped with its number), and the
   destination in ldd, started with -S -incoming defer and listening once
   both sides have their capabilities;
4. the load: vfsim's DMA and churn, or the guest's own dirtier; for the VF,
   bench/pinger's echo requests from the PF every "ping";
5. the migration with the vfio_mig and iommufd_dirty tracepoints on,
   polling query-migrate (the progress line) and keeping the destination's
   QMP events (their time stamps time the hold below);
6. the memory check while both are paused: the source in postmigrate, the
   destination not yet run; then the destination continues, and the
   pinger runs on until the guest answers again.

Every setup step is checked: a sysfs write, tc command or QMP command
that fails raises SetupError, and the scenario stops with that message
instead of measuring something else.  Whatever a scenario set up is torn
down before the next, whether it ended well or not.
"""

import gzip
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid as uuidlib

from . import scenario as scn

QBASE = 0x1000000           # guest address of vfsim's DMA ring
PORT = 4500
SRC_IP, DST_IP = "10.77.0.1", "10.77.0.2"
PF_IP, GUEST_IP = "10.78.0.1", "10.78.0.20"
GUEST_MAC = "52:54:00:1d:0e:11"
TRACEFS = "/sys/kernel/tracing"
CONSERVATIVE = "/sys/module/iommufd/parameters/dirty_conservative"
DMA_REPORTS = "/sys/module/igb_vfio_pci/parameters/dma_reports"
VFSIM_TYPES = "/sys/class/mdev_bus/vfsim/mdev_supported_types/vfsim-vf"
RAMDIR = "/run/downtime-ram"
MIGRATION_TIMEOUT = 900


class SetupError(Exception):
    """A setup step failed: the scenario stops with this message."""


def log(msg):
    print(f"downtime: {msg}", file=sys.stderr, flush=True)


def sh(*cmd, what, ns=None, timeout=120, check=True, **kw):
    """Run cmd (in network namespace ns), its stdout; SetupError on failure."""
    argv = (["ip", "netns", "exec", ns] if ns else []) + [str(c) for c in cmd]
    try:
        p = subprocess.run(argv, capture_output=True, text=True,
                           timeout=timeout, **kw)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise SetupError(f"{what}: {' '.join(argv)}: {e}") from e
    if check and p.returncode:
        raise SetupError(f"{what}: '{' '.join(argv)}' exited {p.returncode}: "
                         f"{(p.stderr or p.stdout).strip()}")
    return p.stdout


def write(path, value, verify=False):
    """Write value to a sysfs/procfs/tracefs file; SetupError when the
    write fails, or (verify) when the file does not read back the value."""
    text = str(value)
    try:
        with open(path, "w") as f:
            f.write(text + "\n")
    except OSError as e:
        raise SetupError(f"cannot write {text!r} to {path}: "
                         f"{e.strerror or e}") from e
    if verify:
        got = read(path)
        if got != text:
            raise SetupError(f"{path} reads {got!r} after writing {text!r}")


def read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError as e:
        raise SetupError(f"cannot read {path}: {e.strerror or e}") from e


class QmpError(Exception):
    """QEMU answered a QMP command with an error."""


class Qmp:
    """A QMP connection over QEMU's unix socket.  Events that arrive
    between replies are kept in .events, in order."""

    def __init__(self, path, timeout=120):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.timeout = timeout
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""
        self.events = []
        self._recv()                            # the greeting
        self.cmd("qmp_capabilities")

    def _recv(self):
        while b"\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise QmpError(f"{self.path}: QEMU closed the connection")
            self.buf += data
        line, _, self.buf = self.buf.partition(b"\n")
        return json.loads(line)

    def cmd(self, name, **args):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            r = self._recv()
            if "event" in r:
                self.events.append(r)
                continue
            if "error" in r:
                raise QmpError(f"{name}: {r['error'].get('desc', r['error'])}")
            return r.get("return")

    def poll_events(self):
        """Read the events that have arrived, without blocking."""
        self.sock.setblocking(False)
        try:
            while True:
                try:
                    data = self.sock.recv(65536)
                except BlockingIOError:
                    break
                if not data:
                    break
                self.buf += data
        finally:
            self.sock.settimeout(self.timeout)
        while b"\n" in self.buf:
            line, _, self.buf = self.buf.partition(b"\n")
            r = json.loads(line)
            if "event" in r:
                self.events.append(r)

    def close(self):
        self.sock.close()


def event_time(ev):
    return ev["timestamp"]["seconds"] + ev["timestamp"]["microseconds"] / 1e6


class Qemu:
    """A daemonized QEMU in a network namespace, with QMP on a socket."""

    def __init__(self, work, name, ns, args):
        self.name = name
        self.sock = os.path.join(work, f"{name}.sock")
        self.pidfile = os.path.join(work, f"{name}.pid")
        self.qmp = None
        self.pid = None
        sh("qemu-system-x86_64", "-M", "q35", "-accel", "tcg", "-nodefaults",
           "-display", "none", "-qmp", f"unix:{self.sock},server=on,wait=off",
           "-pidfile", self.pidfile, "-daemonize", *args,
           what=f"QEMU {name} does not start", ns=ns, timeout=300)
        self.pid = int(read(self.pidfile))
        for _ in range(100):
            if os.path.exists(self.sock):
                break
            time.sleep(0.1)
        try:
            self.qmp = Qmp(self.sock)
        except (OSError, QmpError, ValueError) as e:
            self.kill()
            raise SetupError(f"QEMU {name}: no QMP on {self.sock}: {e}") from e

    def cmd(self, name, **args):
        """A QMP command whose failure stops the scenario."""
        try:
            return self.qmp.cmd(name, **args)
        except (OSError, QmpError) as e:
            raise SetupError(f"QEMU {self.name}: {e}") from e

    def ram_hva(self):
        """The host address of guest RAM (memory backend ram0)."""
        text = self.cmd("x-query-ramblock")["human-readable-text"]
        for line in text.splitlines():
            f = line.split()
            if f and f[0].endswith("ram0"):
                return f[-2]
        raise SetupError(f"QEMU {self.name}: no ram0 in x-query-ramblock")

    def kill(self):
        if self.qmp:
            self.qmp.close()
            self.qmp = None
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            for _ in range(200):
                try:
                    os.kill(self.pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)
            self.pid = None
        for f in (self.sock, self.pidfile):
            if os.path.exists(f):
                os.unlink(f)


class Link:
    """Two namespaces joined by a veth pair shaped by tc tbf both ways."""

    def __init__(self, linkbw):
        self.linkbw = linkbw

    def down(self):
        for ns in ("lds", "ldd"):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)

    def up(self, rate):
        self.down()
        for args in (("netns", "add", "lds"), ("netns", "add", "ldd"),
                     ("link", "add", "ldv0", "type", "veth", "peer", "name", "ldv1"),
                     ("link", "set", "ldv0", "netns", "lds"),
                     ("link", "set", "ldv1", "netns", "ldd"),
                     ("-n", "lds", "addr", "add", f"{SRC_IP}/24", "dev", "ldv0"),
                     ("-n", "ldd", "addr", "add", f"{DST_IP}/24", "dev", "ldv1"),
                     ("-n", "lds", "link", "set", "ldv0", "up"),
                     ("-n", "ldd", "link", "set", "ldv1", "up"),
                     ("-n", "lds", "link", "set", "lo", "up"),
                     ("-n", "ldd", "link", "set", "lo", "up")):
            sh("ip", *args, what="the link")
        for ns, dev in (("lds", "ldv0"), ("ldd", "ldv1")):
            sh("tc", "-n", ns, "qdisc", "add", "dev", dev, "root", "tbf",
               "rate", rate, "burst", "1mb", "latency", "100ms",
               what=f"shaping the link to {rate}")
            got = sh("tc", "-n", ns, "qdisc", "show", "dev", dev, what="the link")
            if "tbf" not in got:
                raise SetupError(f"no tbf qdisc on {dev}: {got.strip()}")

    def measure(self):
        """The link's TCP bandwidth, bits per second."""
        server = subprocess.Popen(["ip", "netns", "exec", "ldd", self.linkbw,
                                   "-s", str(PORT - 1)])
        try:
            time.sleep(0.3)
            out = sh(self.linkbw, "-c", DST_IP, PORT - 1, 128,
                     what="measuring the link", ns="lds")
        finally:
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
        f = out.split()
        if len(f) < 3:
            raise SetupError(f"linkbw said {out!r}")
        return float(f[2])


class Trace:
    """lowdown's tracepoints into tracefs, for the phase breakdown."""

    def start(self):
        write(f"{TRACEFS}/tracing_on", 0)
        write(f"{TRACEFS}/trace", "")
        write(f"{TRACEFS}/buffer_size_kb", 16384)
        write(f"{TRACEFS}/events/vfio_mig/enable", 1)
        write(f"{TRACEFS}/events/iommufd_dirty/enable", 1)
        write(f"{TRACEFS}/events/iommufd_dirty/iommufd_dirty_log_mark/enable", 0)
        write(f"{TRACEFS}/tracing_on", 1)

    def off(self):
        """Tracing and the events off (never fails: it runs in clean-up)."""
        for f in ("tracing_on", "events/vfio_mig/enable",
                  "events/iommufd_dirty/enable"):
            try:
                write(f"{TRACEFS}/{f}", 0)
            except SetupError:
                pass

    def stop(self):
        """Tracing off; the trace's text."""
        self.off()
        try:
            with open(f"{TRACEFS}/trace", errors="replace") as f:
                return f.read()
        except OSError:
            return ""


_PHASE = re.compile(r"^  (stop arcs|final device read|final dirty sync|"
                    r"device load|resume arcs|window)\s+(\d+) us")
_BYTES = re.compile(r"^  (\S+)\s+(PRE_COPY|STOP_COPY|RESUMING|\S+)\s+(\d+)$")


def phases(migphases, trace):
    """tools/perf/migphases.sh's summary of a trace: the kernel-side phases
    (microseconds) and the data bytes per device state."""
    p = subprocess.run([migphases, "summary"], input=trace,
                       capture_output=True, text=True, errors="replace")
    us, dev, section = {}, {}, None
    if p.returncode or not p.stdout:
        return {"us": us, "bytes": dev,
                "error": f"migphases.sh exited {p.returncode}: {p.stderr.strip()[-300:]}"}
    for line in p.stdout.splitlines():
        if line.startswith("Data bytes"):
            section = "bytes"
            continue
        if line and not line.startswith(" "):
            section = None
        m = _PHASE.match(line)
        if m:
            us[m.group(1).replace(" ", "_")] = int(m.group(2))
        m = _BYTES.match(line)
        if m and section == "bytes":
            dev.setdefault(m.group(1), {})[m.group(2)] = int(m.group(3))
    return {"us": us, "bytes": dev}


_REPLY = re.compile(r"^r (\d+) (\d+) (\d+)$", re.M)
_SKIP = re.compile(r"^s (\d+) (\d+)$", re.M)
_SENT = re.compile(r"^sent (\d+) skipped (\d+)$", re.M)
# requests this close to the pinger's end may still be on their way
IN_FLIGHT = 1.0


def ping_summary(text, interval, hold=None):
    """bench/pinger's log summed up: requests and replies, the longest
    time between two replies, and the requests never answered.  hold,
    (start, end) in the same clock (seconds), is the time the benchmark
    itself kept the guest paused (the memory check): the gap that spans
    it counts without it, and the requests sent in it count apart, as do
    the requests the pinger skipped (not run in time) and those of its
    last second."""
    replies = {}
    for m in _REPLY.finditer(text):
        replies.setdefault(int(m.group(1)), (int(m.group(2)) / 1e9,
                                             int(m.group(3)) / 1e9))
    skipped = set()
    for m in _SKIP.finditer(text):
        skipped.update(range(int(m.group(1)), int(m.group(1)) + int(m.group(2))))
    m = _SENT.search(text)
    sent = int(m.group(1)) if m else None
    if len(replies) < 2 or sent is None:
        return {"sent": sent, "replies": len(replies), "skipped": len(skipped)}
    times = sorted(r for _, r in replies.values())
    held = hold[1] - hold[0] if hold else 0.0
    switch_gap, other_gap = None, 0.0
    for a, b in zip(times, times[1:]):
        if hold and a <= hold[1] and b >= hold[0]:
            # less the part of the hold inside this gap
            g = b - a - (min(b, hold[1]) - max(a, hold[0]))
            switch_gap = g if switch_gap is None else max(switch_gap, g)
        else:
            other_gap = max(other_gap, b - a)
    # request n left at about start + n * interval (its send time stamp,
    # where it was answered)
    seq0 = min(replies)
    start = replies[seq0][0] - seq0 * interval
    counted = sent - int(IN_FLIGHT / interval)
    lost = in_hold = 0
    for n in range(counted):
        if n in replies or n in skipped:
            continue
        if hold and hold[0] <= start + n * interval <= hold[1]:
            in_hold += 1
        else:
            lost += 1
    return {
        "interval_ms": interval * 1000,
        "sent": sent,
        "skipped": len(skipped),
        "replies": len(replies),
        "lost": lost,
        "lost_in_hold": in_hold,
        "hold_ms": held * 1000,
        "answered_after_hold": times[-1] > hold[1] if hold else None,
        # the first reply to a request sent after the hold: when the guest
        # answered anew, not what it had received before the stop
        "new_reply_after_hold_ms": (min((r for s, r in replies.values() if s > hold[1]),
                                        default=hold[1]) - hold[1]) * 1000
        if hold and any(s > hold[1] for s, _ in replies.values()) else None,
        "switchover_gap_ms": None if switch_gap is None else switch_gap * 1000,
        "other_gap_ms": other_gap * 1000,
        "rtt_ms_median": sorted(r - s for s, r in replies.values())[len(replies) // 2] * 1000,
    }


class Console:
    """Times the guest's "beat N" lines (kernel/guest/dirty.c, every 20 ms)
    as they reach the two QEMUs' console files: when the guest last ran on
    the source and first ran on the destination."""

    def __init__(self, paths):
        self.paths = paths
        self.beats = {side: [] for side in paths}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self):
        pos = {side: 0 for side in self.paths}
        rest = {side: b"" for side in self.paths}
        while not self.stop.is_set():
            for side, path in self.paths.items():
                try:
                    with open(path, "rb") as f:
                        f.seek(pos[side])
                        data = f.read()
                except OSError:
                    continue
                if not data:
                    continue
                now = time.time()
                pos[side] += len(data)
                lines = (rest[side] + data).split(b"\n")
                rest[side] = lines.pop()
                for line in lines:
                    m = re.search(rb"\bbeat (\d+)$", line.strip())
                    if m:
                        self.beats[side].append((now, int(m.group(1))))
            time.sleep(0.005)

    def close(self):
        self.stop.set()
        self.thread.join()
        return {side: [(round(t, 4), n) for t, n in
                       (b[:400] if side == "dst" else b[-400:])]
                for side, b in self.beats.items()}


class Vfsim:
    """A vfsim mdev."""

    def __init__(self):
        if not os.path.isdir(VFSIM_TYPES):
            sh("modprobe", "vfsim", what="loading vfsim")
        self.uuid = str(uuidlib.uuid4())
        write(f"{VFSIM_TYPES}/create", self.uuid)
        self.dir = f"/sys/bus/mdev/devices/{self.uuid}"
        self.name = self.uuid

    def set(self, knob, value):
        write(f"{self.dir}/vfsim/{knob}", value)

    def qemu_arg(self, extra=""):
        return f"vfio-pci,sysfsdev={self.dir},iommufd=fd0,enable-migration=on{extra}"

    def limiter(self, on):
        d = [e for e in os.listdir(f"{self.dir}/vfio-dev") if e.startswith("vfio")]
        if len(d) != 1:
            raise SetupError(f"{self.dir}: no vfio device")
        write(f"{self.dir}/vfio-dev/{d[0]}/migration/limiter", int(on), verify=True)

    def remove(self):
        try:
            write(f"{self.dir}/remove", 1)
        except SetupError as e:
            log(f"vfsim {self.uuid}: {e}")


class IgbPf:
    """The test VM's igb PF; two fresh VFs on igb-vfio-pci per scenario."""

    def __init__(self):
        self.pf = None
        for d in sorted(os.listdir("/sys/bus/pci/devices")):
            p = f"/sys/bus/pci/devices/{d}"
            if read(f"{p}/vendor") == "0x8086" and read(f"{p}/device") == "0x10c9" \
               and os.path.exists(f"{p}/sriov_numvfs"):
                self.pf = p
                break
        if not self.pf:
            raise SetupError("no igb SR-IOV PF (8086:10c9) in this VM")
        nets = os.listdir(f"{self.pf}/net")
        if not nets:
            raise SetupError(f"{self.pf}: no network interface")
        self.net = nets[0]
        sh("modprobe", "igb-vfio-pci", what="loading igb-vfio-pci")
        sh("ip", "link", "set", self.net, "up", what="the PF")
        sh("ip", "addr", "replace", f"{PF_IP}/24", "dev", self.net, what="the PF")

    def fresh_vfs(self):
        """Two new VFs bound to igb-vfio-pci, VF 0 with the guest's MAC;
        their PCI addresses."""
        write(f"{self.pf}/sriov_numvfs", 0)
        write(f"{self.pf}/sriov_drivers_autoprobe", 0)
        write(f"{self.pf}/sriov_numvfs", 2, verify=True)
        sh("ip", "link", "set", self.net, "vf", 0, "mac", GUEST_MAC,
           what="the VF's MAC")
        vfs = []
        for i in range(2):
            vf = os.path.basename(os.readlink(f"{self.pf}/virtfn{i}"))
            write(f"/sys/bus/pci/devices/{vf}/driver_override", "igb_vfio_pci")
            write("/sys/bus/pci/drivers_probe", vf)
            drv = os.path.basename(os.readlink(f"/sys/bus/pci/devices/{vf}/driver"))
            if drv != "igb_vfio_pci":
                raise SetupError(f"VF {vf} is bound to {drv}, not igb_vfio_pci")
            vfs.append(vf)
        return vfs

    def release(self):
        try:
            write(f"{self.pf}/sriov_numvfs", 0)
        except SetupError as e:
            log(str(e))

    def cleanup(self):
        self.release()
        subprocess.run(["ip", "addr", "flush", "dev", self.net, "scope", "global"],
                       capture_output=True)
        try:
            write(f"{self.pf}/sriov_drivers_autoprobe", 1)
        except SetupError:
            pass


def wait_for(what, cond, timeout, step=0.5):
    """Poll cond until it holds; SetupError after timeout seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(step)
    raise SetupError(f"{what}: not after {timeout} s")


def console_text(path):
    """A console file's text so far ("" before it exists)."""
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


class Engine:
    """Runs scenarios; one per call of run()."""

    def __init__(self, top, keep=None):
        """keep: a directory for each pinged scenario's ping log
        (ping-N.log.gz, N counting the scenarios run)."""
        self.top = top
        self.keep = keep
        self.n = 0
        self.obj = self.dirs(top)["OBJ"]
        self.bin = f"{self.obj}/lowdown/bin"
        self.migphases = f"{top}/tools/perf/migphases.sh"
        self.guest = subprocess.run([f"{top}/kernel/build-guest", "--path"],
                                    capture_output=True, text=True).stdout.strip()
        self.work = tempfile.mkdtemp(prefix="downtime.")
        self.link = Link(f"{self.bin}/linkbw")
        self.trace = Trace()
        self.igb = None
        self.ramdir_mounted = False
        self.halt = os.path.join(self.work, "halt.bin")
        with open(self.halt, "wb") as f:
            # 64 KiB whose reset vector halts (hlt; jmp back): a guest whose
            # memory map never changes (SeaBIOS reprograms it at boot, and a
            # DMA into a window QEMU has unmapped for a moment stops vfsim,
            # as an IOMMU fault stops a VF)
            f.write(bytes(65520) + b"\xf4\xeb\xfd" + bytes(13))

    @staticmethod
    def dirs(top):
        """kernel/build's directories (SRC, OBJ, ...)."""
        out = subprocess.run([f"{top}/kernel/build", "--dirs"], check=True,
                             capture_output=True, text=True).stdout
        return dict(re.findall(r"^(\w+)=(\S*)$", out, re.M))

    # -- per bench run -------------------------------------------------

    def _ram_image(self, ram):
        """The pattern file the source's RAM starts from, one size at a
        time on a tmpfs of its own with transparent huge pages."""
        if not self.ramdir_mounted:
            os.makedirs(RAMDIR, exist_ok=True)
            sh("mount", "-t", "tmpfs", "-o", "huge=always,size=90%",
               "downtime-ram", RAMDIR, what="the RAM pattern's tmpfs")
            self.ramdir_mounted = True
        path = f"{RAMDIR}/pattern-{ram}"
        if not os.path.exists(path):
            for f in os.listdir(RAMDIR):
                os.unlink(f"{RAMDIR}/{f}")
            sh(f"{self.bin}/memimg", "fill", path + ".new", scn.size(ram),
               what="filling the RAM pattern", timeout=600)
            os.rename(path + ".new", path)
        return path

    def close(self):
        self.link.down()
        if self.igb:
            self.igb.cleanup()
        if self.ramdir_mounted:
            subprocess.run(["umount", RAMDIR], capture_output=True)
        subprocess.run(["rm", "-rf", self.work])

    # -- one scenario ----------------------------------------------------

    def run(self, sc):
        """One migration; its raw record.  A setup failure is recorded
        as status "error" with its message."""
        self.n += 1
        rec = {"scenario": sc.as_dict(), "status": "error", "error": None}
        undo = []
        t = {"begin": time.monotonic()}
        try:
            self._run(sc, rec, undo, t)
        except SetupError as e:
            # also after QEMU completed: the measurement did not finish
            rec["status"] = "error"
            rec["error"] = str(e)
        except Exception as e:  # noqa: BLE001 (a bug here must not end the run)
            rec["status"] = "error"
            rec["error"] = f"{type(e).__name__}: {e} ({traceback.format_exc(limit=3)})"
        finally:
            # what the guest said on both sides, for the reader of the record
            for side in ("src", "dst"):
                try:
                    with open(f"{self.work}/{side}.log", errors="replace") as f:
                        rec.setdefault("console", {})[side] = f.read()[-3000:]
                except OSError:
                    pass
            for fn in reversed(undo):
                try:
                    fn()
                except Exception as e:  # noqa: BLE001
                    log(f"clean-up: {e}")
            self.trace.off()
        t["end"] = time.monotonic()
        rec["wall_s"] = round(t["end"] - t["begin"], 1)
        return rec

    def _run(self, sc, rec, undo, t):
        fam = sc.device
        dev = sc.mode != "baseline"
        self.link.up(sc.link)
        undo.append(self.link.down)
        rec["link_bps"] = self.link.measure()
        img = self._ram_image(sc.ram)

        src_args = ["-m", sc.ram, "-machine", "memory-backend=ram0",
                    "-object", f"memory-backend-file,id=ram0,size={sc.ram},"
                    f"mem-path={img},share=off",
                    "-serial", f"file:{self.work}/src.log"]
        dst_args = ["-m", sc.ram, "-machine", "memory-backend=ram0",
                    "-object", f"memory-backend-ram,id=ram0,size={sc.ram}",
                    "-serial", f"file:{self.work}/dst.log",
                    "-S", "-incoming", "defer"]
        extra = {"none": "", "multifd": ",x-migration-multifd-transfer=on",
                 "switchover-ack": ""}[sc.feat]
        if sc.mode == "workaround":
            extra += ",x-pre-copy-dirty-page-tracking=off"
        for f in ("src.log", "dst.log"):
            if os.path.exists(f"{self.work}/{f}"):
                os.unlink(f"{self.work}/{f}")

        # The device, and the guest that goes with it
        src_dev = dst_dev = None
        ping = False
        if fam == "vfsim":
            if dev:
                src_dev, dst_dev = Vfsim(), None
                undo.append(src_dev.remove)
                dst_dev = Vfsim()
                undo.append(dst_dev.remove)
                for d in (src_dev, dst_dev):
                    d.set("ctx_size", scn.size(sc.ctx))
                    if sc.mode == "notrack":
                        d.set("dma_logging", 0)
                    if sc.mode == "noprecopy":
                        d.set("precopy", 0)
                guest = ["-bios", self.halt]
                src_args += ["-object", "iommufd,id=fd0",
                             "-device", src_dev.qemu_arg(extra)]
                dst_args += ["-object", "iommufd,id=fd0", "-device",
                             dst_dev.qemu_arg(extra.replace(
                                 ",x-pre-copy-dirty-page-tracking=off", ""))]
            else:
                guest = ["-kernel", f"{self.bin}/ramdirty", "-append",
                         f"base={QBASE} ring={sc.ring} rate={sc.rate}"]
            up_text = None if dev else r"^ramdirty: \d+ pages/s"
        else:
            if not os.path.isfile(self.guest):
                raise SetupError(f"no L2 guest at {self.guest} (kernel/build-guest)")
            # no_timer_check: the IO-APIC timer check fails under a busy
            # host (nested TCG) and panics the guest
            append = "console=ttyS0 quiet no_timer_check"
            if scn.size(sc.dirty):
                append += f" dirty.rate={scn.size(sc.dirty)}"
            if dev:
                if not self.igb:
                    self.igb = IgbPf()
                undo.append(self.igb.release)
                vfs = self.igb.fresh_vfs()
                src_dev, dst_dev = vfs
                append += f" ip={GUEST_IP}::{PF_IP}:255.255.255.0::eth0:off"
                ping = True
                mig = ",enable-migration=on" if sc.mode == "notrack" else ""
                src_args += ["-object", "iommufd,id=fd0", "-device",
                             f"vfio-pci,host={src_dev},iommufd=fd0{mig}{extra}"]
                dst_args += ["-object", "iommufd,id=fd0", "-device",
                             f"vfio-pci,host={dst_dev},iommufd=fd0{mig}"
                             + extra.replace(",x-pre-copy-dirty-page-tracking=off", "")]
            guest = ["-kernel", self.guest, "-append", append]
            up_text = r"^dirty: \d+ bytes/s" if scn.size(sc.dirty) else r"^guest: up"

        # The mode's kernel knobs.  dirty_conservative stays on for the
        # whole workaround scenario: a HWPT latches it when QEMU allocates
        # it, vfsim's DMA logging when QEMU starts logging, at the
        # migration.  igb-vfio-pci latches dma_reports when QEMU binds the
        # VF: off for the source only.  Both are put back at every
        # scenario's start and end, whatever the mode.
        def reports(on):
            if os.path.exists(DMA_REPORTS):
                write(DMA_REPORTS, "Y" if on else "N")
            elif fam == "igbvf" and not on:
                raise SetupError(f"no {DMA_REPORTS}: igb-vfio-pci is not loaded")

        def defaults():
            write(CONSERVATIVE, 0)
            reports(True)
        defaults()
        undo.append(defaults)
        if sc.mode == "workaround":
            write(CONSERVATIVE, 1)
        if fam == "igbvf" and sc.mode in ("workaround", "notrack"):
            reports(False)
        src = Qemu(self.work, "src", "lds", src_args + guest)
        undo.append(src.kill)
        reports(True)
        dst = Qemu(self.work, "dst", "ldd", dst_args + guest)
        undo.append(dst.kill)

        # The capabilities on both sides, the destination's before it listens
        # (events: the MIGRATION events whose time stamps time the hold)
        caps = {"none": [], "multifd": [{"capability": "multifd", "state": True}],
                "switchover-ack": [{"capability": "return-path", "state": True},
                                   {"capability": "switchover-ack", "state": True}]}[sc.feat]
        caps = caps + [{"capability": "events", "state": True}]
        src.cmd("migrate-set-capabilities", capabilities=caps)
        dst.cmd("migrate-set-capabilities", capabilities=caps)
        dst.cmd("migrate-incoming", uri=f"tcp:{DST_IP}:{PORT}")
        if sc.mode == "nolimit":
            src_dev.limiter(False)

        # The load
        if fam == "vfsim" and dev:
            src_dev.set("traffic", f"{sc.rate} {QBASE:#x} {sc.ring} seq")
            src_dev.set("churn_span", scn.size(sc.span))
            src_dev.set("churn", scn.size(sc.churn))
        if up_text:
            def up():
                text = console_text(f"{self.work}/src.log")
                bad = re.search(r"Kernel panic.*|^(ramdirty|dirty): .*(error|:).*$",
                                text, re.M)
                if bad and not re.search(up_text, bad.group(0)):
                    raise SetupError(f"the guest: {bad.group(0).strip()}")
                m = re.search(up_text + ".*$", text, re.M)
                if m:
                    rec["guest"] = m.group(0).strip()
                return bool(m)
            wait_for(f"the guest's \"{up_text}\" line", up, 300)
        console = None
        if fam == "igbvf" and scn.size(sc.dirty):
            console = Console({"src": f"{self.work}/src.log",
                               "dst": f"{self.work}/dst.log"})
            undo.append(console.close)
        pinger = None
        if ping:
            wait_for("the guest answering ping through the VF",
                     lambda: subprocess.run(["ping", "-c", "1", "-W", "1", GUEST_IP],
                                            capture_output=True).returncode == 0,
                     300, step=0)
            rec["boot_s"] = round(time.monotonic() - t["begin"], 1)
            pinglog = open(f"{self.work}/ping", "w")
            # real-time priority: in the two-vCPU VM, a pinger that is not
            # run skips requests (counted apart), and it sleeps otherwise
            undo.append(pinglog.close)
            try:
                pinger = subprocess.Popen(["chrt", "-f", "10", f"{self.bin}/pinger",
                                           "-i", str(scn.interval_us(sc.ping)), GUEST_IP],
                                          stdout=pinglog, stderr=subprocess.STDOUT)
            except OSError as e:
                raise SetupError(f"the pinger does not start: {e}") from e
            undo.append(pinger.kill)
            time.sleep(0.5)
            if pinger.poll() is not None:
                raise SetupError(f"the pinger exited {pinger.returncode}: "
                                 f"{console_text(f'{self.work}/ping').strip()[-300:]}")
        time.sleep(2 if ping else 1)

        # The migration
        self.trace.start()
        t["migrate"] = time.monotonic()
        info = self._migrate(src, sc)
        rec["status"] = info.get("status", "none")
        rec["query_migrate"] = info
        if rec["status"] != "completed" and info.get("error-desc"):
            rec["error"] = info["error-desc"]

        # Both paused: the memories, and the ring of a vfsim
        t["check"] = time.monotonic()
        if rec["status"] == "completed":
            self._wait_paused(dst)
            rec["memory"] = self._compare(src, dst, sc, src_dev if fam == "vfsim" else None)
            dst.cmd("cont")
            if pinger:
                # the guest answers again (or 30 s pass), and a little more
                end = time.monotonic() + 30
                while time.monotonic() < end and not self._ping_after(dst):
                    time.sleep(0.2)
                rec["answered_after_resume"] = self._ping_after(dst)
                time.sleep(1)
            else:
                time.sleep(1)
        t["trace"] = time.monotonic()
        if pinger:
            pinger.send_signal(signal.SIGINT)
            try:
                pinger.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pinger.kill()
            pinglog.close()
        dst.qmp.poll_events()
        rec["events"] = {"src": src.qmp.events, "dst": dst.qmp.events}
        if console:
            rec["beats"] = console.close()
        rec["phases"] = phases(self.migphases, self.trace.stop())
        rec["devices"] = {"src": getattr(src_dev, "name", src_dev),
                          "dst": getattr(dst_dev, "name", dst_dev)}
        if pinger:
            with open(f"{self.work}/ping") as f:
                text = f.read()
            rec["ping"] = ping_summary(text, scn.interval_us(sc.ping) / 1e6,
                                       self._hold(dst.qmp.events))
            if self.keep:
                name = f"ping-{self.n}.log.gz"
                with gzip.open(os.path.join(self.keep, name), "wt") as f:
                    f.write(text)
                rec["ping"]["log"] = name
        rec["time_s"] = {
            "setup": round(t["migrate"] - t["begin"], 1),
            "migration": round(t["check"] - t["migrate"], 1),
            "check": round(t["trace"] - t["check"], 1),
        }
        log(f"setup {rec['time_s']['setup']} s, migration "
            f"{rec['time_s']['migration']} s, memory check and resume "
            f"{rec['time_s']['check']} s")

    def _migrate(self, src, sc):
        """Migrate and poll query-migrate to the end, a progress line every
        half second; the last query-migrate."""
        t0 = time.monotonic()
        try:
            src.qmp.cmd("migrate", uri=f"tcp:{DST_IP}:{PORT}")
        except OSError as e:
            raise SetupError(f"QEMU src: migrate: {e}") from e
        except QmpError as e:
            # QEMU 10 refuses outright (a blocker): that is the result
            return {"status": "refused", "error-desc": str(e)}
        info = {}
        while True:
            info = src.cmd("query-migrate")
            st = info.get("status", "none")
            ms = (time.monotonic() - t0) * 1000
            print(f"\r  {st:<10} {ms:8.0f} ms  RAM "
                  f"{info.get('ram', {}).get('transferred', 0) // 10**6:6d} MB  "
                  f"device {info.get('vfio', {}).get('transferred', 0) // 10**6:6d} MB ",
                  end="", file=sys.stderr, flush=True)
            if st in ("completed", "failed", "cancelled"):
                break
            if ms > MIGRATION_TIMEOUT * 1000:
                src.cmd("migrate_cancel")
                info["status"] = "timeout"
                break
            time.sleep(0.5)
        print(file=sys.stderr)
        return info

    def _wait_paused(self, dst):
        """The destination has loaded everything (-S: paused, not run)."""
        def loaded():
            st = dst.cmd("query-status")["status"]
            return st in ("paused", "prelaunch") and \
                dst.cmd("query-migrate").get("status") == "completed"
        wait_for("the destination loading the state", loaded, 120, step=0.05)

    def _compare(self, src, dst, sc, vfsim):
        """Both guests' RAM compared in place (bench/memimg), and for a
        vfsim the destination's ring holding the source's last records."""
        out = subprocess.run([f"{self.bin}/memimg", "cmp",
                              f"{src.pid}@{src.ram_hva()}",
                              f"{dst.pid}@{dst.ram_hva()}",
                              str(scn.size(sc.ram))],
                             capture_output=True, text=True)
        m = re.search(r"^(\d+) pages differ$", out.stdout, re.M)
        if out.returncode == 2 or not m:
            raise SetupError(f"memimg cmp: {(out.stderr or out.stdout).strip()}")
        mem = {"pages_differ": int(m.group(1)), "records_ok": None}
        if vfsim:
            ring = f"{self.work}/ring.mem"
            dst.cmd("pmemsave", val=0, size=QBASE + sc.ring * 4096, filename=ring)
            r = subprocess.run([f"{self.bin}/migctl", "records", ring, "-b",
                                str(QBASE), "-w", str(sc.ring), "-x",
                                read(f"{vfsim.dir}/vfsim/seq")],
                               capture_output=True, text=True)
            os.unlink(ring)
            mem["records_ok"] = r.returncode == 0
            if r.returncode:
                mem["records"] = (r.stdout + r.stderr).strip()[-400:]
        mem["identical"] = mem["pages_differ"] == 0 and mem["records_ok"] is not False
        return mem

    def _ping_after(self, dst):
        """A reply to a request sent after the destination resumed (a reply
        to an older one can be the guest answering what it had received
        before the stop, while new requests still go unanswered)."""
        dst.qmp.poll_events()
        resumed = [event_time(e) for e in dst.qmp.events if e["event"] == "RESUME"]
        if not resumed:
            return False
        with open(f"{self.work}/ping") as f:
            return any(int(m.group(2)) / 1e9 > resumed[-1]
                       for m in _REPLY.finditer(f.read()))

    @staticmethod
    def _hold(events):
        """(loaded, resumed) on the destination: from its MIGRATION
        "completed" event to its RESUME, the time it was held paused for
        the memory check."""
        done = [event_time(e) for e in events if e["event"] == "MIGRATION"
                and e["data"].get("status") == "completed"]
        res = [event_time(e) for e in events if e["event"] == "RESUME"]
        if done and res and res[-1] >= done[-1]:
            return (done[-1], res[-1])
        return None
