"""`mixrender init`: a rough mix from a folder of stems, gain-staged with clip gain.

One track per audio file (named from the file: `Lead_Vocal.wav` is "Lead Vocal"), one bus
per subfolder (a subfolder's bus feeds its parent's), every fader at 0 dB. The session rate
is the most common rate among the stems.

Clip gain stages what a stem plays, not what is silent, and never drives a stem's peak past
a ceiling:

- **Active level** (the level brought to `--target-rms-db`, -18 dBFS by default): a gated
  RMS, the gating of ITU-R BS.1770-4 without its K-weighting. The stem is cut into blocks of
  400 ms that start every 100 ms (75 % overlap); a block's power is the mean square of all
  its samples, every channel alike. Blocks at or below the absolute gate (-70 dBFS) are
  dropped, then blocks at or below the relative gate (20 dB below the mean power of the
  blocks that passed the absolute gate); the active level is the mean power of the blocks
  left, in dB. A stem shorter than 400 ms is one block. The incomplete last 100 ms of a
  longer stem count for its peak, not for its level. The part of the stem "where it plays"
  is the share of its 100 ms hops whose own power passes the same two gates (a block
  straddling the start of a phrase would count the silence before it); a stem silent more
  than half the time is noted. A stem with no block above -70 dBFS is silent: its clip
  gain stays at 0 dB.
- **Peak ceiling** (`--max-peak-db`, -3 dBFS by default): the clip gain never puts the
  stem's sample peak (the largest absolute sample, every channel) above it. When the active
  level asks for more, the peak wins and the stem is noted with both figures.
- Clip gains are written rounded to 0.1 dB (to the nearest; down when the peak holds the
  gain, so that the ceiling holds after rounding) and within the format's -96..48 dB.

Everything is computed in float64 numpy, reading each stem block by block (soundfile's
`blocks`); what is kept per stem is one float64 per 100 ms.
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
import numpy.typing as npt
import soundfile as sf

from .errors import MixError
from .files import open_audio

AUDIO = frozenset({".wav", ".flac", ".aif", ".aiff", ".ogg", ".w64", ".caf", ".rf64"})
CLIP_GAIN_RANGE = (-96.0, 48.0)
GATE_BLOCK_HOPS = 4
"""A gating block is four hops: 400 ms blocks every 100 ms (75 % overlap)."""
GATE_HOP_S = 0.1
ABSOLUTE_GATE_DBFS = -70.0
RELATIVE_GATE_DB = -20.0
MOSTLY_SILENT = 0.5
"""A stem whose blocks are gated out more than this share of the time is noted."""
READ_FRAMES = 65536


@dataclass(frozen=True)
class Level:
    """What `init` measures of a stem (see the module's docstring)."""

    active_db: float | None
    """The gated RMS in dBFS; None when no block passes the absolute gate."""
    peak_db: float | None
    """The sample peak in dBFS; None for digital silence."""
    active_fraction: float
    """The share of the stem where it plays: of its 100 ms hops, those whose own power
    passes both gates (0..1)."""


@dataclass(frozen=True)
class Stem:
    path: Path
    name: str
    bus: str | None
    frames: int
    sample_rate: int
    channels: int
    subtype: str
    level: Level


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


def measure(path: Path, *, read_frames: int = READ_FRAMES) -> Level:
    """The active level, sample peak and active share of the audio file at `path`, read
    `read_frames` at a time (the figures do not depend on it)."""
    hops: list[npt.NDArray[np.float64]] = []  # sum of squares of each complete hop
    carry = np.zeros(0)  # squares of the frames after the last complete hop
    peak, frames_read = 0.0, 0
    try:
        with sf.SoundFile(str(path)) as f:
            hop = max(1, round(GATE_HOP_S * f.samplerate))
            width = f.channels
            for block in f.blocks(read_frames, dtype="float64", always_2d=True):
                if len(block) == 0:
                    continue
                frames_read += len(block)
                peak = max(peak, float(np.max(np.abs(block))))
                squares = np.concatenate([carry, np.sum(block * block, axis=1)])
                whole = len(squares) // hop * hop
                hops.append(np.sum(squares[:whole].reshape(-1, hop), axis=1))
                carry = squares[whole:]
    except (RuntimeError, OSError) as e:  # soundfile's errors derive from RuntimeError
        raise MixError(
            f"{path}: reading failed after {frames_read} frames ({e}): the file is truncated "
            "or corrupt"
        ) from None
    sums = np.concatenate(hops) if hops else np.zeros(0)
    peak_db = 20 * math.log10(peak) if peak > 0 else None
    if len(sums) >= GATE_BLOCK_HOPS:
        window = np.lib.stride_tricks.sliding_window_view(sums, GATE_BLOCK_HOPS)
        power = np.sum(window, axis=1) / (GATE_BLOCK_HOPS * hop * width)
    else:  # shorter than one block: the whole stem is one
        frames = len(sums) * hop + len(carry)
        total = float(np.sum(sums)) + float(np.sum(carry))
        power = np.array([total / (frames * width)]) if frames else np.zeros(0)
    loud = power[power > 10 ** (ABSOLUTE_GATE_DBFS / 10)]
    if len(loud) == 0:
        return Level(None, peak_db, 0.0)
    gate = max(
        float(np.mean(loud)) * 10 ** (RELATIVE_GATE_DB / 10), 10 ** (ABSOLUTE_GATE_DBFS / 10)
    )
    gated = power[power > gate]
    # Where it plays: the 100 ms hops that pass the same gates on their own.
    if len(sums) >= GATE_BLOCK_HOPS:
        playing = int(np.count_nonzero(sums / (hop * width) > gate)) / len(sums)
    else:
        playing = 1.0
    return Level(10 * math.log10(float(np.mean(gated))), peak_db, playing)


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
            info = open_audio(path, sf.info)
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
                    measure(path),
                )
            )
    if not stems:
        raise MixError(f"{folder}: no audio files ({', '.join(sorted(AUDIO))})")
    return stems, buses


def _q(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid TOML basic string


def clip_gain(
    level: Level, name: str, *, target_rms_db: float, max_peak_db: float
) -> tuple[float, list[str]]:
    """The clip gain (dB, rounded to 0.1) that brings a stem's active level to
    `target_rms_db` without its sample peak passing `max_peak_db`, and notes on the stem
    (`name` is how they call it)."""
    lo, hi = CLIP_GAIN_RANGE
    notes: list[str] = []
    # The most the peak allows; a silent stem (no peak) allows anything.
    room = math.inf if level.peak_db is None else max_peak_db - level.peak_db
    if level.active_db is None:
        want = 0.0
        notes.append(
            f"{name}: silent (nothing above {ABSOLUTE_GATE_DBFS:g} dBFS); clip gain left at 0 dB"
        )
    else:
        want = target_rms_db - level.active_db
        silent = 1.0 - level.active_fraction
        if silent > MOSTLY_SILENT:
            pct = min(99, round(100 * silent))
            notes.append(
                f"{name}: {pct} % silence; level measured over the {100 - pct} % where it plays"
            )
    wanted = min(hi, max(lo, round(want, 1)))
    if wanted <= room:
        gain = wanted
        if wanted != round(want, 1):
            notes.append(
                f"{name}: clip gain {gain:+.1f} dB, the format's limit (its active level "
                f"would need {want:+.1f} dB)"
            )
    elif room < lo:
        gain = lo
        notes.append(
            f"{name}: clip gain {gain:+.1f} dB, the format's limit, leaves its peak at "
            f"{max_peak_db - room + gain:.1f} dBFS, above {max_peak_db:.1f} dBFS"
        )
    else:  # the peak holds it: round down, so that the ceiling holds
        gain = round(math.floor(room * 10) / 10, 1)
        while gain > room:
            gain = round(gain - 0.1, 1)
        notes.append(
            f"{name}: clip gain {gain:+.1f} dB (held by its peak at {max_peak_db:.1f} dBFS; "
            f"its active level would need {want:+.1f} dB)"
        )
    return gain + 0.0, notes  # never "-0.0"


def rough_mix(
    folder: Path,
    mix_path: Path,
    *,
    target_rms_db: float = -18.0,
    max_peak_db: float = -3.0,
) -> RoughMix:
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
        f"# gain bringing each stem's active level to {target_rms_db:g} dBFS RMS, no sample",
        f"# peak above {max_peak_db:g} dBFS.",
        'format = "mixrender/1"',
        "",
        "[session]",
        f"name = {_q(folder.name + ', rough mix')}",
        f"sample_rate = {rate}",
        'end = "auto"',
        "",
    ]
    for s in stems:
        gain, stem_notes = clip_gain(
            s.level, s.path.name, target_rms_db=target_rms_db, max_peak_db=max_peak_db
        )
        notes += stem_notes
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
