"""An independent reference renderer for differential tests, and a random mix generator.

The reference is written from `mix-format.md` alone ("Signal flow and formulas",
"Clarifications", "Automation", "Rendering") and shares no code with the `mixrender`
package: it parses the mix text with `tomllib` and renders in float64 with numpy and plain
Python loops, slowly and literally. It covers a subset of the format, chosen so that the
spec fixes every sample of it:

- tracks and buses: polarity, clip gain, fader (`gain_db` + `trim_db` + VCAs, in dB, -144 is
  off), width, pan (every law; balance for stereo), mute, solo (in place, buses by what
  feeds them), `output`, sends on every tap with their own pan, `offset_s`;
- automation of `gain_db`, `trim_db`, `pan`, `width`, `mute`, send level and pan, VCA and
  master `gain_db` and a `gain` insert's `gain_db`, every shape, per-point shapes, jumps;
- inserts `gain`, `eq` (static bands, RBJ cookbook; first order and Butterworth cascades),
  `delay` with `feedback = 0` (a pure delay of `round(t * fs)` frames, `mix` as the spec
  says, the delay adding no latency), and `limiter`, taken as the identity: its caller
  guarantees that the ceiling is never reached (the reference records every limiter's input
  peak so that the guarantee can be checked), and latency compensation makes its lookahead
  invisible at the master and in the stems;
- the master: the sum of its direct inputs, inserts, `gain_db`, the clip at full scale.

Anything else raises `NotImplementedError`, never a guess.
"""

from __future__ import annotations

import itertools
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]
Source = tuple[Array, int]

OFF_DB = -144.0
LAWS = ("-3dB", "-4.5dB", "-6dB", "0dB")
SHAPES = ("linear", "step", "smooth", "fast_start", "fast_end", "bezier")
TAPS = ("pre_inserts", "pre_fader", "post_fader")


# ---------------------------------------------------------------------------------------------
# Positions and automation


def round_half_away(x: float) -> int:
    """Rounds halves away from zero (Python's `round` rounds them to even)."""
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


@dataclass(frozen=True)
class Timing:
    fs: int
    tempo_bpm: float | None
    beats_per_bar: int

    def seconds(self, t: object) -> float:
        if isinstance(t, str):
            if self.tempo_bpm is None:
                raise ValueError(f"musical time {t!r} without tempo_bpm")
            bar, beat = t.split(":")
            beats = (int(bar) - 1) * self.beats_per_bar + (float(beat) - 1.0)
            return beats * 60.0 / self.tempo_bpm
        if isinstance(t, bool) or not isinstance(t, int | float):
            raise TypeError(f"not a time: {t!r}")
        return float(t)

    def frame(self, t: object) -> int:
        return round_half_away(self.seconds(t) * self.fs)


def shape_s(shape: str, tension: float, f: Array) -> Array:
    """The spec's `s(f)`, which replaces `f` in the linear formula."""
    if shape == "linear":
        return f
    if shape == "smooth":
        return (1.0 - np.cos(np.pi * f)) / 2.0
    if shape == "fast_start":
        return f + f * (1.0 - f)
    if shape == "fast_end":
        return f - f * (1.0 - f)
    if shape == "bezier":
        return f + tension * f * (1.0 - f)
    if shape == "step":
        return np.zeros_like(f)
    raise NotImplementedError(f"curve {shape!r}")


def lane_values(lane: Any, frames: int, timing: Timing, *, stepped: bool = False) -> Array:
    """A lane's value at every frame of the timeline.

    Points are placed on frames first; between points on frames `n0 < n1` the segment's
    shape (the point's own, else the lane's) interpolates; points on one frame make a jump
    (the last of them holds from that frame on); before the first point the first value
    holds, after the last the last."""
    if isinstance(lane, dict):
        points = lane["points"]
        curve = str(lane.get("curve", "linear"))
        tension = float(lane.get("tension", 0.0))
    else:
        points, curve, tension = lane, "linear", 0.0
    if stepped:
        curve = "step"
    placed: list[tuple[int, float, str, float]] = []
    for p in points:
        shape, ten = curve, tension
        if len(p) >= 3:
            shape = str(p[2])
            ten = float(p[3]) if len(p) >= 4 else (tension if shape == curve else 0.0)
        if stepped:
            shape = "step"
        placed.append((timing.frame(p[0]), float(p[1]), shape, ten))
    out = np.empty(frames)
    first = placed[0]
    out[: max(0, min(first[0], frames))] = first[1]
    for (n0, v0, shape, ten), (n1, v1, _, _) in itertools.pairwise(placed):
        if n1 <= n0 or n0 >= frames:
            continue
        n = np.arange(n0, min(n1, frames))
        f = (n - n0) / (n1 - n0)
        out[n0 : min(n1, frames)] = v0 + (v1 - v0) * shape_s(shape, ten, f)
    last = placed[-1]
    if last[0] < frames:
        out[max(0, last[0]) :] = last[1]
    return out


def db_gain(db: Array) -> Array:
    """`10^(dB/20)`, with -144 dB (and below) exactly 0."""
    g = np.power(10.0, db / 20.0)
    g[db <= OFF_DB] = 0.0
    return g


# ---------------------------------------------------------------------------------------------
# Pan, width


def mono_pan(p: Array, law: str) -> tuple[Array, Array]:
    theta = (p + 1.0) * np.pi / 4.0
    if law == "-3dB":
        gl, gr = np.cos(theta), np.sin(theta)
    elif law == "-6dB":
        gl, gr = (1.0 - p) / 2.0, (1.0 + p) / 2.0
    elif law == "-4.5dB":
        gl = np.sqrt(np.cos(theta) * (1.0 - p) / 2.0)
        gr = np.sqrt(np.sin(theta) * (1.0 + p) / 2.0)
    elif law == "0dB":
        gl, gr = np.minimum(1.0, 1.0 - p), np.minimum(1.0, 1.0 + p)
    else:
        raise NotImplementedError(f"pan law {law!r}")
    gl = np.where(p >= 1.0, 0.0, gl)  # hard pan: exactly 0 on the far side
    gr = np.where(p <= -1.0, 0.0, gr)
    return gl, gr


def place(sig: Array, p: Array, law: str) -> Array:
    """Mono by the pan law, stereo by balance: a (frames, 2) array."""
    if sig.shape[1] == 1:
        gl, gr = mono_pan(p, law)
        return np.stack([sig[:, 0] * gl, sig[:, 0] * gr], axis=1)
    gl, gr = np.minimum(1.0, 1.0 - p), np.minimum(1.0, 1.0 + p)
    return np.stack([sig[:, 0] * gl, sig[:, 1] * gr], axis=1)


def widen(sig: Array, w: Array) -> Array:
    if sig.shape[1] == 1:
        return sig
    m = (sig[:, 0] + sig[:, 1]) / 2.0
    s = (sig[:, 0] - sig[:, 1]) / 2.0
    return np.stack([m + w * s, m - w * s], axis=1)


# ---------------------------------------------------------------------------------------------
# Inserts

Coeffs = tuple[tuple[float, float, float], tuple[float, float, float]]


def cookbook(kind: str, f0: float, fs: int, q: float, gain_db: float = 0.0) -> Coeffs:
    """RBJ Audio EQ Cookbook biquads, normalised by a0."""
    w0 = 2.0 * math.pi * f0 / fs
    cw, sw = math.cos(w0), math.sin(w0)
    alpha = sw / (2.0 * q)
    a = 10.0 ** (gain_db / 40.0)
    if kind == "lowpass":
        b = ((1 - cw) / 2, 1 - cw, (1 - cw) / 2)
        den = (1 + alpha, -2 * cw, 1 - alpha)
    elif kind == "highpass":
        b = ((1 + cw) / 2, -(1 + cw), (1 + cw) / 2)
        den = (1 + alpha, -2 * cw, 1 - alpha)
    elif kind == "bandpass":  # constant 0 dB peak gain
        b = (alpha, 0.0, -alpha)
        den = (1 + alpha, -2 * cw, 1 - alpha)
    elif kind == "notch":
        b = (1.0, -2 * cw, 1.0)
        den = (1 + alpha, -2 * cw, 1 - alpha)
    elif kind == "bell":
        b = (1 + alpha * a, -2 * cw, 1 - alpha * a)
        den = (1 + alpha / a, -2 * cw, 1 - alpha / a)
    elif kind == "lowshelf":
        r = 2 * math.sqrt(a) * alpha
        b = (
            a * ((a + 1) - (a - 1) * cw + r),
            2 * a * ((a - 1) - (a + 1) * cw),
            a * ((a + 1) - (a - 1) * cw - r),
        )
        den = (
            (a + 1) + (a - 1) * cw + r,
            -2 * ((a - 1) + (a + 1) * cw),
            (a + 1) + (a - 1) * cw - r,
        )
    elif kind == "highshelf":
        r = 2 * math.sqrt(a) * alpha
        b = (
            a * ((a + 1) + (a - 1) * cw + r),
            -2 * a * ((a - 1) + (a + 1) * cw),
            a * ((a + 1) + (a - 1) * cw - r),
        )
        den = ((a + 1) - (a - 1) * cw + r, 2 * ((a - 1) - (a + 1) * cw), (a + 1) - (a - 1) * cw - r)
    else:
        raise NotImplementedError(f"band type {kind!r}")
    a0 = den[0]
    return (b[0] / a0, b[1] / a0, b[2] / a0), (1.0, den[1] / a0, den[2] / a0)


def first_order(kind: str, f0: float, fs: int) -> Coeffs:
    """First-order low- or high-pass by the bilinear transform, pre-warped at f0."""
    k = math.tan(math.pi * f0 / fs)
    a1 = (k - 1.0) / (k + 1.0)
    if kind == "lowpass":
        return (k / (1.0 + k), k / (1.0 + k), 0.0), (1.0, a1, 0.0)
    return (1.0 / (1.0 + k), -1.0 / (1.0 + k), 0.0), (1.0, a1, 0.0)


def butterworth_qs(order: int) -> list[float]:
    """The Q of each second-order section of an analog Butterworth filter of `order`."""
    qs = []
    for k in range(order // 2):
        angle = (2 * k + 1) * math.pi / (2 * order) if order % 2 == 0 else (k + 1) * math.pi / order
        qs.append(1.0 / (2.0 * math.cos(angle)))
    return qs


def band_sections(band: Mapping[str, Any], fs: int) -> list[Coeffs]:
    kind = str(band["type"])
    f0 = float(band["freq_hz"])
    if kind in ("highpass", "lowpass"):
        slope = int(band.get("slope_db_oct", 12))
        if slope == 6:
            return [first_order(kind, f0, fs)]
        if slope == 12:
            return [cookbook(kind, f0, fs, float(band.get("q", 0.7071)))]  # the spec's default
        order = slope // 6
        sections = [cookbook(kind, f0, fs, q) for q in butterworth_qs(order)]
        if order % 2:
            sections.append(first_order(kind, f0, fs))
        return sections
    if kind in ("lowshelf", "highshelf"):
        return [cookbook(kind, f0, fs, float(band.get("q", 0.707)), float(band["gain_db"]))]
    if kind == "bell":
        return [cookbook(kind, f0, fs, float(band.get("q", 1.0)), float(band["gain_db"]))]
    if kind in ("notch", "bandpass"):
        return [cookbook(kind, f0, fs, float(band.get("q", 1.0)))]
    raise NotImplementedError(f"band type {kind!r}")


def biquad(x: Array, c: Coeffs) -> Array:
    """Direct form I, one sample at a time."""
    (b0, b1, b2), (_, a1, a2) = c
    out = []
    x1 = x2 = y1 = y2 = 0.0
    for xn in x.tolist():
        yn = b0 * xn + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2
        out.append(yn)
        x2, x1, y2, y1 = x1, xn, y1, yn
    return np.asarray(out, dtype=np.float64)


def insert_names(inserts: list[dict[str, Any]]) -> list[str]:
    """Each insert's name: its own, else its type with a number if repeated ("eq", "eq2")."""
    names, seen = [], dict[str, int]()
    for ins in inserts:
        kind = str(ins["type"])
        seen[kind] = seen.get(kind, 0) + 1
        names.append(str(ins.get("name", kind if seen[kind] == 1 else f"{kind}{seen[kind]}")))
    return names


@dataclass
class LimiterProbe:
    """Where a limiter sat, its ceiling and the peak of its input (the reference's
    precondition: never at the ceiling)."""

    where: str
    ceiling_db: float
    input_peak: float


def apply_insert(
    ins: Mapping[str, Any],
    sig: Array,
    fs: int,
    lane: Any | None,
    frames: int,
    timing: Timing,
    where: str,
    probes: list[LimiterProbe],
) -> Array:
    kind = str(ins["type"])
    if kind == "limiter":  # transparent below its ceiling, its latency compensated
        peak = float(np.max(np.abs(sig))) if sig.size else 0.0
        probes.append(LimiterProbe(where, float(ins.get("ceiling_db", -1.0)), peak))
        return sig
    if ins.get("bypass", False):
        return sig
    if kind == "gain":
        db = (
            lane_values(lane, frames, timing)
            if lane is not None
            else np.full(frames, float(ins.get("gain_db", 0.0)))
        )
        g = db_gain(db) * (-1.0 if ins.get("polarity", False) else 1.0)
        return sig * g[:, None]
    if kind == "eq":
        out = sig.copy()
        for band in ins.get("bands", []):
            for c in band_sections(band, fs):
                for ch in range(out.shape[1]):
                    out[:, ch] = biquad(out[:, ch], c)
        return out
    if kind == "delay":
        if float(ins.get("feedback", 0.3)) != 0.0 or ins.get("ping_pong", False):
            raise NotImplementedError("delay with feedback or ping-pong")
        if "lowcut_hz" in ins or "highcut_hz" in ins or "time_ms" not in ins:
            raise NotImplementedError("delay filters or note values")
        d = round_half_away(float(ins["time_ms"]) / 1000.0 * fs)
        wet = np.zeros_like(sig)
        if d < frames:
            wet[d:] = sig[: frames - d]
        mix = float(ins.get("mix", 1.0))
        return (1.0 - mix) * sig + mix * wet
    raise NotImplementedError(f"insert {kind!r}")


# ---------------------------------------------------------------------------------------------
# The mix


@dataclass
class Reference:
    master: Array  # (frames, 2), the clipped master
    stems: dict[str, Array]  # each direct input of the master, (frames, 2)
    limiters: list[LimiterProbe] = field(default_factory=list)


def flat_lanes(auto: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Lanes by their dotted key, whether written quoted or as TOML dotted keys."""
    out: dict[str, Any] = {}
    for key, value in auto.items():
        if isinstance(value, dict) and "points" not in value:
            out.update(flat_lanes(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def timeline_frames(mix: Mapping[str, Any], sources: Mapping[str, Source], t: Timing) -> int:
    session = mix["session"]
    end = session.get("end", "auto")
    if end != "auto":
        return t.frame(end)
    last = 0
    for track in mix.get("track", []):
        array, _ = sources[track["source"]]
        last = max(last, t.frame(track.get("offset_s", 0.0)) + array.shape[0])
    return last + t.frame(float(session.get("tail_s", 2.0)))


def bus_order(buses: list[dict[str, Any]]) -> list[str]:
    """Buses in an order where every bus comes after all buses that feed it."""
    names = [b["name"] for b in buses]
    feeds: dict[str, set[str]] = {n: set() for n in names}
    for b in buses:
        dests = {b.get("output", "master")} | {s["to"] for s in b.get("sends", [])}
        for d in dests:
            if d in feeds:
                feeds[d].add(b["name"])
    order: list[str] = []
    while len(order) < len(names):
        ready = [n for n in names if n not in order and feeds[n] <= set(order)]
        if not ready:
            raise ValueError("routing cycle")
        order.append(ready[0])
    return order


def render(text: str, sources: Mapping[str, Source]) -> Reference:
    """Renders the mix `text` with sources given in memory (`source` string -> (array, rate),
    mono arrays 1-D or (n, 1), stereo (n, 2))."""
    mix = tomllib.loads(text)
    session = mix["session"]
    fs = int(session["sample_rate"])
    meter = session.get("meter", [4, 4])
    timing = Timing(fs, session.get("tempo_bpm"), int(meter[0]))
    frames = timeline_frames(mix, sources, timing)
    session_law = str(session.get("pan_law", "-3dB"))
    tracks: list[dict[str, Any]] = mix.get("track", [])
    buses: list[dict[str, Any]] = mix.get("bus", [])
    master: dict[str, Any] = mix.get("master", {})
    probes: list[LimiterProbe] = []

    vca_db: dict[str, list[Array]] = {}
    for vca in mix.get("vca", []):
        auto = flat_lanes(vca.get("automation", {}))
        db = (
            lane_values(auto["gain_db"], frames, timing)
            if "gain_db" in auto
            else np.full(frames, float(vca.get("gain_db", 0.0)))
        )
        for member in vca["members"]:
            vca_db.setdefault(member, []).append(db)

    # Solo in place: a track sounds when soloed or when it reaches a soloed bus.
    strips = tracks + buses
    soloed = {s["name"] for s in strips if s.get("solo", False)}
    dests = {
        s["name"]: {s.get("output", "master")} | {d["to"] for d in s.get("sends", [])}
        for s in strips
    }

    def reaches_solo(name: str, seen: frozenset[str] = frozenset()) -> bool:
        for d in dests.get(name, set()):
            if d in soloed or (d not in seen and reaches_solo(d, seen | {d})):
                return True
        return False

    inputs = {b["name"]: np.zeros((frames, 2)) for b in buses}
    master_in = np.zeros((frames, 2))
    stems: dict[str, Array] = {}

    def run_strip(strip: dict[str, Any], sig: Array, is_bus: bool) -> None:
        name = str(strip["name"])
        auto = flat_lanes(strip.get("automation", {}))
        law = str(strip.get("pan_law", session_law))

        def value(key: str, static: float) -> Array:
            if key in auto:
                return lane_values(auto[key], frames, timing, stepped=key == "mute")
            return np.full(frames, static)

        if strip.get("polarity", False):
            sig = -sig
        if not is_bus:
            sig = sig * 10.0 ** (float(strip.get("clip_gain_db", 0.0)) / 20.0)
        taps = {"pre_inserts": sig}
        inserts = list(strip.get("insert", []))
        for ins, iname in zip(inserts, insert_names(inserts), strict=True):
            lane = auto.get(f"{iname}.gain_db")
            sig = apply_insert(ins, sig, fs, lane, frames, timing, f"{name} > {iname}", probes)
        taps["pre_fader"] = sig
        own = value("gain_db", float(strip.get("gain_db", 0.0)))
        total = own + value("trim_db", float(strip.get("trim_db", 0.0)))
        off = own <= OFF_DB
        for db in vca_db.get(name, []):
            total = total + db
            off |= db <= OFF_DB
        fader = db_gain(total)
        fader[off] = 0.0
        sig = sig * fader[:, None]
        taps["post_fader"] = sig
        sig = widen(sig, value("width", float(strip.get("width", 1.0))))
        out = place(sig, value("pan", float(strip.get("pan", 0.0))), law)
        sounds = value("mute", 1.0 if strip.get("mute", False) else 0.0) < 0.5
        if soloed and not is_bus and name not in soloed and not reaches_solo(name):
            sounds[:] = False
        gate = sounds.astype(np.float64)[:, None]
        dest = str(strip.get("output", "master"))
        if dest == "master":
            stems[name] = out * gate
            master_in[:] += stems[name]
        else:
            inputs[dest] += out * gate
        for send in strip.get("sends", []):
            to = str(send["to"])
            level = db_gain(value(f"sends.{to}.level_db", float(send["level_db"])))
            tapped = taps[str(send.get("tap", "post_fader"))] * level[:, None]
            placed = place(tapped, value(f"sends.{to}.pan", float(send.get("pan", 0.0))), law)
            inputs[to] += placed * gate

    for track in tracks:
        array, rate = sources[track["source"]]
        if rate != fs:
            raise NotImplementedError("resampling")
        src = np.asarray(array, dtype=np.float64)
        src = src[:, None] if src.ndim == 1 else src
        sig = np.zeros((frames, src.shape[1]))
        start = timing.frame(track.get("offset_s", 0.0))
        if start < frames:
            n = min(src.shape[0], frames - start)
            sig[start : start + n] = src[:n]
        run_strip(track, sig, is_bus=False)
    by_name = {b["name"]: b for b in buses}
    for name in bus_order(buses):
        run_strip(by_name[name], inputs[name], is_bus=True)

    sig = master_in
    auto = flat_lanes(master.get("automation", {}))
    inserts = list(master.get("insert", []))
    for ins, iname in zip(inserts, insert_names(inserts), strict=True):
        lane = auto.get(f"{iname}.gain_db")
        sig = apply_insert(ins, sig, fs, lane, frames, timing, f"master > {iname}", probes)
    db = (
        lane_values(auto["gain_db"], frames, timing)
        if "gain_db" in auto
        else np.full(frames, float(master.get("gain_db", 0.0)))
    )
    sig = np.clip(sig * db_gain(db)[:, None], -1.0, 1.0)
    return Reference(sig, stems, probes)


# ---------------------------------------------------------------------------------------------
# Random mixes


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ValueError(v)
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{toml_key(k)} = {toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(v)


def toml_key(k: str) -> str:
    bare = k.replace("_", "").replace("-", "").isalnum() and k.isascii()
    return k if bare else toml_value(k)


TABLE_ARRAYS = ("track", "bus", "vca", "insert")


def to_toml(table: Mapping[str, Any], path: str = "") -> str:
    """A TOML document: scalars and inline arrays first, then sub-tables, then the arrays of
    tables named in `TABLE_ARRAYS`."""
    lines: list[str] = []
    subs: list[tuple[str, Any]] = []
    for k, v in table.items():
        if (isinstance(v, dict) and not path.endswith("automation")) or (
            isinstance(v, list) and k in TABLE_ARRAYS
        ):
            subs.append((k, v))
        else:
            lines.append(f"{toml_key(k)} = {toml_value(v)}")
    text = "".join(line + "\n" for line in lines)
    for k, v in subs:
        sub = f"{path}.{k}" if path else k
        if isinstance(v, dict):
            text += f"[{sub}]\n" + to_toml(v, sub)
        else:
            for item in v:
                text += f"[[{sub}]]\n" + to_toml(item, sub)
    return text


@dataclass
class Case:
    seed: int
    text: str
    sources: dict[str, Source]
    features: set[str]


class _Gen:
    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.features: set[str] = set()

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def uniform(self, lo: float, hi: float, digits: int = 3) -> float:
        return round(float(self.rng.uniform(lo, hi)), digits)

    def pick(self, options: tuple[str, ...] | list[str]) -> str:
        return str(options[int(self.rng.integers(len(options)))])

    def time(self, lo: float, hi: float) -> float:
        if self.chance(0.1):  # a time whose frame is (nearly) a half: rounding matters
            self.features.add("half_frame_time")
            return (int(self.rng.integers(round(lo * 48000), round(hi * 48000) + 1)) + 0.5) / 48000
        return self.uniform(lo, hi, 5)

    def lane(self, target: str, lo: float, hi: float, length_s: float, off: bool = False) -> Any:
        """Points in time order, with jumps and per-point shapes, as a list or a table."""
        n = int(self.rng.integers(1, 6))
        times = sorted(self.time(0.0, length_s) for _ in range(n))
        if n > 1 and self.chance(0.4):  # a jump: two points at one time
            i = int(self.rng.integers(n))
            times.insert(i, times[i])
            self.features.add("lane_jump")
        points: list[list[Any]] = []
        for t in times:
            if target == "mute":
                points.append([t, int(self.rng.integers(2))])
                continue
            v = OFF_DB if off and self.chance(0.1) else self.uniform(lo, hi)
            if target in ("pan", "send_pan") and self.chance(0.15):
                v = float(self.pick(["-1.0", "1.0"]))
            point: list[Any] = [t, v]
            if self.chance(0.25):
                shape = self.pick(SHAPES)
                point.append(shape)
                if shape == "bezier":
                    point.append(self.uniform(-1.0, 1.0, 2))
                self.features.add(f"point_{shape}")
            points.append(point)
        self.features.add(f"lane_{target}")
        if target == "mute" or self.chance(0.4):
            return points
        curve = self.pick(SHAPES)
        self.features.add(f"curve_{curve}")
        lane: dict[str, Any] = {"points": points, "curve": curve}
        if curve == "bezier":
            lane["tension"] = self.uniform(-1.0, 1.0, 2)
        return lane

    def inserts(self, where: str, length_s: float, auto: dict[str, Any]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        counts: dict[str, int] = {}
        for _ in range(int(self.rng.integers(0, 4))):
            kind = self.pick(("gain", "eq", "delay", "limiter"))
            counts[kind] = counts.get(kind, 0) + 1
            ins: dict[str, Any] = {}
            name = kind if counts[kind] == 1 else f"{kind}{counts[kind]}"
            if self.chance(0.3):
                name = f"{kind}_{len(out) + 1}"
                ins["name"] = name
            ins["type"] = kind
            if kind == "gain":
                ins["gain_db"] = OFF_DB if self.chance(0.05) else self.uniform(-12.0, 6.0)
                if self.chance(0.4):
                    ins["polarity"] = self.chance(0.7)
                if self.chance(0.3):
                    auto[f"{name}.gain_db"] = self.lane("insert_gain", -20.0, 6.0, length_s, True)
            elif kind == "eq":
                ins["bands"] = [self.band() for _ in range(int(self.rng.integers(1, 3)))]
            elif kind == "delay":
                d = int(self.rng.integers(0, 4800))
                ins["time_ms"] = round(d / 48.0, 6)
                ins["feedback"] = 0.0
                if self.chance(0.5):
                    ins["mix"] = 1.0
            else:
                ins["ceiling_db"] = self.uniform(-3.0, 0.0, 2)
                ins["lookahead_ms"] = self.uniform(0.1, 10.0, 2)
                if self.chance(0.3):
                    ins["release_ms"] = self.uniform(1.0, 200.0, 1)
                if self.chance(0.2):
                    ins["true_peak"] = True
                self.features.add(f"{where}_limiter")
            if kind != "limiter" and self.chance(0.1):
                ins["bypass"] = True
                self.features.add("bypass")
            self.features.add(f"insert_{kind}")
            out.append(ins)
        return out

    def band(self) -> dict[str, Any]:
        kind = self.pick(
            ("highpass", "lowpass", "bell", "lowshelf", "highshelf", "notch", "bandpass")
        )
        band: dict[str, Any] = {"type": kind, "freq_hz": self.uniform(60.0, 12000.0, 1)}
        if kind in ("highpass", "lowpass"):
            slope = int(self.rng.choice([6, 12, 12, 18, 24, 36, 48]))
            if slope != 12 or self.chance(0.5):
                band["slope_db_oct"] = slope
            if slope == 12 and self.chance(0.5):
                band["q"] = self.uniform(0.3, 3.0)
            self.features.add(f"eq_{kind}_{slope}")
        else:
            if kind in ("bell", "lowshelf", "highshelf"):
                band["gain_db"] = self.uniform(-12.0, 12.0)
            if self.chance(0.7):
                band["q"] = self.uniform(0.3, 4.0)
            self.features.add(f"eq_{kind}")
        return band


def _tone(g: _Gen, frames: int, channels: int) -> Array:
    """Noise or a sum of sines, peaks near -50 dBFS, exact in float32."""
    t = np.arange(frames) / 48000.0
    cols = []
    for _ in range(channels):
        if g.chance(0.5):
            x = g.rng.standard_normal(frames)
            x = 0.003 * np.clip(x, -3.0, 3.0) / 3.0
        else:
            x = np.zeros(frames)
            for _ in range(3):
                x += 0.001 * np.sin(2 * np.pi * float(g.rng.uniform(40.0, 15000.0)) * t + 1.0)
        cols.append(x)
    out = np.stack(cols, axis=1).astype(np.float32).astype(np.float64)
    return out[:, 0] if channels == 1 and g.chance(0.5) else out


def lane_points(lane: Any) -> list[list[Any]]:
    return list(lane["points"] if isinstance(lane, dict) else lane)


FAULTS = ("bus_polarity", "master_latency", "zero_delay", "pre_inserts_mute", "vca_off_ramp")


def generate(
    seed: int,
    *,
    bus_polarity: bool = True,
    master_latency: bool = True,
    zero_delay: bool = True,
    pre_inserts_mute: bool = True,
    vca_off_ramp: bool = True,
) -> Case:
    """A random mix from `seed`.

    Each flag set to False leaves out what an engine fault (`FAULTS`) needs to show, and
    nothing else (the same draws are made, the rest of the mix is the same):
    `bus_polarity` every bus's `polarity = true`; `master_latency` every limiter on the
    master; `zero_delay` a delay of 0 frames (made 1 frame); `pre_inserts_mute` a mute lane
    on a strip with a pre-inserts send and a limiter; `vca_off_ramp` a VCA at -144 dB (static
    or in its lane) over a member's moving `gain_db` lane (the VCA's -144 made -143). The
    case's features name those present."""
    g = _Gen(seed)
    n_tracks = int(g.rng.integers(1, 7))
    n_buses = int(g.rng.integers(0, 4))
    bus_names = [f"B{i + 1}" for i in range(n_buses)]
    sources: dict[str, Source] = {}
    lengths = []
    tracks: list[dict[str, Any]] = []
    offsets = []
    for i in range(n_tracks):
        frames = int(g.rng.integers(14400, 48001))
        channels = 2 if g.chance(0.5) else 1
        g.features.add("stereo_source" if channels == 2 else "mono_source")
        sources[f"t{i + 1}.wav"] = (_tone(g, frames, channels), 48000)
        lengths.append(frames / 48000)
        offsets.append(g.time(0.0, 0.4) if g.chance(0.5) else 0.0)
    length_s = max(o + n for o, n in zip(offsets, lengths, strict=True)) + 0.1

    session: dict[str, Any] = {"sample_rate": 48000}
    if g.chance(0.8):
        session["pan_law"] = g.pick(LAWS)
    if g.chance(0.3):
        session["end"] = g.uniform(0.6 * length_s, length_s + 0.2, 4)
        g.features.add("end_numeric")
    else:
        session["tail_s"] = g.uniform(0.0, 0.2, 4)

    def strip(name: str, is_bus: bool, index: int) -> dict[str, Any]:
        s: dict[str, Any] = {"name": name}
        auto: dict[str, Any] = {}
        if not is_bus and g.chance(0.7):
            s["clip_gain_db"] = g.uniform(-12.0, 6.0)
        if g.chance(0.8):
            s["gain_db"] = OFF_DB if g.chance(0.04) else g.uniform(-20.0, 6.0)
        if g.chance(0.4):
            s["polarity"] = g.chance(0.7)
        if g.chance(0.4):
            s["width"] = g.uniform(0.0, 2.0)
        if g.chance(0.7):
            s["pan"] = float(g.pick(["-1.0", "1.0"])) if g.chance(0.1) else g.uniform(-1.0, 1.0)
        if g.chance(0.3):
            s["pan_law"] = g.pick(LAWS)
            g.features.add("track_pan_law")
        if g.chance(0.06):
            s["mute"] = True
            g.features.add("mute")
        if g.chance(0.06):
            s["solo"] = True
            g.features.add("bus_solo" if is_bus else "track_solo")
        later = bus_names[index + 1 :] if is_bus else bus_names
        if later and g.chance(0.6):
            s["output"] = g.pick(later)
        sends = []
        for b in later:
            if g.chance(0.35):
                send: dict[str, Any] = {"to": b, "level_db": g.uniform(-30.0, 0.0)}
                if g.chance(0.1):
                    send["level_db"] = OFF_DB
                tap = g.pick(("", *TAPS))
                if tap:
                    send["tap"] = tap
                g.features.add(f"send_{tap or 'post_fader'}")
                if g.chance(0.5):
                    send["pan"] = g.uniform(-1.0, 1.0)
                if g.chance(0.2):
                    auto[f"sends.{b}.level_db"] = g.lane("send_level", -40.0, 0.0, length_s, True)
                if g.chance(0.2):
                    auto[f"sends.{b}.pan"] = g.lane("send_pan", -1.0, 1.0, length_s)
                sends.append(send)
        if sends:
            s["sends"] = sends
        ins = g.inserts("bus" if is_bus else "track", length_s, auto)
        if ins:
            s["insert"] = ins
        if g.chance(0.3):
            auto["gain_db"] = g.lane("gain_db", -30.0, 6.0, length_s, True)
        if g.chance(0.25):
            auto["pan"] = g.lane("pan", -1.0, 1.0, length_s)
        if g.chance(0.2):
            auto["width"] = g.lane("width", 0.0, 2.0, length_s)
        if g.chance(0.15):
            auto["mute"] = g.lane("mute", 0.0, 1.0, length_s)
        if auto:
            s["automation"] = auto
        return s

    for i in range(n_tracks):
        t = strip(f"T{i + 1}", False, i)
        t = {"name": t.pop("name"), "source": f"t{i + 1}.wav", **t}
        if offsets[i]:
            t["offset_s"] = offsets[i]
            g.features.add("offset")
        tracks.append(t)
    buses = [strip(name, True, i) for i, name in enumerate(bus_names)]

    master: dict[str, Any] = {}
    m_auto: dict[str, Any] = {}
    if g.chance(0.5):
        master["gain_db"] = g.uniform(-6.0, 6.0)
    m_ins = g.inserts("master", length_s, m_auto)
    if g.chance(0.5):
        m_ins.append({"type": "limiter", "ceiling_db": 0.0, "lookahead_ms": g.uniform(0.5, 8.0, 2)})
        g.features.add("master_limiter")
    if m_ins:
        master["insert"] = m_ins
    if g.chance(0.3):
        m_auto["gain_db"] = g.lane("master_gain", -12.0, 6.0, length_s)
    if m_auto:
        master["automation"] = m_auto

    vcas = []
    for v in range(int(g.rng.integers(0, 3))):
        names = [t["name"] for t in tracks] + ([b["name"] for b in buses] if g.chance(0.3) else [])
        k = int(g.rng.integers(1, len(names) + 1))
        members = sorted(str(m) for m in g.rng.choice(names, size=k, replace=False))
        vca: dict[str, Any] = {"name": f"V{v + 1}", "members": members}
        vca["gain_db"] = OFF_DB if g.chance(0.05) else g.uniform(-12.0, 6.0)
        if g.chance(0.4):
            vca["automation"] = {"gain_db": g.lane("vca_gain", -12.0, 6.0, length_s, True)}
        vcas.append(vca)
        g.features.add("vca")
        if g.chance(0.3):  # a member whose own fader is off
            member = next(s for s in tracks + buses if s["name"] == members[0])
            member["gain_db"] = OFF_DB
            g.features.add("vca_member_off")

    for node in tracks + buses + [master]:
        for ins in node.get("insert", []):
            if ins["type"] == "delay" and round_half_away(ins["time_ms"] * 48.0) == 0:
                if not zero_delay:
                    ins["time_ms"] = round(1 / 48.0, 6)
                else:
                    g.features.add("zero_delay")
        lanes = node.get("automation", {})
        if (
            "mute" in lanes
            and any(i["type"] == "limiter" for i in node.get("insert", []))
            and any(d.get("tap") == "pre_inserts" for d in node.get("sends", []))
        ):
            if not pre_inserts_mute:
                del lanes["mute"]
            else:
                g.features.add("pre_inserts_mute")
    for vca in vcas:
        vca_lane = vca.get("automation", {}).get("gain_db")
        held = [vca["gain_db"]] if vca_lane is None else [p[1] for p in lane_points(vca_lane)]
        if OFF_DB not in held:
            continue
        if not any(
            s["name"] in vca["members"]
            and len({p[1] for p in lane_points(s.get("automation", {}).get("gain_db", []))}) > 1
            for s in tracks + buses
        ):
            continue
        if vca_off_ramp:
            g.features.add("vca_off_ramp")
        elif vca_lane is None:
            vca["gain_db"] = OFF_DB + 1.0
        else:
            for p in lane_points(vca_lane):
                p[1] = OFF_DB + 1.0 if p[1] == OFF_DB else p[1]
    for s in tracks + buses:
        if not s.get("automation", True):
            del s["automation"]
    for node in tracks + buses:
        kind = "bus" if node in buses else "track"
        if kind == "track" and node.get("polarity"):
            g.features.add("track_polarity")  # a bus's: below, after `bus_polarity`
        if node.get("pan") in (-1.0, 1.0):
            g.features.add("hard_pan")
        if "width" in node:
            g.features.add(f"{kind}_width")
        for ins in node.get("insert", []):
            if ins.get("polarity"):
                g.features.add("insert_gain_polarity")
    if not bus_polarity:
        for b in buses:
            b.pop("polarity", None)
    if not master_latency:
        master["insert"] = [i for i in master.get("insert", []) if i["type"] != "limiter"]
    if any(b.get("polarity") for b in buses):
        g.features.add("bus_polarity")
    if any(i["type"] == "limiter" for i in master.get("insert", [])):
        g.features.add("master_latency")
    else:
        g.features.discard("master_limiter")

    doc: dict[str, Any] = {
        "format": "mixrender/1",
        "session": session,
        "render": {"bit_depth": 32},
        "track": tracks,
    }
    if buses:
        doc["bus"] = buses
    if vcas:
        doc["vca"] = vcas
    if master:
        doc["master"] = master
    return Case(seed, to_toml(doc), sources, g.features)


# ---------------------------------------------------------------------------------------------
# Comparison

LIMIT_DB = -200.0  # the largest error allowed, relative to the reference's peak
HEADROOM_DB = 20.0  # how far under its ceiling every limiter's input must stay


def error_db(err: float, peak: float) -> float:
    """`err` relative to `peak`, in dB. A silent reference (every path off or muted) must be
    matched by exact silence: any error is then +inf dB."""
    if peak <= 0.0:
        return math.inf if err > 0.0 else -math.inf
    return 20.0 * math.log10(err / peak) if err > 0.0 else -math.inf


@dataclass
class Outcome:
    """How an engine's render compares with the reference's. `master_db` is the largest
    absolute error of the master relative to the reference master's peak; `stem_db` the same
    for each stem, counting only what lies beyond the rounding to 32-bit float of the file."""

    seed: int
    features: set[str]
    master_db: float
    stem_db: dict[str, float]
    problems: list[str]
    peak_db: float = -math.inf  # the reference master's peak, dBFS

    @property
    def passed(self) -> bool:
        return not self.problems

    @property
    def worst_db(self) -> float:
        return max([self.master_db, *self.stem_db.values()])


def compare(
    case: Case,
    ref: Reference,
    masters: Mapping[str, Array],
    stems: Mapping[str, Array],
) -> Outcome:
    """Compares an engine's float64 masters (one per way of rendering, by a label) and its
    float32 stems (read as float64) with the reference."""
    problems: list[str] = []
    for probe in ref.limiters:
        if probe.input_peak >= 10.0 ** ((probe.ceiling_db - HEADROOM_DB) / 20.0):
            problems.append(
                f"invalid case: limiter {probe.where} sees {probe.input_peak:.3g}, "
                f"within {HEADROOM_DB} dB of its ceiling {probe.ceiling_db} dB"
            )
    master_db = -math.inf
    for label, master in masters.items():
        if master.shape != ref.master.shape:
            problems.append(f"{label}: shape {master.shape}, reference {ref.master.shape}")
            master_db = math.inf
            continue
        err = error_db(
            float(np.max(np.abs(master - ref.master), initial=0.0)),
            float(np.max(np.abs(ref.master), initial=0.0)),
        )
        master_db = max(master_db, err)
        if err > LIMIT_DB:
            problems.append(f"{label}: error {err:.1f} dB")
    stem_db: dict[str, float] = {}
    if sorted(stems) != sorted(ref.stems):
        problems.append(f"stems: {sorted(stems)}, reference {sorted(ref.stems)}")
    for name in sorted(set(stems) & set(ref.stems)):
        got, want = stems[name], ref.stems[name]
        if got.shape != want.shape:
            problems.append(f"stem {name}: shape {got.shape}, reference {want.shape}")
            stem_db[name] = math.inf
            continue
        ulp = np.maximum(
            np.spacing(np.abs(want).astype(np.float32)), np.spacing(np.abs(got).astype(np.float32))
        ).astype(np.float64)
        excess = np.maximum(np.abs(got - want) - 0.5 * ulp, 0.0)
        stem_db[name] = error_db(
            float(np.max(excess, initial=0.0)), float(np.max(np.abs(want), initial=0.0))
        )
        if stem_db[name] > LIMIT_DB:
            problems.append(f"stem {name}: error {stem_db[name]:.1f} dB")
    peak = float(np.max(np.abs(ref.master), initial=0.0))
    peak_db = 20.0 * math.log10(peak) if peak > 0.0 else -math.inf
    return Outcome(case.seed, case.features, master_db, stem_db, problems, peak_db)
