# SPDX-License-Identifier: GPL-2.0
"""Scenarios: what one migration is, and the matrices of them.

A scenario is a frozen dataclass.  Its fields are the keys of the command
line's "key=value ..." form; each field's metadata holds its help text and
the devices it applies to, so that a key that means nothing for a device
(vfsim's "ctx" for the igb VF) is an error, not silently ignored.

Two device families:

vfsim
    the software VF (an mdev): its DMA engine writes "rate" records a
    second into a ring of guest RAM, its context changes at "churn"; the
    guest runs no OS (a firmware that halts)
igbvf
    an 82576 VF of the test VM's igb PF, bound to igb-vfio-pci, the NIC
    of an L2 Linux guest (kernel/build-guest) that the PF pings every
    "ping" while a program in the guest dirties "dirty" bytes of its RAM a
    second

Mode "baseline" is the same VM, RAM, dirty rate and link without the
VFIO device: for vfsim a guest whose CPU stores what the device's DMA
would write (bench/ramdirty.c), for igbvf the same Linux guest and
dirtier with no NIC.  It is what the device's own share of the downtime
is measured against.
"""

import dataclasses
import re
from dataclasses import dataclass, field

DEVICES = ("vfsim", "igbvf")

MODES = {
    "lowdown": "exact dirty tracking (DMA logging) and the rate-limited "
               "PRE_COPY: what lowdown gives",
    "workaround": "x-pre-copy-dirty-page-tracking=off with iommufd's "
                  "conservative source (dirty_conservative=1: every "
                  "device-writable page reads dirty, as type1 does for a "
                  "physical VF): all of RAM inside the downtime, what "
                  "users run today",
    "notrack": "no dirty tracking (DMA logging off, migration forced with "
               "enable-migration=on): upstream 6.12 with QEMU 10, refused "
               "or lossy",
    "noprecopy": "lowdown without PRE_COPY device data",
    "nolimit": "lowdown with the PRE_COPY limiter off",
    "baseline": "no VFIO device: the same VM, RAM, dirty rate and link",
}

# The modes each device has (igb's state is a few hundred bytes: no
# PRE_COPY, so no limiter to compare)
DEVICE_MODES = {
    "vfsim": tuple(MODES),
    "igbvf": ("lowdown", "workaround", "notrack", "baseline"),
}

FEATS = {
    "none": "",
    "multifd": "the device state over multifd channels too "
               "(x-migration-multifd-transfer=on)",
    "switchover-ack": "switchover-ack, with the return path",
}

_SIZE = re.compile(r"^([0-9]+)([KMG]?)$")
_LINK = re.compile(r"^([0-9]+)(kbit|mbit|gbit)$")


def size(text):
    """Bytes of an IEC size as the keys write it: 256K, 1M, 2G, 0."""
    m = _SIZE.match(text)
    if not m:
        raise ValueError(f"{text!r} is not a size (like 256K, 4M, 1G)")
    return int(m.group(1)) << {"": 0, "K": 10, "M": 20, "G": 30}[m.group(2)]


def link_bps(text):
    """Bits per second of a tc rate as the keys write it: 100mbit, 1gbit."""
    m = _LINK.match(text)
    if not m:
        raise ValueError(f"{text!r} is not a link rate (like 100mbit, 1gbit)")
    return int(m.group(1)) * {"kbit": 10**3, "mbit": 10**6,
                              "gbit": 10**9}[m.group(2)]


_INTERVAL = re.compile(r"^([0-9]+)(us|ms)$")


def interval_us(text):
    """Microseconds of an interval as the keys write it: 500us, 10ms."""
    m = _INTERVAL.match(text)
    if not m or not int(m.group(1)):
        raise ValueError(f"{text!r} is not an interval (like 1ms, 500us)")
    return int(m.group(1)) * (1000 if m.group(2) == "ms" else 1)


def _key(default, doc, devices=DEVICES, check=None, state=False):
    # state: the key describes the VFIO device itself, not the load; the
    # no-device baseline has none of it
    return field(default=default,
                 metadata={"doc": doc, "devices": devices, "check": check,
                           "state": state})


@dataclass(frozen=True)
class Scenario:
    """One migration: the device, the mode, and the load around it."""

    device: str = _key("vfsim", "vfsim or igbvf")
    mode: str = _key("lowdown", "see Modes below")
    ram: str = _key("1G", "guest RAM, filled with a non-zero pattern", check=size)
    link: str = _key("1gbit", "the veth pair's tc tbf rate", check=link_bps)
    feat: str = _key("none", "a QEMU 10 migration feature on both sides: "
                     + ", ".join(FEATS))
    rate: int = _key(2000, "DMA records (4 KiB pages) per second, into a "
                     "sequential ring", ("vfsim",))
    ring: int = _key(4096, "ring pages", ("vfsim",))
    ctx: str = _key("4M", "vfsim's device context", ("vfsim",), size, True)
    churn: str = _key("1M", "context bytes changed per second", ("vfsim",),
                      size, True)
    span: str = _key("256K", "the context's hot set: the churn writes its "
                     "first span bytes (0: anywhere)", ("vfsim",), size,
                     True)
    dirty: str = _key("4M", "guest RAM the guest's CPU dirties per second",
                      ("igbvf",), size)
    ping: str = _key("20ms", "the interval of the PF's echo requests to the "
                     "guest through the VF", ("igbvf",), interval_us, True)

    def __post_init__(self):
        if self.device not in DEVICES:
            raise ValueError(f"device {self.device!r}: one of {', '.join(DEVICES)}")
        if self.mode not in DEVICE_MODES[self.device]:
            raise ValueError(f"mode {self.mode!r} for {self.device}: one of "
                             + ", ".join(DEVICE_MODES[self.device]))
        if self.feat not in FEATS:
            raise ValueError(f"feat {self.feat!r}: one of {', '.join(FEATS)}")
        for f in dataclasses.fields(self):
            check = f.metadata["check"]
            if check:
                check(getattr(self, f.name))
        if self.ring <= 0 or self.rate < 0:
            raise ValueError("ring must be > 0 and rate >= 0")
        if self.mode == "baseline" and self._state_set():
            raise ValueError("a baseline has no device: "
                             + ", ".join(f.name for f in dataclasses.fields(self)
                                         if f.metadata["state"])
                             + " take their defaults")
        if self.device == "vfsim" and size(self.span) > size(self.ctx):
            raise ValueError(f"span {self.span} is larger than ctx {self.ctx}")

    def _state_set(self):
        """The device keys set away from their defaults."""
        return [f.name for f in dataclasses.fields(self)
                if f.metadata["state"] and getattr(self, f.name) != f.default]

    def keys(self):
        """The keys that apply to this scenario's device, in field order."""
        return [f.name for f in dataclasses.fields(self)
                if self.device in f.metadata["devices"]
                and not (self.mode == "baseline" and f.metadata["state"])]

    def name(self):
        """The scenario as its keys: "device=vfsim mode=lowdown ram=1G ..."."""
        return " ".join(f"{k}={getattr(self, k)}" for k in self.keys())

    def short(self):
        """The keys that differ from the defaults, for tables and plots."""
        d = Scenario(device=self.device)
        return " ".join([self.device, self.mode]
                        + [f"{k}={getattr(self, k)}" for k in self.keys()
                           if k not in ("device", "mode")
                           and getattr(self, k) != getattr(d, k)])

    def twin(self, **changes):
        """This scenario with some keys changed (the ones that apply)."""
        return dataclasses.replace(self, **changes)

    def baseline(self):
        """The no-device scenario this one is measured against: the same
        VM, RAM, link, feature and dirty rate; the device's own keys at
        their defaults (they mean nothing without it)."""
        return self.twin(mode="baseline", **{
            f.name: f.default for f in dataclasses.fields(self)
            if f.metadata["state"]})

    def as_dict(self):
        return {k: getattr(self, k) for k in self.keys()}

    @classmethod
    def parse(cls, text):
        """A scenario from "key=value ..."; unset keys take the defaults."""
        kv = {}
        for word in text.split():
            k, sep, v = word.partition("=")
            if not sep:
                raise ValueError(f"{word!r}: keys are key=value")
            kv[k] = v
        return cls.from_dict(kv)

    @classmethod
    def from_dict(cls, kv):
        """A scenario from a dict of keys (a results file's "scenario")."""
        device = kv.get("device", "vfsim")
        if device not in DEVICES:
            raise ValueError(f"device {device!r}: one of {', '.join(DEVICES)}")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        args = {}
        for k, v in kv.items():
            f = fields.get(k)
            if f is None:
                raise ValueError(f"unknown key {k!r}")
            if device not in f.metadata["devices"]:
                raise ValueError(f"key {k!r} does not apply to {device}")
            args[k] = int(v) if f.type in (int, "int") else str(v)
        return cls(**args)

    @classmethod
    def usage(cls):
        """The keys, their defaults and what they mean, for --help."""
        lines = []
        for f in dataclasses.fields(cls):
            devs = "" if f.metadata["devices"] == DEVICES else \
                f" ({', '.join(f.metadata['devices'])})"
            lines.append(f"  {f.name:<7} {str(f.default):<7} "
                         f"{f.metadata['doc']}{devs}")
        return "\n".join(lines)


def _vfsim(**kv):
    return Scenario(device="vfsim", **kv)


def _igbvf(**kv):
    return Scenario(device="igbvf", **kv)


def _quick():
    return [_vfsim(mode=m, ram="256M") for m in ("lowdown", "workaround", "baseline")]


def _default():
    # The headline of each device at 1 GiB over 1 Gbit/s: the modes and the
    # baseline; vfsim's noprecopy for the limiter's cut of device state
    return ([_vfsim(mode=m) for m in ("lowdown", "workaround", "notrack",
                                      "noprecopy", "baseline")]
            + [_igbvf(mode=m) for m in ("lowdown", "workaround", "notrack",
                                        "baseline")])


def _full():
    s = []
    # vfsim: every mode at every RAM size; every lowdown row beside its
    # noprecopy twin (the limiter's targets compare the two)
    for ram in ("256M", "1G", "2G"):
        s += [_vfsim(mode=m, ram=ram) for m in DEVICE_MODES["vfsim"]]
    for rate in (500, 8000):
        s += [_vfsim(mode=m, rate=rate) for m in ("lowdown", "noprecopy", "baseline")]
    for kv in ({"churn": "0"}, {"churn": "10M"}, {"span": "0"}, {"span": "1M"},
               {"churn": "10M", "span": "0"}, {"churn": "10M", "span": "1M"}):
        s += [_vfsim(mode=m, **kv) for m in ("lowdown", "noprecopy", "nolimit")]
    s += [_vfsim(mode=m, link="100mbit")
          for m in ("lowdown", "noprecopy", "workaround", "baseline")]
    for feat in ("multifd", "switchover-ack"):
        s += [_vfsim(mode=m, feat=feat) for m in ("lowdown", "noprecopy", "baseline")]
    # igbvf: every mode at two RAM sizes, dirty rates and the slow link
    for ram in ("256M", "1G"):
        s += [_igbvf(mode=m, ram=ram) for m in DEVICE_MODES["igbvf"]]
    for dirty in ("0", "16M"):
        s += [_igbvf(mode=m, dirty=dirty) for m in ("lowdown", "baseline")]
    s += [_igbvf(mode=m, link="100mbit") for m in ("lowdown", "workaround", "baseline")]
    return s


MATRICES = {
    "quick": _quick,
    "default": _default,
    "full": _full,
}


def matrix(name):
    """The scenarios of a named matrix, duplicates dropped, in order, and
    the no-device baseline of every scenario (after the last that needs
    it, where the matrix does not list it)."""
    if name not in MATRICES:
        raise ValueError(f"matrix {name!r}: one of {', '.join(MATRICES)}")
    listed = MATRICES[name]()
    seen, out = set(), []
    for s in listed + [s.baseline() for s in listed]:
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out
