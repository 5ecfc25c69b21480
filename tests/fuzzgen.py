"""Generators for the fuzzing harness: valid mixes, broken mixes and mangled audio files.

Shared by the short property-based run (`tests/test_fuzz.py`, through hypothesis) and the long
run (`bench/fuzz.py`, through `random.Random`). Every generator takes a `Draw`, so the same code
makes a hypothesis example (which hypothesis can shrink) or a seeded random case (which
`bench/fuzz.py` minimises itself).

A mix is generated as plain data (dicts, lists, scalars), written as TOML by `to_toml`, and
mutated either as data (wrong types, ranges, names, cycles...) or as text (bad TOML, deep
nesting). Sources are tiny files written once per session by `make_sources`. `to_toml` also
writes the mixes of `bench/batch.py` and `bench/spine.py`.
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import re
import struct
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np
import soundfile as sf

from mixrender import schema

T = TypeVar("T")


class Draw(Protocol):
    """The choices a generator makes: hypothesis draws or a seeded `random.Random`."""

    def integer(self, lo: int, hi: int) -> int: ...
    def real(self, lo: float, hi: float) -> float: ...
    def choice(self, options: Sequence[T]) -> T: ...
    def chance(self, p: float) -> bool: ...


class RandomDraw:
    """A `Draw` from `random.Random(seed)`: deterministic for a seed."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def integer(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)

    def real(self, lo: float, hi: float) -> float:
        # The bounds themselves are the values most often wrong in a range check.
        pick = self.rng.random()
        if pick < 0.1:
            return lo
        if pick < 0.2:
            return hi
        return self.rng.uniform(lo, hi)

    def choice(self, options: Sequence[T]) -> T:
        return options[self.rng.randrange(len(options))]

    def chance(self, p: float) -> bool:
        return self.rng.random() < p


# --- sources ------------------------------------------------------------------------------------

RATE = 48000
"""The rate of most sources; sessions run at this or another rate (resampled)."""

SOURCES: dict[str, tuple[int, int, str, str]] = {
    # file name: (frames, channels, format, subtype); rates in SOURCE_RATES, else RATE
    "mono.wav": (1500, 1, "WAV", "FLOAT"),
    "stereo.wav": (900, 2, "WAV", "PCM_24"),
    "mono16.wav": (700, 1, "WAV", "PCM_16"),
    "stereo.flac": (1100, 2, "FLAC", "PCM_16"),
    "mono.aiff": (800, 1, "AIFF", "PCM_16"),
}
SOURCE_RATES = {"mono.wav": 48000, "stereo.wav": 44100, "mono16.wav": 48000}
IR = "ir.wav"


def make_sources(folder: Path) -> Path:
    """Writes the tiny sources and impulse response every generated mix refers to."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    for name, (frames, channels, fmt, subtype) in SOURCES.items():
        rate = SOURCE_RATES.get(name, RATE)
        t = np.arange(frames) / rate
        tone = 0.5 * np.sin(2 * np.pi * 220.0 * t) * np.exp(-t * 20.0)
        data = tone + 0.05 * rng.standard_normal(frames)
        if channels == 2:
            data = np.stack([data, 0.7 * np.roll(data, 7)], axis=1)
        sf.write(str(folder / name), data, rate, format=fmt, subtype=subtype)
    ir = np.exp(-np.arange(120) / 25.0) * 0.3 * rng.standard_normal(120)
    sf.write(str(folder / IR), ir, RATE, subtype="FLOAT")
    return folder


# --- TOML ---------------------------------------------------------------------------------------

_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def _string(s: str) -> str:
    out = ['"']
    for ch in s:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif code < 0x20 or code == 0x7F or 0xD800 <= code <= 0xDFFF:
            out.append(f"\\u{code:04x}" if code < 0xD800 else "\\ufffd")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _key(k: str) -> str:
    return k if _BARE.match(k) else _string(k)


def value_toml(v: Any) -> str:
    """One TOML value, inline (tables as `{...}`)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return _string(v)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(value_toml(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_key(k)} = {value_toml(x)}" for k, x in v.items()) + "}"
    raise TypeError(f"no TOML for {type(v).__name__}")


def to_toml(doc: dict[str, Any]) -> str:
    """A mix as TOML text: scalars first, then `[table]`s, then `[[array of tables]]`."""
    lines: list[str] = []
    tables: list[tuple[str, dict[str, Any]]] = []
    arrays: list[tuple[str, list[dict[str, Any]]]] = []
    for k, v in doc.items():
        if isinstance(v, dict):
            tables.append((k, v))
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            arrays.append((k, v))
        else:
            lines.append(f"{_key(k)} = {value_toml(v)}")
    for k, table in tables:
        lines += ["", f"[{_key(k)}]"]
        lines += [f"{_key(kk)} = {value_toml(vv)}" for kk, vv in table.items()]
    for k, items in arrays:
        for item in items:
            lines += ["", f"[[{_key(k)}]]"]
            lines += [f"{_key(kk)} = {value_toml(vv)}" for kk, vv in item.items()]
    return "\n".join(lines) + "\n"


# --- valid mixes --------------------------------------------------------------------------------

NAMES = ("Kick", "Lead Vox", "bass", "Gtr L", "Vöx ✨", "ベース", "x", "Pad-2", "a_b", "Drums")
BUS_NAMES = ("Vocals", "Plate", "Slap", "Crush", "Drum Bus", "Ümlaut", "FX", "Sub")
INSERT_NAMES = ("fx1", "fx2", "fx3", "comp A", "Eq ñ", "verb")
CURVES = schema.CURVES
SHAPES = ("linear", "step", "smooth", "fast_start", "fast_end")


class Ctx:
    """What a valid mix's parts need to know of each other."""

    def __init__(self, sample_rate: int, tempo: float | None, meter: tuple[int, int]) -> None:
        self.sample_rate = sample_rate
        self.tempo = tempo
        self.meter = meter


def _position(d: Draw, ctx: Ctx, hi_s: float) -> float | str:
    """A short timeline position: seconds, or bar:beat when there is a tempo."""
    if ctx.tempo is not None and d.chance(0.3):
        beat_s = 60.0 / ctx.tempo
        beats = d.real(0.0, hi_s / beat_s)
        bar = int(beats // ctx.meter[0]) + 1
        beat = beats - (bar - 1) * ctx.meter[0] + 1
        beat = min(beat, ctx.meter[0] + 0.999)
        text = f"{beat:.3f}".rstrip("0").rstrip(".")
        return f"{bar}:{text}"
    return round(d.real(0.0, hi_s), 6)


def _in_range(d: Draw, key: schema.Key, ctx: Ctx) -> Any:
    """A valid value of one schema key (sized for tiny renders)."""
    if key.kind == "bool":
        return d.chance(0.5)
    if key.choices and key.kind in ("int", "enum", "float"):
        return d.choice(key.choices)
    if key.kind == "int":
        first = int(key.min if key.min is not None else 0)
        return d.integer(first, int(key.max if key.max is not None else first + 1000))
    if key.kind == "float":
        low: float = key.min if key.min is not None else 0.0
        hi: float = key.max if key.max is not None else low + 20.0
        if key.max_fs is not None:
            hi = key.max_fs * ctx.sample_rate
        if key.name.endswith("_ms") and key.name not in ("attack_ms", "release_ms"):
            hi = min(hi, 30.0)  # delays and lookaheads longer than a tiny render say nothing
        if key.name == "decay_s":
            hi = min(hi, 2.0)
        if key.name == "time_ms":
            hi = min(hi, 15.0)
        value = d.real(low, hi)
        return round(value, 4) if d.chance(0.5) else value
    raise AssertionError(f"no value for {key.name} ({key.kind})")


_PARAM_SKIP = {"type", "name", "bypass", "bands", "sidechain", "ir", "time", "time_ms"}

NOT_YET: frozenset[str] = frozenset()
"""Keys of the spec's additions that this mixrender refuses today (unknown key, or "not
supported yet"): valid mixes leave them out unless `SPEC_ADDITIONS` is set. None now."""
SPEC_ADDITIONS = False


def _insert(d: Draw, ctx: Ctx, kind: str, keyers: Sequence[str]) -> dict[str, Any]:
    table = schema.INSERT_TYPES[kind]
    out: dict[str, Any] = {"type": kind}
    for key in table.keys:
        if key.name in _PARAM_SKIP or not d.chance(0.5):
            continue
        if key.name in NOT_YET and not SPEC_ADDITIONS:
            continue
        out[key.name] = _in_range(d, key, ctx)
    if d.chance(0.1):
        out["bypass"] = d.chance(0.5)
    if kind == "eq":
        out["bands"] = [_band(d, ctx) for _ in range(d.integer(0, 3))]
    if kind in schema.SIDECHAIN_TYPES and keyers and d.chance(0.4):
        out["sidechain"] = d.choice(keyers)
    if kind == "convolution":
        out["ir"] = IR
    if kind == "delay":
        if ctx.tempo is not None and d.chance(0.5):
            # Note values at a fast tempo: a 1/64 at 300 bpm is 12.5 ms.
            out["time"] = f"1/{d.choice((32, 64, 128))}{d.choice(('', 'd', 't'))}"
        else:
            out["time_ms"] = round(d.real(0.0, 15.0), 3)
    return out


def _band(d: Draw, ctx: Ctx) -> dict[str, Any]:
    kind = d.choice(tuple(schema.BAND_TYPES))
    band: dict[str, Any] = {
        "type": kind,
        "freq_hz": round(d.real(20.0, 0.45 * ctx.sample_rate), 2),
    }
    keys = schema.BAND_TYPES[kind]
    if keys.key("gain_db") and d.chance(0.7):
        band["gain_db"] = round(d.real(-48.0, 48.0), 2)
    slope = 12
    if keys.key("slope_db_oct") and d.chance(0.6):
        slope = d.choice(schema.SLOPES)
        band["slope_db_oct"] = slope
    if keys.key("q") and slope == 12 and d.chance(0.6):
        band["q"] = round(d.real(0.1, 10.0), 3)
    return band


def _lane(d: Draw, ctx: Ctx, lo: float, hi: float, *, stepped: bool = False) -> Any:
    points: list[list[Any]] = []
    t = 0.0
    for _ in range(d.integer(1, 4)):
        t += d.real(0.0, 0.01)
        value: Any = d.integer(0, 1) if stepped else round(d.real(lo, hi), 4)
        point: list[Any] = [round(t, 5), value]
        if not stepped and d.chance(0.3):
            shape = d.choice(CURVES)
            point.append(shape)
            if shape == "bezier" and d.chance(0.7):
                point.append(round(d.real(-1.0, 1.0), 3))
        points.append(point)
    if ctx.tempo is not None and d.chance(0.2):
        # The first point in musical time: "1:1" is time 0, before every later point.
        points[0][0] = "1:1"
    if d.chance(0.3) and not stepped:
        lane: dict[str, Any] = {"points": points, "curve": d.choice(CURVES)}
        if lane["curve"] == "bezier":
            lane["tension"] = round(d.real(-1.0, 1.0), 3)
        return lane
    return points


def _lanes(
    d: Draw, ctx: Ctx, strip: dict[str, Any], *, master: bool = False
) -> dict[str, Any] | None:
    targets: list[tuple[str, float, float, bool]] = [("gain_db", -144.0, 24.0, False)]
    if not master:
        targets += [
            ("pan", -1.0, 1.0, False),
            ("width", 0.0, 2.0, False),
            ("mute", 0.0, 1.0, True),
        ]
        targets.append(("trim_db", -48.0, 24.0, False))
        for send in strip.get("sends", []):
            targets.append((f"sends.{send['to']}.level_db", -144.0, 24.0, False))
            targets.append((f"sends.{send['to']}.pan", -1.0, 1.0, False))
    for name, ins in _insert_names(strip.get("insert", [])):
        table = schema.INSERT_TYPES[ins["type"]]
        for key in table.keys:
            if key.name in NOT_YET and not SPEC_ADDITIONS:
                continue
            if key.automatable and key.kind == "float" and key.name not in ("time_ms",):
                hi = key.max if key.max is not None else (key.min or 0.0) + 20.0
                if key.max_fs is not None:
                    hi = 0.45 * ctx.sample_rate
                if key.name.endswith("_ms"):
                    hi = min(hi, 30.0)
                if key.name == "decay_s":
                    hi = min(hi, 2.0)
                targets.append((f"{name}.{key.name}", key.min or 0.0, hi, False))
        for number, band in enumerate(ins.get("bands", []), start=1):
            if "gain_db" in schema.BAND_TYPES[band["type"]].names:
                targets.append((f"{name}.bands.{number}.gain_db", -48.0, 48.0, False))
            targets.append((f"{name}.bands.{number}.freq_hz", 20.0, 0.45 * ctx.sample_rate, False))
    lanes: dict[str, Any] = {}
    for _ in range(d.integer(0, 3)):
        target, lo, hi, stepped = d.choice(targets)
        lanes[target] = _lane(d, ctx, lo, hi, stepped=stepped)
    return lanes or None


def _insert_names(inserts: Sequence[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """The effective names of a strip's inserts (the type, numbered when repeated)."""
    per_type: dict[str, int] = {}
    out = []
    for ins in inserts:
        per_type[ins["type"]] = per_type.get(ins["type"], 0) + 1
        n = per_type[ins["type"]]
        out.append((ins.get("name", ins["type"] if n == 1 else f"{ins['type']}{n}"), ins))
    return out


def _inserts(d: Draw, ctx: Ctx, keyers: Sequence[str], most: int = 3) -> list[dict[str, Any]]:
    inserts = []
    free_names = list(INSERT_NAMES)
    for _ in range(d.integer(0, most)):
        ins = _insert(d, ctx, d.choice(tuple(schema.INSERT_TYPES)), keyers)
        if d.chance(0.3) and free_names:
            ins["name"] = free_names.pop(d.integer(0, len(free_names) - 1))
        inserts.append(ins)
    # A default name ("eq2") may not clash with an explicit one: the explicit names above are
    # never type names, so only repeated types count, and those are numbered apart.
    return inserts


def _strip(
    d: Draw, ctx: Ctx, name: str, outputs: Sequence[str], keyers: Sequence[str]
) -> dict[str, Any]:
    s: dict[str, Any] = {"name": name}
    for key, lo, hi in (("gain_db", -144.0, 24.0), ("pan", -1.0, 1.0), ("width", 0.0, 2.0)):
        if d.chance(0.5):
            s[key] = round(d.real(lo, hi), 3)
    if d.chance(0.3):
        s["trim_db"] = round(d.real(-48.0, 24.0), 2)
    for key in ("polarity", "mute", "solo"):
        if d.chance(0.15):
            s[key] = d.chance(0.5)
    if d.chance(0.2):
        s["pan_law"] = d.choice(schema.PAN_LAWS)
    if outputs and d.chance(0.5):
        s["output"] = d.choice([*outputs, "master"])
    sends = []
    for to in outputs:
        if d.chance(0.3):
            send: dict[str, Any] = {"to": to, "level_db": round(d.real(-144.0, 24.0), 2)}
            if d.chance(0.5):
                send["tap"] = d.choice(schema.TAPS)
            if d.chance(0.3):
                send["pan"] = round(d.real(-1.0, 1.0), 3)
            sends.append(send)
    if sends:
        s["sends"] = sends
    inserts = _inserts(d, ctx, keyers)
    if inserts:
        s["insert"] = inserts
    lanes = _lanes(d, ctx, s)
    if lanes:
        s["automation"] = lanes
    return s


def valid_mix(d: Draw) -> dict[str, Any]:
    """A valid mix of 1..4 tracks, 0..3 buses, VCAs, every insert type, lanes and musical time,
    whose render lasts a few thousand frames."""
    sample_rate = d.choice((48000, 44100, 32000, 96000))
    tempo = d.choice((None, 240.0, 300.0, 480.5))
    meter = (d.integer(1, 7), d.choice(schema.METER_UNITS[1:5]))
    ctx = Ctx(sample_rate, tempo, meter)
    session: dict[str, Any] = {"sample_rate": sample_rate}
    if d.chance(0.3):
        session["name"] = d.choice(("Ballad, mix 3", "ünïcödé ✨", ""))
    if tempo is not None:
        session["tempo_bpm"] = tempo
        if d.chance(0.5):
            session["meter"] = list(meter)
    if d.chance(0.3):
        session["pan_law"] = d.choice(schema.PAN_LAWS)
    ending = d.integer(0, 2)
    if ending == 0:
        session["tail_s"] = round(d.real(0.0, 0.03), 4)
    elif ending == 1:
        session["end"] = round(d.real(0.001, 0.06), 4)
    else:
        session["end"] = _position(d, ctx, 0.06) if tempo is not None else 0.05
    doc: dict[str, Any] = {"format": "mixrender/1", "session": session}
    render: dict[str, Any] = {}
    if d.chance(0.5):
        render["bit_depth"] = d.choice(schema.BIT_DEPTHS)
    if d.chance(0.3):
        render["dither"] = d.choice(schema.DITHERS)
    if d.chance(0.3):
        render["seed"] = d.integer(0, 2**63 - 1)
    if render:
        doc["render"] = render

    n_tracks = d.integer(1, 4)
    n_buses = d.integer(0, 3)
    names = list(NAMES)
    tracks_names = [names.pop(d.integer(0, len(names) - 1)) for _ in range(n_tracks)]
    buses_pool = list(BUS_NAMES)
    bus_names = [buses_pool.pop(d.integer(0, len(buses_pool) - 1)) for _ in range(n_buses)]
    # Every edge (output, send, sidechain key -> keyed strip) goes forward in the order
    # tracks, then buses, so the routing is acyclic.
    tracks = []
    for i, name in enumerate(tracks_names):
        t = _strip(d, ctx, name, bus_names, tracks_names[:i])
        t = {
            "name": name,
            "source": d.choice(tuple(SOURCES)),
            **{k: v for k, v in t.items() if k != "name"},
        }
        if d.chance(0.4):
            t["offset_s"] = _position(d, ctx, 0.03)
        if d.chance(0.4):
            t["clip_gain_db"] = round(d.real(-96.0, 48.0), 2)
        tracks.append(t)
    buses = []
    for i, name in enumerate(bus_names):
        buses.append(_strip(d, ctx, name, bus_names[i + 1 :], tracks_names + bus_names[:i]))
    doc["track"] = tracks
    if buses:
        doc["bus"] = buses
    if d.chance(0.5):
        master: dict[str, Any] = {}
        if d.chance(0.5):
            master["gain_db"] = round(d.real(-144.0, 24.0), 2)
        inserts = _inserts(d, ctx, tracks_names + bus_names, most=2)
        if inserts:
            master["insert"] = inserts
        lanes = _lanes(d, ctx, master, master=True)
        if lanes:
            master["automation"] = lanes
        doc["master"] = master
    strips = tracks_names + bus_names
    vcas = []
    for i in range(d.integer(0, 2)):
        members = [s for s in strips if d.chance(0.5)] or [strips[0]]
        vca: dict[str, Any] = {"name": f"VCA {i + 1}", "members": members}
        if d.chance(0.6):
            vca["gain_db"] = round(d.real(-144.0, 24.0), 2)
        if d.chance(0.3):
            vca["automation"] = {"gain_db": _lane(d, ctx, -144.0, 24.0)}
        vcas.append(vca)
    if vcas:
        doc["vca"] = vcas
    return doc


# --- broken mixes -------------------------------------------------------------------------------

Path_ = tuple[Any, ...]


def _leaves(node: Any, at: Path_ = ()) -> list[Path_]:
    """Paths of every value in the tree (tables and lists too), depth first."""
    out: list[Path_] = [at] if at else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _leaves(v, (*at, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _leaves(v, (*at, i))
    return out


def _tables(node: Any, at: Path_ = ()) -> list[Path_]:
    out: list[Path_] = []
    if isinstance(node, dict):
        out.append(at)
        for k, v in node.items():
            out += _tables(v, (*at, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _tables(v, (*at, i))
    return out


def get(node: Any, at: Path_) -> Any:
    for k in at:
        node = node[k]
    return node


def _set(node: Any, at: Path_, value: Any) -> None:
    get(node, at[:-1])[at[-1]] = value


def _copy(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _copy(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_copy(v) for v in node]
    return node


WRONG_VALUES: tuple[Any, ...] = (
    "text",
    "",
    True,
    False,
    0,
    -1,
    1,
    2**63 - 1,
    -(2**63),
    1e308,
    -1e308,
    5e-324,
    math.nan,
    math.inf,
    -math.inf,
    0.5,
    -0.0,
    [],
    [1, 2],
    [[]],
    {},
    {"x": 1},
    "1:1",
    "0:1",
    "99999999:1",
    "1/0",
    "auto",
    "master",
    "\u0000",
    "x\ny",
    "\u202eevil",
    "🎛" * 40,
    "a" * 5000,
)
BAD_NAMES: tuple[str, ...] = (
    "",
    " ",
    "master",
    "a.b",
    "a/b",
    "sends",
    "\t",
    "\u0000",
    "line\nbreak",
    "\u200b",
    "🎚" * 300,
)
BAD_SOURCES: tuple[str, ...] = (
    "missing.wav",
    "",
    ".",
    "..",
    "sub/",
    "mono.wav/",
    "mono.wav\u0000x",
    "ir.wav " * 2,
    "missing/" * 50 + "x.wav",
    "x" * 300 + ".wav",
    "mix.toml",
)
LONG_FILE_NAME = "x" * 300 + ".wav"

OPEN_FINDINGS = True
"""Whether broken mixes include the cases of failures this harness found that no issue covers
yet: a source or impulse-response file name longer than the file system allows (an OSError,
not a MixError). The short run leaves them out, so that it fails only on what it is for."""


def _mutate_data(d: Draw, doc: dict[str, Any]) -> dict[str, Any]:
    doc = _copy(doc)
    kind = d.integer(0, 9)
    leaves = _leaves(doc)
    if kind <= 2 and leaves:  # a wrong type or an out-of-range value anywhere
        at = d.choice(leaves)
        value = _copy(d.choice(WRONG_VALUES))
        too_long = isinstance(value, str) and len(value.encode()) > 255
        if too_long and at[-1] in ("source", "ir") and not OPEN_FINDINGS:
            value = "missing.wav"
        _set(doc, at, value)
    elif kind == 3:  # an unknown key in some table
        at = d.choice(_tables(doc))
        key = d.choice(("gian_db", "typo", "Name", "gain_DB", "ñ", "", " ", "a.b", "sends.x"))
        get(doc, at)[key] = d.choice((1, "x", 1.5, True))
    elif kind == 4:  # a bad name
        strips = [("track", i) for i in range(len(doc["track"]))]
        strips += [("bus", i) for i in range(len(doc.get("bus", [])))]
        table, i = d.choice(strips)
        doc[table][i]["name"] = d.choice(BAD_NAMES)
    elif kind == 5:  # a duplicated name
        strips = [t["name"] for t in doc["track"]] + [b["name"] for b in doc.get("bus", [])]
        donor = d.choice(strips)
        target = d.choice(("track", "bus", "vca", "insert"))
        if target == "bus" and doc.get("bus"):
            doc["bus"][d.integer(0, len(doc["bus"]) - 1)]["name"] = donor
        elif target == "vca":
            doc.setdefault("vca", []).append({"name": "V", "members": [donor, donor]})
        elif target == "insert":
            doc["track"][0]["insert"] = [{"type": "gain", "name": "g"}, {"type": "eq", "name": "g"}]
        else:
            doc["track"].append({"name": donor, "source": "mono.wav"})
    elif kind == 6:  # a cycle: output, send or sidechain
        names = [t["name"] for t in doc["track"]]
        doc["bus"] = [*doc.get("bus", []), {"name": "CycA"}, {"name": "CycB"}]
        how = d.integer(0, 3)
        if how == 0:
            doc["bus"][-2]["output"] = "CycB"
            doc["bus"][-1]["output"] = "CycA"
        elif how == 1:
            doc["bus"][-2]["sends"] = [{"to": "CycB", "level_db": 0.0}]
            doc["bus"][-1]["sends"] = [{"to": "CycA", "level_db": 0.0}]
        elif how == 2:
            doc["bus"][-2]["output"] = "CycB"
            doc["bus"][-1]["insert"] = [{"type": "compressor", "sidechain": "CycB"}]
        else:
            doc["track"][0]["output"] = "CycA"
            doc["bus"][-2]["insert"] = [{"type": "gate", "sidechain": "CycA"}]
            doc["track"][0]["insert"] = [{"type": "compressor", "sidechain": d.choice(names)}]
    elif kind == 7:  # a missing or odd source or impulse response
        bad = d.choice(
            BAD_SOURCES if OPEN_FINDINGS else tuple(b for b in BAD_SOURCES if b != LONG_FILE_NAME)
        )
        if d.chance(0.7):
            doc["track"][d.integer(0, len(doc["track"]) - 1)]["source"] = bad
        else:
            doc["track"][0]["insert"] = [{"type": "convolution", "ir": bad}]
    elif kind == 8:  # a reference to nothing: output, send, sidechain, lane, VCA member
        t = doc["track"][d.integer(0, len(doc["track"]) - 1)]
        what = d.integer(0, 4)
        ghost = d.choice(("Nobody", "master", t["name"], "", "Vocal"))
        if what == 0:
            t["output"] = ghost
        elif what == 1:
            t["sends"] = [{"to": ghost, "level_db": -6.0}]
        elif what == 2:
            t["insert"] = [{"type": "gate", "sidechain": ghost}]
        elif what == 3:
            t["automation"] = {
                d.choice(
                    (
                        f"{ghost}.gain_db",
                        "sends.Nobody.level_db",
                        "eq.bands.9.gain_db",
                        "eq.bands.0.q",
                        "gain_db.x",
                        "",
                        "mute",
                    )
                ): [[0.0, 0.5]]
            }
        else:
            doc["vca"] = [{"name": "V", "members": [ghost]}]
    else:  # a structural surprise: tables for lists, missing required keys, odd lanes
        what = d.integer(0, 6)
        if what == 0:
            del doc["session"]["sample_rate"]
        elif what == 1:
            doc["format"] = d.choice(("mixrender/2", "mixrender/1.0", "MIXRENDER/1", ""))
        elif what == 2:
            del doc["track"][0]["source"]
        elif what == 3:
            doc["track"][0]["automation"] = {
                "gain_db": d.choice(
                    (
                        [[1.0, 0.0], [0.5, 0.0]],
                        [],
                        [[0.0]],
                        [[0.0, 0.0, "bezier", 5.0]],
                        [[0.0, 0.0, "wobble"]],
                        [[0.0, 0.0, "linear", 0.5, 1]],
                        {"points": [[0.0, 0.0]], "curve": "bezier", "tension": 2.0},
                        [["99:9", 0.0]],
                        [[-1.0, 0.0]],
                        [[1e300, 0.0]],
                    )
                )
            }
        elif what == 4:
            doc["session"]["end"] = d.choice((86400.0, 1e9, "0:1", "1:0", -1.0, "auto", "1:99"))
            doc["session"]["tail_s"] = 1.0
        elif what == 5:
            doc["session"]["tempo_bpm"] = None if d.chance(0.5) else 1e-9
            doc["session"] = {k: v for k, v in doc["session"].items() if v is not None}
            doc["track"][0]["offset_s"] = "2:1"
        else:
            doc["render"] = {"loudness_lufs": d.choice((-14.0, -70.0, 0.0, 5.0))}
    return doc


def _mutate_text(d: Draw, text: str) -> str:
    kind = d.integer(0, 7)
    if kind == 0:  # cut short
        return text[: d.integer(0, len(text))]
    if kind == 1:  # a stray character
        at = d.integer(0, len(text))
        return (
            text[:at]
            + d.choice(("[", "]", "{", '"', "=", "\n", "\\", "\u0000", "é", "#"))
            + text[at:]
        )
    if kind == 2:  # a line repeated (duplicate key or table)
        lines = text.splitlines()
        i = d.integer(0, len(lines) - 1)
        return "\n".join([*lines[: i + 1], lines[i], *lines[i + 1 :]]) + "\n"
    if kind == 3:  # deep nesting
        depth = d.choice((63, 64, 65, 100, 1000, 20000))
        if d.chance(0.5):
            return text + f"deep = {'[' * depth}1{']' * depth}\n"
        return text + f"deep = {'{a = ' * depth}1{'}' * depth}\n"
    if kind == 4:  # a dotted key tower
        depth = d.choice((65, 500, 5000))
        return text + "\n[track.automation]\n" + ".".join(["a"] * depth) + " = [[0.0, 0.0]]\n"
    if kind == 5:  # invalid UTF-8 or a byte-order mark
        return d.choice(("\ufeff", "\udcff")) + text
    if kind == 6:  # huge numbers as text
        number = d.choice(
            ("1e400", "-1e400", "9" * 400, "0x" + "f" * 40, "1_000_000_000_000_000_000_000")
        )
        return re.sub(r"= -?\d+\.\d+", f"= {number}", text, count=1)
    # a table header where a key is and vice versa
    return text.replace(
        "[session]", d.choice(("[[session]]", "session = 1\n[session]", "[ session ]")), 1
    )


def broken_mix(d: Draw, doc: dict[str, Any]) -> str:
    """A mutation of a valid mix, as TOML text (possibly not TOML at all)."""
    for _ in range(d.integer(1, 2)):
        # A second mutation may find no place left by the first: then it is skipped.
        with contextlib.suppress(TypeError, KeyError, IndexError, AttributeError, ValueError):
            doc = _mutate_data(d, doc)
    text = to_toml(doc)
    if d.chance(0.3):
        text = _mutate_text(d, text)
    return text


def write_text(path: Path, text: str) -> None:
    """Writes text as UTF-8, lone surrogates as the bytes they escape (invalid UTF-8)."""
    path.write_bytes(text.encode("utf-8", "surrogateescape"))


# --- mangled audio ------------------------------------------------------------------------------

AUDIO_KINDS: tuple[tuple[str, str, str], ...] = (
    # (extension, soundfile format, subtype)
    ("wav", "WAV", "PCM_16"),
    ("wav", "WAV", "PCM_24"),
    ("wav", "WAV", "FLOAT"),
    ("wav", "WAVEX", "PCM_16"),
    ("aiff", "AIFF", "PCM_16"),
    ("flac", "FLAC", "PCM_16"),
    ("w64", "W64", "PCM_16"),
    ("rf64", "RF64", "FLOAT"),
    ("caf", "CAF", "PCM_16"),
)

_RATES_BAD = (0, 1, 2, 7999, 384001, 2**31 - 1, 2**32 - 1)


def audio_bytes(d: Draw) -> tuple[str, bytes]:
    """A tiny audio file, as its extension and bytes."""
    import io

    ext, fmt, subtype = d.choice(AUDIO_KINDS)
    channels = d.integer(1, 2)
    frames = d.integer(0, 300)
    rate = d.choice((8000, 44100, 48000))
    data = 0.3 * np.sin(np.arange(frames * channels).reshape(frames, channels) * 0.05)
    buf = io.BytesIO()
    sf.write(buf, data, rate, format=fmt, subtype=subtype)
    return ext, buf.getvalue()


def _chunks(b: bytes) -> list[tuple[bytes, int, int]]:
    """RIFF/AIFF-style chunks of a file: (id, offset of the size field, size width)."""
    found = []
    for tag in (b"fmt ", b"data", b"COMM", b"SSND", b"ds64", b"desc", b"RIFF", b"FORM", b"RF64"):
        at = b.find(tag)
        if at >= 0:
            found.append((tag, at + 4, 4))
    return found


def mangle(d: Draw, ext: str, data: bytes, log: list[str] | None = None) -> bytes:
    """One or two damages of a file's header or data; `log` gets what each one was."""
    b = bytearray(data)
    log = [] if log is None else log
    for _ in range(d.integer(1, 2)):
        kind = d.integer(0, 7)
        if kind == 0 and b:  # truncated
            b = b[: d.integer(0, len(b) - 1)]
            log.append("cut")
        elif kind == 1 and b:  # bytes flipped in the header
            for _ in range(d.integer(1, 4)):
                i = d.integer(0, min(len(b), 96) - 1)
                b[i] ^= 1 << d.integer(0, 7)
            log.append("bits flipped")
        elif kind == 2 and b:  # a chunk size changed
            chunks = _chunks(bytes(b))
            if chunks:
                _, at, _ = d.choice(chunks)
                value = d.choice(
                    (0, 1, 3, 0x7FFFFFFF, 0xFFFFFFFF, len(b) * 2, d.integer(0, 2**32 - 1))
                )
                if at + 4 <= len(b):
                    big = ext in ("aiff", "caf")
                    b[at : at + 4] = struct.pack(">I" if big else "<I", value)
                    log.append("chunk size")
        elif kind == 3:  # the sample rate
            rate = d.choice(_RATES_BAD)
            b = bytearray(set_rate(bytes(b), ext, rate))
            log.append(f"rate {rate}")
        elif kind == 4:  # the channel count
            channels = d.choice((0, 3, 8, 255, 65535))
            b = bytearray(set_channels(bytes(b), ext, channels))
            log.append(f"channels {channels}")
        elif kind == 5:  # the bits per sample
            bits = d.choice((0, 1, 7, 12, 33, 64, 65535))
            b = bytearray(set_bits(bytes(b), ext, bits))
            log.append(f"bits {bits}")
        elif kind == 6:  # garbage appended, or the data doubled
            b += bytes(d.integer(0, 255) for _ in range(d.integer(1, 64)))
            log.append("appended")
        elif b:  # a run of random bytes anywhere
            i = d.integer(0, len(b) - 1)
            for j in range(i, min(len(b), i + d.integer(1, 16))):
                b[j] = d.integer(0, 255)
            log.append("random bytes")
    return bytes(b)


def _fmt_offset(b: bytes, ext: str) -> int | None:
    """Where a WAV-family fmt chunk's body starts."""
    if ext in ("wav", "rf64"):
        at = b.find(b"fmt ")
        return at + 8 if at >= 0 else None
    if ext == "w64":
        at = b.find(b"fmt ")
        return at + 24 if at >= 0 else None  # 16-byte GUID + 8-byte size
    return None


def set_rate(b: bytes, ext: str, rate: int) -> bytes:
    m = bytearray(b)
    at = _fmt_offset(b, ext)
    if at is not None and at + 8 <= len(m):
        m[at + 4 : at + 8] = struct.pack("<I", rate)
    elif ext == "aiff":
        at = b.find(b"COMM")
        if at >= 0 and at + 26 <= len(m):
            m[at + 16 : at + 26] = _extended(rate)
    elif ext == "caf":
        at = b.find(b"desc")
        if at >= 0 and at + 20 <= len(m):
            m[at + 12 : at + 20] = struct.pack(">d", float(rate))
    elif ext == "flac":
        at = b.find(b"fLaC")
        if at >= 0 and at + 8 + 13 <= len(m):
            # STREAMINFO: 20 bits of rate starting at byte 10 of its body
            body = at + 8
            r = rate & 0xFFFFF
            m[body + 10] = (r >> 12) & 0xFF
            m[body + 11] = (r >> 4) & 0xFF
            m[body + 12] = ((r & 0xF) << 4) | (m[body + 12] & 0x0F)
    return bytes(m)


def _extended(value: int) -> bytes:
    """An 80-bit IEEE extended float (AIFF's sample rate)."""
    if value == 0:
        return bytes(10)
    exponent = value.bit_length() - 1
    mantissa = value << (63 - exponent)
    return struct.pack(">HQ", exponent + 16383, mantissa & 0xFFFFFFFFFFFFFFFF)


def set_channels(b: bytes, ext: str, channels: int) -> bytes:
    m = bytearray(b)
    at = _fmt_offset(b, ext)
    if at is not None and at + 4 <= len(m):
        m[at + 2 : at + 4] = struct.pack("<H", channels)
    elif ext == "aiff":
        at = b.find(b"COMM")
        if at >= 0 and at + 10 <= len(m):
            m[at + 8 : at + 10] = struct.pack(">H", channels)
    elif ext == "caf":
        at = b.find(b"desc")
        if at >= 0 and at + 40 <= len(m):
            m[at + 36 : at + 40] = struct.pack(">I", channels)
    return bytes(m)


def set_bits(b: bytes, ext: str, bits: int) -> bytes:
    m = bytearray(b)
    at = _fmt_offset(b, ext)
    if at is not None and at + 16 <= len(m):
        m[at + 14 : at + 16] = struct.pack("<H", bits)
    elif ext == "aiff":
        at = b.find(b"COMM")
        if at >= 0 and at + 16 <= len(m):
            m[at + 14 : at + 16] = struct.pack(">H", bits)
    return bytes(m)


def audio_mix(source: str, *, as_ir: bool, tail_s: float = 0.01) -> str:
    """A one-track mix reading `source` (or using it as the impulse response)."""
    track: dict[str, Any] = {"name": "t", "source": "mono.wav" if as_ir else source}
    if as_ir:
        track["insert"] = [{"type": "convolution", "ir": source}]
    doc = {
        "format": "mixrender/1",
        "session": {"sample_rate": RATE, "tail_s": tail_s},
        "render": {"bit_depth": 16},
        "track": [track],
    }
    return to_toml(doc)


# --- outcomes -----------------------------------------------------------------------------------

OK = "ok"
ONE_LINE = "one-line error"
MULTI_LINE = "multi-line error"
UNNAMED = "error not naming the file"
OTHER = "other exception type"
CRASH = "crash"
TIMEOUT = "timeout"
MISMATCH = "render mismatch"
HUGE = "huge allocation"
BAD = (MULTI_LINE, UNNAMED, OTHER, CRASH, TIMEOUT, MISMATCH, HUGE)
"""The outcomes that are failures of the harness's properties."""


def classify_error(e: BaseException, must_name: str | None = None) -> str:
    """The outcome of an exception: a one-line MixError (naming `must_name`), or worse."""
    from mixrender import MixError

    if not isinstance(e, MixError):
        return OTHER
    message = str(e)
    if "\n" in message or "\r" in message or not message.strip():
        return MULTI_LINE
    if must_name is not None and must_name not in message:
        return UNNAMED
    return ONE_LINE


class Timeout(Exception):
    """Raised by the alarm that bounds an in-process case."""


def with_alarm(seconds: float, fn: Callable[[], T]) -> T:
    """Runs `fn` under SIGALRM (main thread only); raises `Timeout` when it takes too long."""
    import signal

    def ring(signum: int, frame: Any) -> None:
        raise Timeout(f"over {seconds} s")

    old = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return fn()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def run_forked(
    fn: Callable[[], str], *, timeout_s: float, memory_bytes: int
) -> tuple[str, str, int]:
    """Runs `fn` in a forked child under a memory limit; returns (outcome, detail, max RSS in
    KiB). A child killed by a signal is a crash, one that outlives `timeout_s` a timeout."""
    import resource
    import select
    import signal
    import tempfile
    import time

    read_end, write_end = os.pipe()
    errors = tempfile.TemporaryFile()  # noqa: SIM115 (the child writes it, the parent reads)
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 0
        try:
            os.close(read_end)
            os.dup2(errors.fileno(), 2)  # a panic's or abort's words, for the report
            resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            result = fn()
            os.write(write_end, result.encode("utf-8", "replace")[:60000])
        except BaseException as e:  # reported, never raised in the child
            os.write(write_end, f"{OTHER}\t{type(e).__name__}: {e}".encode()[:60000])
            code = 3
        finally:
            os._exit(code)
    os.close(write_end)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    timed_out = False
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        ready, _, _ = select.select([read_end], [], [], left)
        if ready:
            chunk = os.read(read_end, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    os.close(read_end)
    if timed_out:
        os.kill(pid, signal.SIGKILL)
    _, status, usage = os.wait4(pid, 0)
    rss = int(usage.ru_maxrss)
    errors.seek(0)
    said = [
        line.strip()
        for line in errors.read(1 << 20).decode("utf-8", "replace").splitlines()
        if line.strip() and not line.startswith(" ") and "backtrace" not in line
    ]
    errors.close()
    stderr = f" ({'; '.join(said[:2])[:300]})" if said else ""
    if timed_out:
        return TIMEOUT, f"over {timeout_s} s", rss
    if os.WIFSIGNALED(status):
        name = signal.Signals(os.WTERMSIG(status)).name
        if "memory allocation of" in stderr:
            return HUGE, f"signal {name}{stderr}", rss
        return CRASH, f"signal {name}{stderr}", rss
    text = b"".join(chunks).decode("utf-8", "replace")
    outcome, _, detail = text.partition("\t")
    if not outcome:
        return CRASH, f"exit {os.waitstatus_to_exitcode(status)} with no result{stderr}", rss
    return outcome, detail, rss


# --- cases --------------------------------------------------------------------------------------

RENDERS: tuple[tuple[int, int], ...] = ((4096, 1), (256, 1), (4096, 2), (256, 2))
"""(block size, threads) of the renders that must agree bit for bit."""


def run_valid(
    folder: Path,
    doc: dict[str, Any],
    *,
    render: bool = True,
    renders: Sequence[tuple[int, int]] = RENDERS,
) -> tuple[str, str]:
    """A valid mix: loads and checks; rendered on each of `renders` (block size, threads), the
    renders are identical."""
    import mixrender

    path = folder / "valid.toml"
    write_text(path, to_toml(doc))
    try:
        mix = mixrender.load(path)
        mix.check()
        if not render:
            return OK, ""
        first = None
        for block, threads in renders:
            audio = mix.render(block_size=block, threads=threads, dtype="float64")
            if first is None:
                first = audio
            elif audio.shape != first.shape or not np.array_equal(audio, first):
                diff = (
                    "shape"
                    if audio.shape != first.shape
                    else f"max |diff| {float(np.max(np.abs(audio - first))):.3g}"
                )
                first_block, first_threads = renders[0]
                return MISMATCH, (
                    f"block {block}, {threads} threads vs {first_block}, {first_threads}: {diff}"
                )
    except BaseException as e:
        if isinstance(e, KeyboardInterrupt):
            raise
        outcome = classify_error(e)
        # A valid mix must not be refused: a one-line error is a failure here too.
        return (OTHER if outcome == ONE_LINE else outcome), f"{type(e).__name__}: {e}"
    return OK, ""


MAX_BROKEN_RENDER_FRAMES = 48000
"""A broken mix that still passes `check` is rendered when it is at most this long."""


def run_broken(folder: Path, text: str, *, render: bool = True) -> tuple[str, str]:
    """A broken mix: loads, checks and (when short) renders, or gives one one-line MixError."""
    import mixrender

    path = folder / "broken.toml"
    write_text(path, text)
    try:
        mix = mixrender.load(path)
        mix.check()
        if render and _frames(mix) <= MAX_BROKEN_RENDER_FRAMES:
            mix.render(block_size=256, threads=1)
    except BaseException as e:
        if isinstance(e, KeyboardInterrupt):
            raise
        return classify_error(e), f"{type(e).__name__}: {e}"
    return OK, ""


SPECIAL_SOURCES = ("fifo", "folder", "/dev/null", "/dev/zero", "empty", "symlink loop")
"""Files that are no regular audio file, used as a source."""


def place_audio(folder: Path, name: str, data: bytes | None, special: str | None) -> None:
    """Writes a mangled file (or makes a special one) at folder/name."""
    target = folder / name
    if target.is_symlink() or target.exists():
        if target.is_dir() and not target.is_symlink():
            target.rmdir()
        else:
            target.unlink()
    if special is None:
        assert data is not None
        target.write_bytes(data)
    elif special == "fifo":
        os.mkfifo(target)
    elif special == "folder":
        target.mkdir()
    elif special in ("/dev/null", "/dev/zero"):
        target.symlink_to(special)
    elif special == "empty":
        target.write_bytes(b"")
    else:
        target.symlink_to(target)


def audio_case(folder: Path, name: str, *, as_ir: bool, render: bool = True) -> str:
    """In the child: check and render a mix reading folder/name; the outcome and detail."""
    import mixrender

    path = folder / "audio.toml"
    write_text(path, audio_mix(name, as_ir=as_ir))
    try:
        mix = mixrender.load(path)
        mix.check()
        if render and _frames(mix) <= MAX_AUDIO_RENDER_FRAMES:
            mix.render(folder / "audio.wav", block_size=4096, threads=1, lock=False)
    except BaseException as e:
        return f"{classify_error(e, must_name=name)}\t{type(e).__name__}: {e}"
    return f"{OK}\t"


MAX_AUDIO_RENDER_FRAMES = 10 * RATE
"""A mangled file whose header promises more than this is checked, not rendered: a render's
time grows with the length the header claims (the 4-hour cap on output is the loader's)."""


def _frames(mix: Any) -> int:
    from mixrender.plan import build_plan
    from mixrender.sources import probe_sources

    frames: int = build_plan(mix.file, probe_sources(mix.file))["frames"]
    return frames


AUDIO_TIMEOUT_S = 20.0
AUDIO_MEMORY = 3 * 2**30
HUGE_RSS_KIB = 1 * 2**20
"""A tiny file whose check or render needs more than 1 GiB resident is a huge allocation."""


def run_audio(
    folder: Path,
    name: str,
    data: bytes | None,
    special: str | None,
    *,
    as_ir: bool,
    timeout_s: float = AUDIO_TIMEOUT_S,
) -> tuple[str, str]:
    """A mangled or special file as a source or impulse response, checked and rendered in a
    forked child with a timeout and a memory limit."""
    place_audio(folder, name, data, special)
    outcome, detail, rss = run_forked(
        lambda: audio_case(folder, name, as_ir=as_ir),
        timeout_s=timeout_s,
        memory_bytes=AUDIO_MEMORY,
    )
    if rss > HUGE_RSS_KIB and outcome in (OK, ONE_LINE):
        return HUGE, f"{rss // 1024} MiB resident; then {outcome}: {detail}"
    if "MemoryError" in detail:
        return HUGE, f"{detail} ({rss // 1024} MiB resident)"
    return outcome, detail


# --- minimising ---------------------------------------------------------------------------------


def _simpler(value: Any) -> list[Any]:
    if isinstance(value, bool):
        return [False] if value else []
    if isinstance(value, float) and not math.isnan(value):
        return [v for v in (0.0, 1.0, float(round(value)), round(value, 2)) if v != value]
    if isinstance(value, int):
        return [v for v in (0, 1) if v != value]
    return []


def minimise_doc(doc: Any, same: Callable[[Any], bool], budget: int = 250) -> Any:
    """Greedy structural shrinking: drop table keys and list items, then simplify numbers,
    while `same(candidate)` holds (the failure keeps its outcome class)."""
    calls = 0
    progress = True
    while progress and calls < budget:
        progress = False
        for at in sorted(_leaves(doc), key=len):
            if calls >= budget:
                break
            try:
                parent = get(doc, at[:-1])
            except (KeyError, IndexError, TypeError):
                continue
            candidates = []
            present = at[-1] in parent if isinstance(parent, dict) else False
            if isinstance(parent, list):
                present = isinstance(at[-1], int) and at[-1] < len(parent)
            if present:
                smaller = _copy(doc)
                del get(smaller, at[:-1])[at[-1]]
                candidates.append(smaller)
            else:
                continue
            for simple in _simpler(parent[at[-1]]):
                simpler = _copy(doc)
                _set(simpler, at, simple)
                candidates.append(simpler)
            for candidate in candidates:
                calls += 1
                if same(candidate):
                    doc = candidate
                    progress = True
                    break
    return doc


def minimise_text(text: str, same: Callable[[str], bool], budget: int = 300) -> str:
    """Greedy line removal while `same(candidate)` holds."""
    lines = text.splitlines()
    calls = 0
    progress = True
    while progress and calls < budget:
        progress = False
        i = 0
        while i < len(lines) and calls < budget:
            candidate = lines[:i] + lines[i + 1 :]
            calls += 1
            if same("\n".join(candidate) + "\n"):
                lines = candidate
                progress = True
            else:
                i += 1
    return "\n".join(lines) + "\n"
