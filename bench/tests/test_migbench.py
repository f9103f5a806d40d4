#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Tests of the downtime benchmark's code (bench/migbench), as a kselftest
suite: KTAP out, a "# Totals:" line and "N passed, N failed" last.

Host-side, in seconds: scenarios and matrices, metrics, the report's
targets against the bash benchmark's own verdicts on its last full run
(data/bash-full.json and .md: the rewrite must reach the same verdicts
from the same numbers), the ping arithmetic, --compare.  As root (the
test VM): the engine's checked setup writes, and one live vfsim
migration and its baseline through bench/downtime, memory compared.

  bench/tests/test_migbench.py [-k PATTERN] [--no-live]
"""

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.realpath(__file__))
BENCH = os.path.dirname(HERE)
sys.path.insert(0, BENCH)

from migbench import engine, metrics, report, scenario  # noqa: E402
from migbench.scenario import Scenario  # noqa: E402

DATA = os.path.join(HERE, "data")
LIVE = os.geteuid() == 0 and "--no-live" not in sys.argv


class Scenarios(unittest.TestCase):
    def test_parse_and_name_round_trip(self):
        s = Scenario.parse("device=vfsim mode=nolimit ram=256M churn=10M span=0")
        self.assertEqual((s.mode, s.ram, s.churn, s.span), ("nolimit", "256M", "10M", "0"))
        self.assertEqual(Scenario.parse(s.name()), s)
        v = Scenario.parse("device=igbvf mode=workaround dirty=16M")
        self.assertEqual(Scenario.parse(v.name()), v)
        self.assertNotIn("ctx=", v.name())

    def test_bad_keys_are_errors(self):
        for bad in ("mode=fast", "ram=lots", "link=1gb", "device=igbvf ctx=1M",
                    "device=vfsim dirty=1M", "device=igbvf mode=nolimit",
                    "color=red", "ram", "span=8M", "feat=postcopy",
                    "mode=baseline churn=10M"):
            with self.assertRaises(ValueError, msg=bad):
                Scenario.parse(bad)

    def test_baseline_drops_the_device_and_keeps_the_load(self):
        s = Scenario.parse("mode=lowdown ram=2G rate=500 churn=10M span=1M link=100mbit")
        b = s.baseline()
        self.assertEqual(b.mode, "baseline")
        self.assertEqual((b.ram, b.rate, b.link), ("2G", 500, "100mbit"))
        self.assertEqual((b.ctx, b.churn, b.span), ("4M", "1M", "256K"))
        self.assertNotIn("churn", b.name())
        g = Scenario(device="igbvf", dirty="16M").baseline()
        self.assertEqual((g.device, g.dirty), ("igbvf", "16M"))

    def test_every_matrix_has_every_baseline(self):
        for name in scenario.MATRICES:
            m = scenario.matrix(name)
            self.assertEqual(len(m), len(set(m)), name)
            for s in m:
                self.assertIn(s.baseline(), m, f"{name}: {s.name()}")

    def test_default_matrix_covers_both_devices_and_modes(self):
        m = scenario.matrix("default")
        for dev in ("vfsim", "igbvf"):
            for mode in ("lowdown", "workaround", "notrack", "baseline"):
                self.assertIn(Scenario(device=dev, mode=mode), m)
        self.assertIn(Scenario(mode="noprecopy"), m)

    def test_full_matrix_covers_every_axis(self):
        m = scenario.matrix("full")
        for dev in ("vfsim", "igbvf"):
            d = [s for s in m if s.device == dev]
            self.assertEqual({s.mode for s in d}, set(scenario.DEVICE_MODES[dev]), dev)
            self.assertGreater(len({s.ram for s in d}), 1, dev)
            self.assertGreater(len({s.link for s in d}), 1, dev)
        self.assertGreater(len({s.rate for s in m if s.device == "vfsim"}), 1)
        self.assertGreater(len({s.dirty for s in m if s.device == "igbvf"}), 1)
        # every vfsim lowdown row has its noprecopy twin
        for s in m:
            if s.device == "vfsim" and s.mode == "lowdown":
                self.assertIn(s.twin(mode="noprecopy"), m, s.name())


def _bash_verdicts(md):
    """The limiter table of the bash report: scenario -> met column."""
    out = {}
    for line in open(md):
        m = re.match(r"^\| ram=(\S+) rate=(\d+) churn=(\S+) span=(\S+) link=(\S+)( \S+)? \|"
                     r".*\| ([^|]+) \|$", line)
        if m:
            s = Scenario(mode="lowdown", ram=m.group(1), rate=int(m.group(2)),
                         churn=m.group(3), span=m.group(4), link=m.group(5),
                         feat=(m.group(6) or " none").strip())
            out[s] = m.group(7).strip()
    return out


class Report(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rows = report.rows(report.load(os.path.join(DATA, "bash-full.json")))

    def test_old_results_load(self):
        self.assertEqual(len(self.rows), 44)
        self.assertTrue(all(r.sc.device == "vfsim" for r in self.rows))
        lo = report._index(self.rows)[Scenario(mode="lowdown")]
        self.assertEqual(lo["downtime_ms"], 162)
        self.assertEqual(lo["memory"], "identical")

    def test_same_limiter_verdicts_as_the_bash_report(self):
        want = _bash_verdicts(os.path.join(DATA, "bash-full.md"))
        self.assertEqual(len(want), 14)
        got = {}
        for line in report.limiter_pairs(self.rows):
            m = re.match(r"^\| (vfsim lowdown[^|]*) \|.*\| ([^|]+) \|$", line)
            if m:
                words = m.group(1).split()[2:]
                kv = dict(w.split("=") for w in words)
                got[Scenario(mode="lowdown", **{k: int(v) if k == "rate" else v
                                                for k, v in kv.items()})] = m.group(2).strip()
        self.assertEqual(got, want)
        self.assertEqual(sum(v == "yes" for v in got.values()), 11)

    def test_same_headline_targets_as_the_bash_report(self):
        text = open(os.path.join(DATA, "bash-full.md")).read()
        lines, _ = report.targets(self.rows)
        joined = "\n".join(lines)
        ratio = re.search(r"workaround ÷ lowdown downtime at 1 GiB, 1 Gbit/s: ([0-9.]+)",
                          text).group(1)
        self.assertIn(f"vfsim: workaround ÷ lowdown downtime at 1 GiB, 1 Gbit/s: "
                      f"{float(ratio):.1f}", joined)
        cut = re.search(r"cut (\d+) % \(target", text).group(1)
        self.assertIn(f"cut {cut} % (target", joined)
        tot = re.search(r"limiter: .* ([-+]?\d+) % \(target", text).group(1)
        self.assertIn(f"{int(tot):+d} % (target ≤ +10 %)", joined)
        self.assertIn("notrack (upstream): lossy: 4096 pages differ", joined)

    def test_table_has_a_column_per_metric(self):
        t = report.table(self.rows)
        cols = [mt for mt in metrics.METRICS if mt.header]
        self.assertEqual(t[0].count("|"), len(cols) + 3)
        self.assertEqual(len(t), len(self.rows) + 2)
        for line in t[2:]:
            self.assertEqual(line.count("|"), len(cols) + 3, line)

    def test_a_new_metric_is_one_entry(self):
        mt = metrics.Metric("ram_gb", "RAM GB", lambda r, m: (m["ram_bytes"] or 0) / 1e9,
                            "{:.3f}")
        metrics.METRICS.append(mt)
        metrics.BY_NAME[mt.name] = mt
        try:
            t = report.table(report.rows(report.load(os.path.join(DATA, "bash-full.json"))))
            self.assertIn("RAM GB", t[0])
            self.assertIn("| 1.098 |", "\n".join(t))
        finally:
            metrics.METRICS.remove(mt)
            del metrics.BY_NAME[mt.name]

    def test_compare_finds_regressions(self):
        new = json.loads(open(os.path.join(DATA, "bash-full.json")).read())
        lines, ok = report.compare(self.rows, report.rows(new))
        self.assertTrue(ok, lines)
        new[1]["qemu"]["downtime_ms"] *= 2
        new[3]["memory"] = {"pages_differ": 3, "records_ok": True, "identical": False}
        lines, ok = report.compare(self.rows, report.rows(new))
        self.assertFalse(ok)
        self.assertEqual(sum(line.startswith("REGRESSION") for line in lines), 2, lines)

    def test_new_record_targets(self):
        # A made-up run of the new engine: lowdown 180 ms against a 160 ms
        # baseline (met: <= 1.15 x + arcs), the VF's ping gap 250 ms
        # against 200 ms of downtime (1.25 x: missed)
        def raw(sc, downtime, ping=None):
            return {"scenario": sc.as_dict(), "status": "completed",
                    "query_migrate": {"status": "completed", "downtime": downtime,
                                      "total-time": 9000,
                                      "ram": {"transferred": 10**9, "downtime-bytes": 10**6}},
                    "phases": {"us": {"stop_arcs": 500}, "bytes": {}},
                    "memory": {"pages_differ": 0, "records_ok": None, "identical": True},
                    "ping": ping, "link_bps": 1e9}
        lo = Scenario(device="igbvf")
        rs = report.rows([raw(lo, 180, {"switchover_gap_ms": 250, "lost": 3}),
                          raw(lo.baseline(), 160)])
        lines, ok = report.targets(rs)
        text = "\n".join(lines)
        self.assertFalse(ok)
        self.assertRegex(text, r"\| igbvf lowdown \| 180 \| 160 \| 1.12 \| 0.5 .*\| yes \|")
        self.assertRegex(text, r"\| igbvf lowdown \| 250 \| 180 \| 1.39 \|.*\| \*\*no\*\* \|")


class Ping(unittest.TestCase):
    @staticmethod
    def log(replies, sent, skips=(), t0=1000.0, interval=0.001):
        """bench/pinger's output: replies (seq, received), runs skipped
        (first, count), and the last line."""
        return "".join(f"r {n} {int((t0 + n * interval) * 1e9)} {int(r * 1e9)}\n"
                       for n, r in replies) + \
            "".join(f"s {a} {c}\n" for a, c in skips) + \
            f"sent {sent} skipped {sum(c for _, c in skips)}\n"

    def test_gap_and_hold(self):
        # replies 5 ms after each request to seq 99, none until seq 1400
        # (the benchmark held the guest for 1 s of that): 300 ms seen
        rep = [(n, 1000 + n / 1000 + 0.005) for n in range(100)] + \
              [(n, 1000 + n / 1000 + 0.005) for n in range(1400, 2500)]
        p = engine.ping_summary(self.log(rep, 2500), 0.001, (1000.3, 1001.3))
        self.assertAlmostEqual(p["switchover_gap_ms"], 1405 - 104 - 1000, delta=0.01)
        self.assertAlmostEqual(p["hold_ms"], 1000, delta=0.01)
        self.assertEqual(p["lost"] + p["lost_in_hold"], 1300)
        self.assertAlmostEqual(p["lost_in_hold"], 1000, delta=2)
        self.assertLess(p["other_gap_ms"], 1.01)
        self.assertAlmostEqual(p["rtt_ms_median"], 5, delta=0.01)
        # the first request answered of those sent after the hold (ends at
        # 1001.3) is 1400, answered at 1001.405
        self.assertAlmostEqual(p["new_reply_after_hold_ms"], 105, delta=0.01)

    def test_no_hold_and_skipped(self):
        rep = [(0, 10.0), (1, 10.001), (4, 10.2)] + \
              [(n, 10.2 + (n - 4) / 1000) for n in range(5, 1010)]
        p = engine.ping_summary(self.log(rep, 1010, skips=[(2, 1)], t0=10.0), 0.001)
        self.assertIsNone(p["switchover_gap_ms"])
        self.assertAlmostEqual(p["other_gap_ms"], 199, delta=0.01)
        self.assertEqual(p["lost"], 1)
        self.assertEqual(p["skipped"], 1)

    def test_a_reply_inside_the_hold_splits_it(self):
        # a reply lands 0.4 s into a 1 s hold: each half loses only its part
        rep = [(0, 1000.0), (1, 1000.5), (2, 1002.0)] + \
              [(n, 1002.0 + (n - 2) / 1000) for n in range(3, 1100)]
        p = engine.ping_summary(self.log(rep, 1100), 0.001, (1000.1, 1001.1))
        self.assertAlmostEqual(p["switchover_gap_ms"], 900, delta=0.01)

    def test_skipped_in_the_hold_count_once(self):
        # 300 requests skipped inside the hold, 299 lost after it
        rep = [(n, 1000 + n / 1000) for n in range(100)] + \
              [(n, 1000 + n / 1000) for n in range(2000, 3100)]
        p = engine.ping_summary(self.log(rep, 3100, skips=[(500, 300)]), 0.001,
                                (1000.1, 1001.7))
        self.assertEqual(p["skipped"], 300)
        self.assertEqual(p["lost"], 299)
        self.assertEqual(p["lost_in_hold"], 2000 - 100 - 300 - 299)

    def test_no_answer_after_the_resume_is_loss(self):
        # answered until the stop, never after the hold: all of it lost
        rep = [(n, 1000 + n / 1000) for n in range(100)]
        p = engine.ping_summary(self.log(rep, 5000), 0.001, (1000.2, 1001.2))
        self.assertFalse(p["answered_after_hold"])
        self.assertIsNone(p["switchover_gap_ms"])
        self.assertEqual(p["lost"] + p["lost_in_hold"], 4000 - 100)

    @unittest.skipUnless(LIVE, "needs root (the test VM)")
    def test_pinger_keeps_the_rate(self):
        # against the loopback: every request sent on time and answered
        obj = engine.Engine.dirs(os.path.dirname(BENCH))["OBJ"]
        p = subprocess.Popen([f"{obj}/lowdown/bin/pinger", "-i", "1000", "127.0.0.1"],
                             stdout=subprocess.PIPE, text=True)
        time.sleep(2)
        p.send_signal(signal.SIGINT)
        out, _ = p.communicate(timeout=10)
        s = engine.ping_summary(out, 0.001)
        self.assertEqual(p.returncode, 0)
        self.assertGreater(s["sent"], 1500)
        self.assertGreaterEqual(s["replies"], s["sent"] - s["skipped"] - 5)


@unittest.skipUnless(LIVE, "needs root (the test VM)")
class Setup(unittest.TestCase):
    def test_failed_write_stops(self):
        with self.assertRaisesRegex(engine.SetupError, "cannot write"):
            engine.write("/proc/sys/vm/no_such_knob", 1)
        with self.assertRaisesRegex(engine.SetupError, "cannot write '-1' to"):
            engine.write("/proc/sys/vm/swappiness", -1)

    def test_write_that_does_not_stick_stops(self):
        # printk takes one level and reads back four numbers
        old = engine.read("/proc/sys/kernel/printk").split()[0]
        try:
            with self.assertRaisesRegex(engine.SetupError, "reads '7"):
                engine.write("/proc/sys/kernel/printk", 7, verify=True)
        finally:
            engine.write("/proc/sys/kernel/printk", old)

    def test_failed_tc_stops(self):
        link = engine.Link("/bin/false")
        try:
            with self.assertRaisesRegex(engine.SetupError, "shaping the link"):
                link.up("fast")
        finally:
            link.down()

    def test_failed_command_stops(self):
        with self.assertRaisesRegex(engine.SetupError, "exited 1"):
            engine.sh("false", what="a command")


@unittest.skipUnless(LIVE, "needs root (the test VM)")
class Live(unittest.TestCase):
    @staticmethod
    def bench(out, *scenarios):
        """bench/downtime on the scenarios, its progress lines as comments."""
        argv = [os.path.join(BENCH, "downtime"), "-o", out]
        for s in scenarios:
            argv += ["-s", s]
        p = subprocess.run(argv, capture_output=True, text=True, timeout=900)
        sys.stdout.write("".join(f"# {line}\n" for line in p.stderr.splitlines()
                                 if "downtime:" in line))
        return p

    def test_failed_setup_stops_only_its_scenario(self):
        # tc refuses a zero rate: that scenario stops with tc's error, the
        # next one runs, and the exit status says a scenario stopped
        with tempfile.TemporaryDirectory() as out:
            p = self.bench(out, "device=vfsim mode=baseline ram=64M link=0kbit",
                           "device=vfsim mode=baseline ram=64M")
            self.assertEqual(p.returncode, 3, p.stderr[-2000:])
            bad, good = report.load(os.path.join(out, "downtime.json"))
            self.assertEqual(bad["status"], "error")
            self.assertIn("shaping the link to 0kbit", bad["error"])
            self.assertNotIn("query_migrate", bad)
            self.assertEqual(good["status"], "completed")

    def test_vfsim_and_baseline_migrate(self):
        with tempfile.TemporaryDirectory() as out:
            p = self.bench(out, "device=vfsim mode=lowdown ram=64M",
                           "device=vfsim mode=baseline ram=64M")
            self.assertEqual(p.returncode, 0, p.stderr[-2000:])
            rs = report.rows(report.load(os.path.join(out, "downtime.json")))
            self.assertEqual([r.status for r in rs], ["completed", "completed"])
            for r in rs:
                self.assertEqual(r["memory"], "identical", r.sc.name())
                self.assertGreater(r["downtime_ms"], 0)
            lo, base = rs
            self.assertGreater(lo["dev_stop_copy_bytes"], 0)
            self.assertEqual(base["dev_stop_copy_bytes"], 0)
            self.assertTrue(lo.raw["memory"]["records_ok"])
            # the baseline's guest dirtied the ring at the device's rate
            self.assertTrue(base.raw["guest"].startswith("ramdirty: 2000 pages/s"),
                            base.raw.get("guest"))
            md = open(os.path.join(out, "downtime.md")).read()
            self.assertIn("| vfsim lowdown ram=64M | completed |", md)
            self.assertIn("What the device adds", md)
            for png in ("downtime.png", "downtime-bytes.png"):
                self.assertGreater(os.path.getsize(os.path.join(out, png)), 1000)


class Tap(unittest.TextTestResult):
    """KTAP lines as the tests end."""

    n = 0

    def _line(self, test, ok, why=""):
        Tap.n += 1
        print(f"{'ok' if ok else 'not ok'} {Tap.n} {test.id().split('.', 1)[1]}{why}",
              flush=True)

    def addSuccess(self, test):
        super().addSuccess(test)
        self._line(test, True)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        print("".join(f"# {line}\n" for line in
                      self._exc_info_to_string(err, test).splitlines()), end="")
        self._line(test, False)

    def addError(self, test, err):
        super().addError(test, err)
        print("".join(f"# {line}\n" for line in
                      self._exc_info_to_string(err, test).splitlines()), end="")
        self._line(test, False)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._line(test, True, f" # SKIP {reason}")


def main():
    args = [a for a in sys.argv[1:] if a != "--no-live"]
    loader = unittest.TestLoader()
    if "-k" in args:
        loader.testNamePatterns = [f"*{args[args.index('-k') + 1]}*"]
    suite = loader.loadTestsFromModule(sys.modules[__name__])
    print("TAP version 13")
    print(f"1..{suite.countTestCases()}")
    with open(os.devnull, "w") as null:
        res = unittest.TextTestRunner(stream=null, resultclass=Tap).run(suite)
    failed = len(res.failures) + len(res.errors)
    skipped = len(res.skipped)
    passed = res.testsRun - failed - skipped
    print(f"# Totals: pass:{passed} fail:{failed} xfail:0 xpass:0 skip:{skipped} error:0")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
