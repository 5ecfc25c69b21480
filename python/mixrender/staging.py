"""Gain staging: levels at every point of every strip, and what an engineer should look at.

`mixrender analyze MIX` renders the mix (nothing is written) with the engine measuring
peak, RMS, DC and stereo correlation at the source, after clip gain, after each insert and
after the fader of every track (a bus: its input, inserts and fader), over the frames where
the track's source sounds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import schema
from .mixfile import MixFile
from .model import Strip
from .render import BlockRender, Progress, loudness_gain

DYNAMICS = frozenset(name for name, t in schema.INSERT_TYPES.items() if t.group == "dynamics")
#: A peak above this into a dynamics insert is hot: its threshold and ratio were set for
#: a signal with headroom.
HOT_DBFS = -1.0
#: DC above this (as a fraction of full scale, -60 dBFS) is worth a high-pass.
DC_LIMIT = 0.001


@dataclass(frozen=True)
class Point:
    label: str
    peak_dbfs: float | None
    rms_dbfs: float | None
    dc_offset: float
    correlation: float | None


@dataclass
class StripLevels:
    name: str
    kind: str
    points: list[Point]
    warnings: list[str] = field(default_factory=list)


@dataclass
class Staging:
    strips: list[StripLevels]
    master: dict[str, Any]
    warnings: list[str]
    peak_before_clip_dbfs: float | None
    clipped_samples: int

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


def _labels(strip: Strip) -> list[str]:
    head = ["source", "after clip gain"] if strip.kind == "track" else ["input"]
    inserts = [
        f"after {i.name}" + ("" if i.name == i.type else f" ({i.type})") for i in strip.inserts
    ]
    return [*head, *inserts, "after fader"]


def _warn(strip: Strip, points: list[Point]) -> list[str]:
    out: list[str] = []
    first = 1 if strip.kind == "track" else 0
    if strip.kind == "track" and points[0].peak_dbfs is None:
        out.append("silent: its source has no signal")
        return out
    for p in points[first:]:
        if p.peak_dbfs is not None and p.peak_dbfs > 0.0:
            out.append(
                f"over full scale {p.label}: peak {p.peak_dbfs:+.1f} dBFS (no harm in float, "
                "but it clips any fixed-point stage or export; lower the gain)"
            )
            break
    for i, ins in enumerate(strip.inserts):
        into = points[first + i]
        if ins.type in DYNAMICS and into.peak_dbfs is not None and into.peak_dbfs > HOT_DBFS:
            out.append(
                f"hot into {ins.name} ({ins.type}): peak {into.peak_dbfs:+.1f} dBFS; "
                "lower the clip gain"
            )
    src = points[0]
    if abs(src.dc_offset) > DC_LIMIT:
        out.append(f"DC offset {src.dc_offset:+.4f} in the {src.label}; a high-pass removes it")
    last = points[-1]
    if last.correlation is not None and last.correlation < 0.0:
        out.append(
            f"negative stereo correlation ({last.correlation:+.2f}) {last.label}: "
            "check polarity or width; it cancels in mono"
        )
    return out


def gain_staging(
    mix: MixFile, *, threads: int | None = None, progress: Progress | None = None
) -> Staging:
    """Renders `mix` once with every strip's levels measured; writes nothing."""
    gain = loudness_gain(mix, threads=threads)
    job = BlockRender(mix, threads=threads, levels=True, loudness_gain_db=gain)
    job.run(progress)
    strips = [*mix.tracks, *mix.buses]
    rows: list[StripLevels] = []
    for strip, (name, levels) in zip(strips, job.engine.levels(), strict=True):
        assert strip.name == name
        points = [
            Point(label, peak, rms, dc, corr)
            for label, (peak, rms, dc, corr) in zip(_labels(strip), levels, strict=True)
        ]
        rows.append(StripLevels(name, strip.kind, points, _warn(strip, points)))
    master = job.meters()
    peak, clipped = job.peak_and_clips()
    warnings: list[str] = []
    if clipped:
        warnings.append(
            f"the master is over full scale: {clipped} samples clipped, peak {peak:+.1f} dBFS "
            "before the clip; pull the master or add a limiter"
        )
    corr = master.get("correlation")
    if corr is not None and corr < 0.0:
        warnings.append(f"the master's stereo correlation is negative ({corr:+.2f})")
    return Staging(rows, master, warnings, peak, clipped)
