"""`mixrender diff`: what changed between two versions of a mix, in a mix engineer's words,
and, with `--audio`, what it does to the sound (a null test).

A version is a mix file's path or a git revision of one (`HEAD~1:mixes/song.toml`); a
revision is read with `git show` and resolved as if it stood where the file stands now.
"""

from __future__ import annotations

import math
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from . import _engine, schema
from .errors import MixError
from .mixfile import MixFile, load_mixfile, parse_mixfile
from .model import Insert, Lane, Strip
from .render import STEMS_BLOCK, BlockRender, render

T = TypeVar("T")


def load_version(spec: str) -> MixFile:
    """A mix file from a path, or from `REV:path` in the git repository around it."""
    if ":" in spec and not Path(spec).exists():
        rev, _, rel = spec.partition(":")
        if rev.startswith("-") or rel.startswith("-"):
            # git would read it as an option (`--output=FILE` writes a file of its naming).
            raise MixError(f"{spec}: a revision or path starting with '-' is refused")
        try:
            top = subprocess.run(
                ["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=True
            ).stdout.strip()
            prefix = subprocess.run(
                ["git", "rev-parse", "--show-prefix"], capture_output=True, text=True, check=True
            ).stdout.strip()
            text = subprocess.run(
                ["git", "show", "--end-of-options", f"{rev}:{rel}", "--"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        except (OSError, subprocess.CalledProcessError) as e:
            detail = getattr(e, "stderr", "") or str(e)
            raise MixError(
                f"{spec}: cannot read this revision from git ({detail.strip()})"
            ) from None
        path = Path(top) / (Path(prefix) / rel if rel.startswith("./") else rel)
        return parse_mixfile(text, path.resolve())
    return load_mixfile(spec)


def _v(value: object) -> str:
    """A value as a mix engineer writes it: -4.0, 2.25, off, "1/8"."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        short = f"{value:.1f}"
        return short if float(short) == value else f"{value:g}"
    if isinstance(value, Lane):
        return f"{len(value.points)} points"
    return str(value)


shown_value = _v

#: A strip's plain settings, in declaration order (the keys of a track that are neither
#: tables nor lanes, but its name); a bus has those it declares.
STRIP_KEYS = tuple(
    key.name
    for key in schema.TRACK.keys
    if key.kind not in ("table", "tables", "lanes") and key.name != "name"
)

#: Marks a change of a static value that a lane of the new version overrides.
NO_EFFECT = " (no effect: overridden by automation)"


def clock(seconds: float) -> str:
    """A time as m:ss.s (more decimals where the time has them): 1:32.0, 0:10.25."""
    minutes = int(seconds // 60)
    rest = seconds - 60 * minutes
    text = f"{rest:.1f}"
    if float(text) != rest:
        text = f"{rest:.6f}".rstrip("0")
    whole, _, frac = text.partition(".")
    return f"{minutes}:{whole.zfill(2)}.{frac or '0'}"


def unit_of(key: str) -> str:
    """The unit of a key by its name's ending: gain_db -> dB."""
    for end, unit in (("_db", "dB"), ("_hz", "Hz"), ("_ms", "ms"), ("_s", "s")):
        if key.endswith(end):
            return unit
    return ""


@dataclass(frozen=True)
class LanePoint:
    """A lane's point as a diff shows it."""

    seconds: float
    at: str = field(compare=False)
    """Its time as the mix writes it: m:ss.s, or "bar:beat" as written."""
    value: float
    shape: str
    """Effective: its own, or its lane's curve."""
    tension: float
    own: tuple[Any, ...]
    """What the file writes for its shape: a point-level shape change is one of these."""


def _value_text(value: float, key: str) -> str:
    if key == "mute":
        return "on" if value else "off"
    unit = unit_of(key)
    return f"{_v(float(value))} {unit}".strip()


def _point_pair(a: LanePoint, b: LanePoint, key: str) -> str | None:
    """What changed in one point kept from A to B, or None."""
    bits: list[str] = []
    if a.value != b.value:
        if key == "mute":
            bits.append(f"{_value_text(a.value, key)} -> {_value_text(b.value, key)}")
        else:
            bits.append(f"{_v(float(a.value))} -> {_value_text(b.value, key)}")
    if a.own != b.own and (a.shape, a.tension) != (b.shape, b.tension):
        if a.shape != b.shape:
            bits.append(f"shape {a.shape} -> {b.shape}")
        if a.tension != b.tension and "bezier" in (a.shape, b.shape):
            bits.append(f"tension {_v(a.tension)} -> {_v(b.tension)}")
    if a.seconds != b.seconds:  # the same time written another way is no change
        head = f"point moved from {a.at} to {b.at}"
        return ", ".join([head, *bits])
    if not bits:
        return None
    return f"point at {a.at} " + ", ".join(bits)


def point_changes(old: list[LanePoint], new: list[LanePoint], key: str) -> list[str]:
    """Point by point, in time order. Points are matched by time, in one linear merge of
    the two lists (two points at one time pair in order); between two matched points, as
    many unmatched points on each side pair in order, and such a pair that kept its value
    reads as moved; the other unmatched points are removed or new."""
    found: list[str] = []
    gap_a: list[LanePoint] = []
    gap_b: list[LanePoint] = []

    def flush() -> None:
        if len(gap_a) == len(gap_b):
            pairs = list(zip(gap_a, gap_b, strict=True))
            for pa, pb in pairs:
                if pa.value == pb.value:
                    found.append(_point_pair(pa, pb, key) or f"point at {pa.at} unchanged")
                else:  # another time and another value: not the same point any more
                    found.append(f"point at {pa.at} removed")
                    found.append(f"new point at {pb.at} {_value_text(pb.value, key)}")
        else:
            events = [(p.seconds, 0, f"point at {p.at} removed") for p in gap_a] + [
                (p.seconds, 1, f"new point at {p.at} {_value_text(p.value, key)}") for p in gap_b
            ]
            found.extend(text for _, _, text in sorted(events))
        gap_a.clear()
        gap_b.clear()

    i = j = 0
    while i < len(old) or j < len(new):
        if i < len(old) and j < len(new) and old[i].seconds == new[j].seconds:
            flush()
            change = _point_pair(old[i], new[j], key)
            if change is not None:
                found.append(change)
            i, j = i + 1, j + 1
        elif j >= len(new) or (i < len(old) and old[i].seconds < new[j].seconds):
            gap_a.append(old[i])
            i += 1
        else:
            gap_b.append(new[j])
            j += 1
    flush()
    return found


#: A lane's changes are listed up to this many on its line; the rest are counted.
MAX_POINT_CHANGES = 12


def lane_line(
    old: list[LanePoint],
    new: list[LanePoint],
    key: str,
    curves: tuple[tuple[str, float], tuple[str, float]] | None = None,
) -> str:
    """`lane: point at 1:32.0 -6.0 -> -5.0 dB; new point at ...` for one lane."""
    parts: list[str] = []
    if curves is not None:
        (ca, ta), (cb, tb) = curves
        if ca != cb:
            parts.append(f"curve {ca} -> {cb}")
        if ta != tb:
            parts.append(f"tension {_v(ta)} -> {_v(tb)}")
    parts += point_changes(old, new, key)
    if len(parts) > MAX_POINT_CHANGES:
        more = len(parts) - MAX_POINT_CHANGES
        parts = [*parts[:MAX_POINT_CHANGES], f"... and {more} more"]
    return "lane: " + ("; ".join(parts) if parts else "unchanged")


def _mix_points(lane: Lane) -> list[LanePoint]:
    return [
        LanePoint(
            p.seconds,
            p.written if p.written is not None else clock(p.seconds),
            p.value,
            p.shape or lane.curve,
            p.tension if p.tension is not None else lane.tension,
            (p.shape, p.tension),
        )
        for p in lane.points
    ]


def plan_lane_changes(a: Mapping[str, Any], b: Mapping[str, Any], rate: int, key: str) -> str:
    """A plan lane's change (as the lock holds it: [frame, value, shape, tension] points):
    `-3.5 -> -2.5` for a static value, `lane: ...` otherwise."""

    def static(lane: Mapping[str, Any]) -> float | None:
        points = lane["points"]
        return float(points[0][1]) if len(points) == 1 and points[0][0] == 0 else None

    sa, sb = static(a), static(b)
    if sa is not None and sb is not None:
        if key == "mute":
            return f"{_value_text(sa, key)} -> {_value_text(sb, key)}"
        return f"{_v(sa)} -> {_v(sb)}"  # as `diff` shows a static value

    def points(lane: Mapping[str, Any]) -> list[LanePoint]:
        return [
            LanePoint(f / rate, clock(f / rate), float(v), str(s), float(t), (s, t))
            for f, v, s, t in lane["points"]
        ]

    return lane_line(points(a), points(b), key)


def _lane_in(lanes: Mapping[str, Lane], prefix: str = "") -> Callable[[str], bool]:
    """Whether a key (of the owner `prefix` names) has a lane in `lanes`."""
    return lambda key: f"{prefix}{key}" in lanes


def _changes(
    who: str,
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    what: str = "",
    overridden: Callable[[str], bool] = lambda key: False,
) -> Iterator[str]:
    for key in [*old, *(k for k in new if k not in old)]:
        a, b = old.get(key), new.get(key)
        if a != b:
            mark = NO_EFFECT if overridden(key) else ""
            yield f"{who}: {what}{key} {_v(a)} -> {_v(b)}{mark}"


def _matched(
    old: Mapping[str, T], new: Mapping[str, T]
) -> Iterator[tuple[str, T | None, T | None]]:
    """`(key, old item, new item)`: first each key only `new` has (old item None), in its
    order; then each of `old`'s keys in order, with None for the new item where it is gone."""
    for key, item in new.items():
        if key not in old:
            yield key, None, item
    for key, item in old.items():
        yield key, item, new.get(key)


def _inserts(
    who: str, old: tuple[Insert, ...], new: tuple[Insert, ...], lanes: Mapping[str, Lane]
) -> Iterator[str]:
    for name, ins, other in _matched({i.name: i for i in old}, {i.name: i for i in new}):
        if ins is None:
            assert other is not None  # _matched gives at least one of the two
            yield f"{who}: new insert {name} ({other.type})"
            continue
        if other is None:
            yield f"{who}: removed insert {name} ({ins.type})"
            continue
        if other.type != ins.type:
            yield f"{who}: insert {name} is now {other.type} (was {ins.type})"
            continue
        label = ins.type if name == ins.type else f"{name} ({ins.type})"
        if ins.bypass != other.bypass:
            yield f"{who}: {label} bypass {_v(ins.bypass)} -> {_v(other.bypass)}"
        bands_a, bands_b = ins.params.get("bands"), other.params.get("bands")
        yield from _changes(
            who,
            {k: v for k, v in ins.params.items() if k != "bands"},
            {k: v for k, v in other.params.items() if k != "bands"},
            f"{label} ",
            _lane_in(lanes, f"{name}."),
        )
        if bands_a is not None or bands_b is not None:
            a, b = list(bands_a or ()), list(bands_b or ())
            for i in range(max(len(a), len(b))):
                if i >= len(a):
                    yield f"{who}: {label} new band {i + 1} ({b[i]['type']})"
                elif i >= len(b):
                    yield f"{who}: {label} removed band {i + 1} ({a[i]['type']})"
                else:
                    yield from _changes(
                        who,
                        a[i],
                        b[i],
                        f"{label} bands.{i + 1}.",
                        _lane_in(lanes, f"{name}.bands.{i + 1}."),
                    )


def _lanes(who: str, old: Mapping[str, Lane], new: Mapping[str, Lane]) -> Iterator[str]:
    for target in [*old, *(t for t in new if t not in old)]:
        a, b = old.get(target), new.get(target)
        if a is None:
            yield f"{who}: new automation {target}"
        elif b is None:
            yield f"{who}: removed automation {target}"
        else:
            pa, pb = _mix_points(a), _mix_points(b)
            curves = ((a.curve, a.tension), (b.curve, b.tension))
            if pa != pb or curves[0] != curves[1]:
                key = target.rsplit(".", 1)[-1]
                yield f"{who}: {target} {lane_line(pa, pb, key, curves)}"


def _strip(old: Strip, new: Strip) -> Iterator[str]:
    who = new.name
    lanes = new.automation
    yield from _changes(
        who,
        {k: getattr(old, k) for k in STRIP_KEYS},
        {k: getattr(new, k) for k in STRIP_KEYS},
        overridden=_lane_in(lanes),
    )
    for to, s, t in _matched({s.to: s for s in old.sends}, {s.to: s for s in new.sends}):
        if s is None:
            yield f"new send {who} -> {to}"
            continue
        if t is None:
            yield f"removed send {who} -> {to}"
            continue
        yield from _changes(
            who,
            {"level_db": s.level_db, "tap": s.tap, "pan": s.pan},
            {"level_db": t.level_db, "tap": t.tap, "pan": t.pan},
            f"send to {to} ",
            _lane_in(lanes, f"sends.{to}."),
        )
    yield from _inserts(who, old.inserts, new.inserts, lanes)
    yield from _lanes(who, old.automation, new.automation)


def describe(a: MixFile, b: MixFile) -> list[str]:
    """The parameter changes from `a` to `b`, one line each."""
    out: list[str] = []
    out += _changes("session", vars(a.session), vars(b.session))
    out += _changes("render", vars(a.render), vars(b.render))
    strips_a = {s.name: s for s in (*a.tracks, *a.buses)}
    strips_b = {s.name: s for s in (*b.tracks, *b.buses)}
    for name, s in strips_b.items():
        if name not in strips_a:
            out.append(f"new {s.kind} {name}")
    for name, s in strips_a.items():
        if name not in strips_b:
            out.append(f"removed {s.kind} {name}")
        else:
            out += _strip(s, strips_b[name])
    vcas_a = {v.name: v for v in a.vcas}
    vcas_b = {v.name: v for v in b.vcas}
    for name in vcas_b:
        if name not in vcas_a:
            out.append(f"new VCA {name}")
    for name, v in vcas_a.items():
        if name not in vcas_b:
            out.append(f"removed VCA {name}")
            continue
        w = vcas_b[name]
        out += _changes(
            f"VCA {name}",
            {"gain_db": v.gain_db, "members": v.members},
            {"gain_db": w.gain_db, "members": w.members},
            overridden=_lane_in(w.automation),
        )
        out += _lanes(f"VCA {name}", v.automation, w.automation)
    master_lanes = b.master.automation
    out += _changes(
        "master",
        {"gain_db": a.master.gain_db},
        {"gain_db": b.master.gain_db},
        overridden=_lane_in(master_lanes),
    )
    out += _inserts("master", a.master.inserts, b.master.inserts, master_lanes)
    out += _lanes("master", a.master.automation, b.master.automation)
    return out


@dataclass
class StemNull:
    """One stem's null test: `status` is "identical", "changed", "new" or "removed"."""

    name: str
    status: str
    peak_dbfs: float | None = None


@dataclass
class NullTest:
    """A minus B, of the files `render` delivers: `identical` when every bit is equal."""

    identical: bool
    frames: tuple[int, int]
    peak_dbfs: float | None
    rms_dbfs: float | None
    #: (start s, end s, loudness of A, loudness of B) per section; None for silence.
    sections: list[tuple[float, float, float | None, float | None]] = field(default_factory=list)
    #: The loudness normalisation gain of each side, dB (0 where the mix sets no target).
    loudness_gain_db: tuple[float, float] = (0.0, 0.0)
    #: With stems: per direct input of the master, in B's order, then those only A has.
    stems: list[StemNull] | None = None

    @property
    def differs(self) -> bool:
        """Whether the master or any stem differs."""
        return not self.identical or any(s.status != "identical" for s in self.stems or ())


def _db(x: float) -> float | None:
    return 20 * math.log10(x) if x > 0 else None


def null_test(
    a: MixFile,
    b: MixFile,
    *,
    section_s: float = 10.0,
    threads: int | None = None,
    stems: bool = False,
) -> NullTest:
    """Renders both exactly as `render` delivers them (loudness normalisation, bit depth and
    dither of each mix's [render]) and measures A minus B from the two files, block by
    block. With `stems`, also renders every direct input of the master of both as 32-bit
    float and compares them stem by stem."""
    import soundfile as sf

    if a.session.sample_rate != b.session.sample_rate:
        raise MixError(
            f"the versions render at {a.session.sample_rate} and {b.session.sample_rate} Hz; "
            "a null test needs one rate"
        )
    rate = a.session.sample_rate
    with tempfile.TemporaryDirectory(prefix="mixrender-diff-") as tmp:
        ra, _, _ = render(a, Path(tmp) / "a.wav", threads=threads)
        rb, _, _ = render(b, Path(tmp) / "b.wav", threads=threads)
        with sf.SoundFile(ra.output) as fa, sf.SoundFile(rb.output) as fb:
            result = _file_null(fa, fb, rate, section_s)
    result.loudness_gain_db = (ra.loudness_gain_db, rb.loudness_gain_db)
    if stems:
        gains = (ra.loudness_gain_db, rb.loudness_gain_db)
        result.stems = _stem_nulls(a, b, gains, threads)
    return result


def _file_null(fa: Any, fb: Any, rate: int, section_s: float) -> NullTest:
    block = 1 << 16
    section = max(1, round(section_s * rate))
    total = max(fa.frames, fb.frames)
    meters: list[tuple[Any, Any]] = []
    peak, energy, identical = 0.0, 0.0, fa.frames == fb.frames
    ba, bb = np.zeros((block, 2)), np.zeros((block, 2))
    pos = 0
    while pos < total:
        n = min(block, total - pos)
        for f, buf in ((fa, ba), (fb, bb)):
            buf[:n] = 0.0
            got = f.read(n, dtype="float64", always_2d=True)
            buf[: len(got)] = got
        residual = ba[:n] - bb[:n]
        identical = identical and bool(np.array_equal(ba[:n], bb[:n]))
        peak = max(peak, float(np.max(np.abs(residual), initial=0.0)))
        energy += float(np.sum(residual * residual))
        k = 0
        while k < n:  # split at section boundaries
            index = (pos + k) // section
            stop = min(n, (index + 1) * section - pos)
            if index == len(meters):
                meters.append((_engine.Meter(rate, 2), _engine.Meter(rate, 2)))
            meters[index][0].process(np.ascontiguousarray(ba[k:stop]))
            meters[index][1].process(np.ascontiguousarray(bb[k:stop]))
            k = stop
        pos += n
    sections: list[tuple[float, float, float | None, float | None]] = []
    for i, (ma, mb) in enumerate(meters):
        start = i * section / rate
        end = min((i + 1) * section, total) / rate
        sections.append(
            (start, end, ma.report()["integrated_lufs"], mb.report()["integrated_lufs"])
        )
    rms = math.sqrt(energy / max(1, 2 * total))
    return NullTest(identical, (fa.frames, fb.frames), _db(peak), _db(rms), sections)


def _stem_nulls(
    a: MixFile, b: MixFile, gains: tuple[float, float], threads: int | None
) -> list[StemNull]:
    """Both sides' stems as `render --stems` makes them (at 32-bit float), compared by name."""
    ja, jb = (
        BlockRender(
            m, threads=threads, meter=False, loudness_gain_db=g, stems=True, block_size=STEMS_BLOCK
        )
        for m, g in ((a, gains[0]), (b, gains[1]))
    )
    names_a, names_b = ja.engine.stem_names(), jb.engine.stem_names()
    common = [n for n in names_b if n in names_a]
    peaks = dict.fromkeys(common, 0.0)
    equal = dict.fromkeys(common, ja.frames == jb.frames)
    bufs = {
        side: {n: np.zeros((STEMS_BLOCK, 2), dtype="float32") for n in common}
        for side in ("a", "b")
    }
    total = max(ja.frames, jb.frames)
    ita, itb = ja.blocks(), jb.blocks()
    pos = 0
    while pos < total:
        n = min(STEMS_BLOCK, total - pos)
        for side, job, it, names in (("a", ja, ita, names_a), ("b", jb, itb, names_b)):
            for buf in bufs[side].values():
                buf[:n] = 0.0
            if pos < job.frames:
                _, got = next(it)
                for name in common:
                    job.engine.write_stem(names.index(name), bufs[side][name][:got])
        for name in common:
            x, y = bufs["a"][name][:n], bufs["b"][name][:n]
            equal[name] = equal[name] and bool(np.array_equal(x, y))
            diff = np.abs(x.astype("float64") - y.astype("float64"))
            peaks[name] = max(peaks[name], float(np.max(diff, initial=0.0)))
        pos += n
    found = []
    for name in names_b:
        if name not in names_a:
            found.append(StemNull(name, "new"))
        elif equal[name]:
            found.append(StemNull(name, "identical"))
        else:
            found.append(StemNull(name, "changed", _db(peaks[name])))
    found += [StemNull(name, "removed") for name in names_a if name not in names_b]
    return found
