"""Analysis of an audio file: loudness, true peak and levels, read block by block.

The figures come from the engine's streaming meter (`mixrender._engine.Meter`): ITU-R
BS.1770-4 loudness with the EBU Tech 3341 measures (momentary, short-term, integrated;
maxima over every window at a 10 ms hop) and the EBU Tech 3342 loudness range, BS.1770-4
Annex 2 true peak (4x), sample peak, RMS (a 0 dBFS sine reads -3.01 dBFS), crest factor,
L/R correlation, DC offset and IEC 61260 octave-band levels. The file is never loaded
whole: memory is one block plus the meter's constant state.

Files of 1 or 2 channels are measured as mono or L, R; 5 channels as L, R, C, Ls, Rs and
6 as L, R, C, LFE, Ls, Rs, with the LFE left out of everything but the peaks.
"""

from __future__ import annotations

import os
from typing import Any

from . import _engine
from .files import feed_audio

#: Frames read per block by default.
DEFAULT_BLOCK = 65536

#: The keys of the dict `analyze_file` returns. Levels and loudness values are floats, or
#: None where undefined (silence; a file shorter than 400 ms has no momentary or integrated
#: loudness, shorter than 3 s no short-term loudness or loudness range).
REPORT_KEYS = (
    "frames",
    "sample_rate",
    "channels",
    "sample_peak_dbfs",
    "true_peak_dbtp",
    "integrated_lufs",
    "loudness_range_lu",
    "momentary_lufs",
    "short_term_lufs",
    "max_momentary_lufs",
    "max_short_term_lufs",
    "rms_dbfs",
    "crest_db",
    "correlation",
    "dc_offset",
    "octave_bands_db",
)

#: Nominal octave-band centres, the keys of `octave_bands_db` (in this order).
OCTAVE_BANDS = ("31.5", "63", "125", "250", "500", "1000", "2000", "4000", "8000", "16000")


def analyze_file(
    path: str | os.PathLike[str], *, block_size: int = DEFAULT_BLOCK
) -> dict[str, Any]:
    """Meters the audio file at `path` and returns the report (keys: `REPORT_KEYS`).

    The file is read `block_size` frames at a time into one reused buffer (float32, which
    holds 16- and 24-bit and float samples exactly; float64 for 64-bit files) and handed to
    the meter without a copy; the result does not depend on `block_size`. `frames` and
    `sample_rate` are the file's, `octave_bands_db` maps a band's nominal centre ("31.5",
    "63", ..., "16000") to its level in dB re full scale.

    Raises `MixError` if the file cannot be read or has a channel count other than 1, 2,
    5 or 6, and `ValueError` for a `block_size` below 1.
    """
    if block_size < 1:
        raise ValueError(f"block_size must be at least 1, not {block_size}")
    meter = feed_audio(path, block_size, _engine.Meter, _engine.Meter.process)
    return meter.report()


__all__ = ["DEFAULT_BLOCK", "OCTAVE_BANDS", "REPORT_KEYS", "analyze_file"]
