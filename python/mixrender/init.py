"""`mixrender init`: a rough mix from a folder of stems, gain-staged with clip gain.

One track per audio file (named from the file: `Lead_Vocal.wav` is "Lead Vocal"), one bus
per subfolder (a subfolder's bus feeds its parent's), every fader at 0 dB, and each clip
gain set so that the stem's RMS (plain RMS over the whole file, all channels) sits at the
target. The session rate is the most common rate among the stems.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from .errors import MixError
from .files import c_stderr_silenced, not_regular

AUDIO = frozenset({".wav", ".flac", ".aif", ".aiff", ".ogg", ".w64", ".caf", ".rf64"})
CLIP_GAIN_RANGE = (-96.0, 48.0)


@dataclass(frozen=True)
class Stem:
    path: Path
    name: str
    bus: str | None
    frames: int
    sample_rate: int
    channels: int
    subtype: str
    rms_db: float | None


@dataclass
class RoughMix:
    text: str
    stems: list[Stem]
    sample_rate: int
    notes: list[str] = field(default_factory=list)


def _name(text: str) -> str:
    """`Lead_Vocal` -> `Lead Vocal`: separators become spaces; `.` and `/` are not allowed."""
    name = re.sub(r"[\s_.\-/]+", " ", text).strip()
    return name or "Untitled"


def _rms_db(path: Path) -> float | None:
    total, count, frames = 0.0, 0, 0
    try:
        with sf.SoundFile(str(path)) as f:
            for block in f.blocks(65536, dtype="float64", always_2d=True):
                total += float(np.sum(block * block))
                count += block.size
                frames += block.shape[0]
    except (RuntimeError, OSError) as e:  # soundfile's errors derive from RuntimeError
        raise MixError(
            f"{path}: reading failed after {frames} frames ({e}): the file is truncated or corrupt"
        ) from None
    return 10 * math.log10(total / count) if count and total > 0 else None


def _unique(name: str, taken: set[str]) -> str:
    candidate, k = name, 2
    while candidate.lower() in taken or candidate.lower() == "master":
        candidate, k = f"{name} {k}", k + 1
    taken.add(candidate.lower())
    return candidate


def scan(folder: Path) -> tuple[list[Stem], dict[str, str]]:
    """The stems under `folder` (sorted, so the mix is the same on every machine), and the
    buses: name -> the bus it feeds ("master" at the top)."""
    if not folder.is_dir():
        raise MixError(f"{folder}: not a folder of stems")
    taken: set[str] = set()
    buses: dict[str, str] = {}
    bus_of: dict[Path, str | None] = {folder: None}
    stems: list[Stem] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        here = Path(dirpath)
        for d in dirnames:
            bus = _unique(_name(d), taken)
            buses[bus] = bus_of[here] or "master"
            bus_of[here / d] = bus
        for file in sorted(filenames):
            path = here / file
            if path.suffix.lower() not in AUDIO:
                continue
            reason = not_regular(path)
            if reason is not None:
                raise MixError(f"{path}: {reason}")
            try:
                with c_stderr_silenced():
                    info = sf.info(str(path))
            except (RuntimeError, OSError) as e:  # soundfile's errors derive from RuntimeError
                raise MixError(f"{path}: cannot be read as audio ({e})") from None
            if info.channels > 2:
                raise MixError(
                    f"{path}: has {info.channels} channels; mixrender mixes mono and stereo "
                    "stems: split it into mono or stereo files first"
                )
            stems.append(
                Stem(
                    path,
                    _unique(_name(path.stem), taken),
                    bus_of[here],
                    info.frames,
                    info.samplerate,
                    info.channels,
                    info.subtype,
                    _rms_db(path),
                )
            )
    if not stems:
        raise MixError(f"{folder}: no audio files ({', '.join(sorted(AUDIO))})")
    return stems, buses


def _q(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid TOML basic string


def rough_mix(folder: Path, mix_path: Path, *, target_rms_db: float = -18.0) -> RoughMix:
    """The rough mix of the stems in `folder`, as the text of a mix file at `mix_path`."""
    stems, buses = scan(folder)
    rates = Counter(s.sample_rate for s in stems)
    rate = max(rates, key=lambda r: (rates[r], r))
    notes: list[str] = []
    for s in stems:
        if s.sample_rate != rate:
            notes.append(f"{s.path.name}: {s.sample_rate} Hz, resampled to {rate} Hz")
    depths = Counter(s.subtype for s in stems)
    if len(depths) > 1:
        common = depths.most_common(1)[0][0]
        notes += [
            f"{s.path.name}: {s.subtype} (most stems are {common})"
            for s in stems
            if s.subtype != common
        ]
    lengths = {round(s.frames / s.sample_rate, 3) for s in stems}
    if len(lengths) > 1:
        longest = max(lengths)
        notes += [
            f"{s.path.name}: {s.frames / s.sample_rate:.3f} s (the longest is {longest:.3f} s)"
            for s in stems
            if round(s.frames / s.sample_rate, 3) != longest
        ]
    base = mix_path.resolve().parent
    lines = [
        f"# A rough mix of {folder.name}, written by `mixrender init`: faders at 0 dB, clip",
        f"# gain bringing each stem to {target_rms_db:g} dBFS RMS.",
        'format = "mixrender/1"',
        "",
        "[session]",
        f"name = {_q(folder.name + ', rough mix')}",
        f"sample_rate = {rate}",
        'end = "auto"',
        "",
    ]
    lo, hi = CLIP_GAIN_RANGE
    for s in stems:
        if s.rms_db is None:
            notes.append(f"{s.path.name}: silent; clip gain left at 0 dB")
            gain = 0.0
        else:
            gain = round(min(hi, max(lo, target_rms_db - s.rms_db)), 2)
        source = Path(os.path.relpath(s.path.resolve(), base)).as_posix()
        lines += [
            "[[track]]",
            f"name = {_q(s.name)}",
            f"source = {_q(source)}",
            f"clip_gain_db = {gain!r}",
            "gain_db = 0.0",
        ]
        if s.bus is not None:
            lines.append(f"output = {_q(s.bus)}")
        lines.append("")
    for bus, feeds in buses.items():
        lines += ["[[bus]]", f"name = {_q(bus)}", "gain_db = 0.0"]
        if feeds != "master":
            lines.append(f"output = {_q(feeds)}")
        lines.append("")
    return RoughMix("\n".join(lines), stems, rate, notes)
