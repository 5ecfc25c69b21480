"""The mix as data: the typed, frozen dataclasses a mix file is read into.

:mod:`mixrender.mixfile` reads a mix file into a :class:`MixFile` (and re-exports that name;
the other names are imported from here). What a :class:`MixFile` holds is resolved: defaults
filled, ``"bar:beat"`` turned into seconds, paths made absolute. :func:`mix_error` builds an
error at a place in the file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from mixrender.errors import MixFileError
from mixrender.locate import KeyPath, Locator

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

    D = TypeVar("D", bound=DataclassInstance)

__all__ = [
    "Automated",
    "Insert",
    "Lane",
    "Master",
    "MixFile",
    "Point",
    "RenderSettings",
    "Send",
    "Session",
    "Strip",
    "Time",
    "Vca",
    "from_values",
    "mix_error",
]

Time = float
"""Seconds on the timeline, already resolved from "bar:beat" when given so."""


@dataclass(frozen=True, slots=True)
class Point:
    """One breakpoint of a lane."""

    seconds: float
    """Resolved: bar:beat -> ((bar-1)*beats_per_bar + (beat-1)) * 60 / tempo_bpm."""
    value: float
    """In the key's unit; booleans (mute) as 0.0 / 1.0."""
    shape: str | None
    """The point's own shape for the segment after it, or None (the lane's curve)."""
    tension: float | None
    """With shape "bezier": its tension, or None (the lane's)."""
    line: int
    written: str | None = field(default=None, compare=False)
    """The time as written when it is "bar:beat" (for messages and diffs); None for seconds."""


@dataclass(frozen=True)
class Lane:
    """An automation lane; its target is canonical: "sends.Plate.level_db", "eq.bands.2.q"."""

    target: str
    points: tuple[Point, ...]
    """Non-empty, in time order."""
    curve: str
    """The lane's default shape; a "mute" lane is always "step"."""
    tension: float
    line: int


@dataclass(frozen=True)
class Send:
    to: str
    level_db: float
    tap: str
    """"post_fader" (default), "pre_fader" or "pre_inserts"."""
    pan: float
    index: int
    """1-based position in the strip's sends list, as messages show it."""
    line: int


@dataclass(frozen=True)
class Insert:
    name: str
    """As given, or the type, numbered when the type repeats in the strip ("eq", "eq2")."""
    type: str
    bypass: bool
    params: Mapping[str, Any]
    """Every key of the type, defaults filled (not type/name/bypass). eq "bands" is a tuple
    of mappings with "type" and defaults filled ("q" None where a slope takes none);
    convolution adds "ir_path", the absolute path of "ir"."""
    index: int
    """1-based position in the strip's inserts."""
    line: int


@dataclass(frozen=True)
class Automated:
    """What a strip, a VCA and the master have alike: a fader and automation lanes."""

    gain_db: float
    automation: Mapping[str, Lane]
    """By canonical target, in file order."""


@dataclass(frozen=True)
class Strip(Automated):
    """A track or a bus, with everything resolved."""

    kind: str
    """"track" or "bus"."""
    name: str
    label: str
    """For messages: 'track "Lead Vox"' or 'bus "Vocals"'."""
    source: str | None
    """The source as written (tracks only)."""
    source_path: Path | None
    """Absolute: resolved against the mix file's folder unless already absolute."""
    offset_s: float
    clip_gain_db: float
    trim_db: float
    """Added in dB to the fader (and its lane), after it: the revision knob of an automated
    fader."""
    pan: float
    width: float
    polarity: bool
    mute: bool
    solo: bool
    output: str
    """A bus name or "master"."""
    pan_law: str | None
    """An override of the session's, or None."""
    sends: tuple[Send, ...]
    inserts: tuple[Insert, ...]
    line: int
    """The line of its [[track]] / [[bus]] header."""


@dataclass(frozen=True)
class Vca(Automated):
    name: str
    members: tuple[str, ...]
    line: int


@dataclass(frozen=True)
class Master(Automated):
    inserts: tuple[Insert, ...]


@dataclass(frozen=True)
class Session:
    name: str | None
    sample_rate: int
    tempo_bpm: float | None
    meter: tuple[int, int]
    pan_law: str
    end: float | None
    """Seconds, or None for "auto"."""
    tail_s: float


@dataclass(frozen=True)
class RenderSettings:
    bit_depth: int
    dither: bool
    """True for "tpdf" at 16 or 24 bit; always False at 32 (float) bit."""
    seed: int
    loudness_lufs: float | None
    true_peak_ceiling_db: float


@dataclass(frozen=True)
class MixFile:
    """A whole mix file, validated and resolved."""

    path: Path
    """The absolute path of the mix file."""
    text: str
    format: str
    session: Session
    render: RenderSettings
    tracks: tuple[Strip, ...]
    buses: tuple[Strip, ...]
    master: Master
    vcas: tuple[Vca, ...]

    def strip(self, name: str) -> Strip:
        """The track or bus of that name; KeyError if there is none."""
        for strip in (*self.tracks, *self.buses):
            if strip.name == name:
                return strip
        raise KeyError(name)

    def line_of(self, *keypath: str | int) -> int | None:
        """The line of a key path (or its nearest written ancestor); None if none is written."""
        return _locator(self.text).nearest(keypath)

    def keypath_of(self, strip: Strip) -> KeyPath:
        """The key path of a strip: ("track", 0) for the first track."""
        group = self.tracks if strip.kind == "track" else self.buses
        for index, candidate in enumerate(group):
            if candidate.name == strip.name:
                return (strip.kind, index)
        raise KeyError(strip.name)


def from_values(cls: type[D], values: Mapping[str, Any], **given: Any) -> D:
    """A `cls` (a dataclass) with the fields `given`, and every other field the value of the
    same name in `values` (a checked table of the mix, a meter report): KeyError if it has
    none; what else `values` holds is not used."""
    taken = {f.name: values[f.name] for f in fields(cls) if f.init and f.name not in given}
    return cls(**taken, **given)


def mix_error(
    mix: MixFile,
    keypath: Sequence[str | int],
    display_path: str,
    message: str,
    *,
    error: type[MixFileError] = MixFileError,
) -> MixFileError:
    """An error at a place in the mix file, with the line of `keypath`; raise what it returns.

    `error` may be MixFileError, RoutingError or UnsupportedError (SourceError takes other
    arguments: build it with ``mix.line_of(...)``).
    """
    return error(mix.path, mix.line_of(*keypath), display_path, message)


@lru_cache(maxsize=16)
def _locator(text: str) -> Locator:
    return Locator(text)
