"""`mixrender diff`: what changed between two versions of a mix, in a mix engineer's words,
and, with `--audio`, what it does to the sound (a null test).

A version is a mix file's path or a git revision of one (`HEAD~1:mixes/song.toml`); a
revision is read with `git show` and resolved as if it stood where the file stands now.
"""

from __future__ import annotations

import math
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import _engine
from .errors import MixError
from .mixfile import Insert, Lane, MixFile, Strip, load_mixfile, parse_mixfile
from .render import BlockRender


def load_version(spec: str) -> MixFile:
    """A mix file from a path, or from `REV:path` in the git repository around it."""
    if ":" in spec and not Path(spec).exists():
        rev, _, rel = spec.partition(":")
        try:
            top = subprocess.run(
                ["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=True
            ).stdout.strip()
            prefix = subprocess.run(
                ["git", "rev-parse", "--show-prefix"], capture_output=True, text=True, check=True
            ).stdout.strip()
            text = subprocess.run(
                ["git", "show", f"{rev}:{rel}"],
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


STRIP_KEYS = (
    "source",
    "offset_s",
    "clip_gain_db",
    "gain_db",
    "trim_db",
    "pan",
    "width",
    "polarity",
    "mute",
    "solo",
    "output",
    "pan_law",
)


def _changes(
    who: str, old: Mapping[str, Any], new: Mapping[str, Any], what: str = ""
) -> Iterator[str]:
    for key in [*old, *(k for k in new if k not in old)]:
        a, b = old.get(key), new.get(key)
        if a != b:
            yield f"{who}: {what}{key} {_v(a)} -> {_v(b)}"


def _inserts(who: str, old: tuple[Insert, ...], new: tuple[Insert, ...]) -> Iterator[str]:
    olds = {i.name: i for i in old}
    news = {i.name: i for i in new}
    for name, ins in news.items():
        if name not in olds:
            yield f"{who}: new insert {name} ({ins.type})"
    for name, ins in olds.items():
        if name not in news:
            yield f"{who}: removed insert {name} ({ins.type})"
            continue
        other = news[name]
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
        )
        if bands_a is not None or bands_b is not None:
            a, b = list(bands_a or ()), list(bands_b or ())
            for i in range(max(len(a), len(b))):
                if i >= len(a):
                    yield f"{who}: {label} new band {i + 1} ({b[i]['type']})"
                elif i >= len(b):
                    yield f"{who}: {label} removed band {i + 1} ({a[i]['type']})"
                else:
                    yield from _changes(who, a[i], b[i], f"{label} bands.{i + 1}.")


def _lanes(who: str, old: Mapping[str, Lane], new: Mapping[str, Lane]) -> Iterator[str]:
    for target in [*old, *(t for t in new if t not in old)]:
        a, b = old.get(target), new.get(target)
        if a is None:
            yield f"{who}: new automation {target}"
        elif b is None:
            yield f"{who}: removed automation {target}"
        elif [(p.seconds, p.value, p.shape, p.tension) for p in a.points] != [
            (p.seconds, p.value, p.shape, p.tension) for p in b.points
        ] or (a.curve, a.tension) != (b.curve, b.tension):
            yield f"{who}: automation {target} changed ({_v(a)} -> {_v(b)})"


def _strip(old: Strip, new: Strip) -> Iterator[str]:
    who = new.name
    yield from _changes(
        who, {k: getattr(old, k) for k in STRIP_KEYS}, {k: getattr(new, k) for k in STRIP_KEYS}
    )
    sends_a = {s.to: s for s in old.sends}
    sends_b = {s.to: s for s in new.sends}
    for to in sends_b:
        if to not in sends_a:
            yield f"new send {who} -> {to}"
    for to, s in sends_a.items():
        if to not in sends_b:
            yield f"removed send {who} -> {to}"
            continue
        t = sends_b[to]
        yield from _changes(
            who,
            {"level_db": s.level_db, "tap": s.tap, "pan": s.pan},
            {"level_db": t.level_db, "tap": t.tap, "pan": t.pan},
            f"send to {to} ",
        )
    yield from _inserts(who, old.inserts, new.inserts)
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
        )
        out += _lanes(f"VCA {name}", v.automation, w.automation)
    out += _changes("master", {"gain_db": a.master.gain_db}, {"gain_db": b.master.gain_db})
    out += _inserts("master", a.master.inserts, b.master.inserts)
    out += _lanes("master", a.master.automation, b.master.automation)
    return out


@dataclass
class NullTest:
    """A minus B: `identical` when every bit is equal."""

    identical: bool
    frames: tuple[int, int]
    peak_dbfs: float | None
    rms_dbfs: float | None
    #: (start s, end s, loudness of A, loudness of B) per section; None for silence.
    sections: list[tuple[float, float, float | None, float | None]] = field(default_factory=list)


def _db(x: float) -> float | None:
    return 20 * math.log10(x) if x > 0 else None


def null_test(
    a: MixFile, b: MixFile, *, section_s: float = 10.0, threads: int | None = None
) -> NullTest:
    """Renders both (as 32-bit float, undithered) block by block and measures A minus B."""
    if a.session.sample_rate != b.session.sample_rate:
        raise MixError(
            f"the versions render at {a.session.sample_rate} and {b.session.sample_rate} Hz; "
            "a null test needs one rate"
        )
    rate = a.session.sample_rate
    ja, jb = BlockRender(a, threads=threads), BlockRender(b, threads=threads)
    block = ja.block
    ba, bb = np.zeros((block, 2)), np.zeros((block, 2))
    section = max(1, round(section_s * rate))
    total = max(ja.frames, jb.frames)
    meters: list[tuple[Any, Any]] = []
    peak, energy, identical = 0.0, 0.0, ja.frames == jb.frames
    ita, itb = ja.blocks(), jb.blocks()
    pos = 0
    while pos < total:
        n = min(block, total - pos)
        for job, it, buf in ((ja, ita, ba), (jb, itb, bb)):
            buf[:n] = 0.0
            if pos < job.frames:
                _, got = next(it)
                job.engine.write(buf[:got])
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
    return NullTest(identical, (ja.frames, jb.frames), _db(peak), _db(rms), sections)
