"""Comparison of a mix with reference tracks: loudness-matched long-term spectrum, tilt, dynamics.

Every figure comes from a fixed estimator (`docs/compare.md` is the normative description):

- Loudness: the engine's meter (`mixrender._engine.Meter`, the figures `analyze` prints):
  integrated loudness (BS.1770-4), loudness range (EBU Tech 3342), true peak, sample peak,
  RMS, max short-term loudness. Every file is matched to the mix by its integrated loudness.
- Long-term average spectrum: Welch's method on the channel-average power, periodic Hann
  windows of `window_frames(rate)` samples (the power of two nearest 85 ms), 50 % overlap,
  only whole windows (a file shorter than one window is one zero-padded window), windows
  below -70 dB left out (BS.1770's absolute gate, so that silence before, between and after
  the music does not lower the spectrum against the gated loudness), averaged power as a
  one-sided density per Hz. The density is taken constant across each FFT bin
  and integrated exactly over the edges of the IEC 61260-1 base-10 third-octave bands
  25 Hz .. 20 kHz; as the densities are per Hz, files at different rates compare without
  resampling. A band whose upper edge lies above a file's Nyquist frequency is absent for
  that file, and from every comparison with it.
- Broad regions (`REGIONS`): sums of whole third-octave bands.
- A band's `delta_db` is the mix's loudness-matched level minus the reference's; its
  `relative_db` is that delta minus the median delta over the bands both files have. A band
  or region is flagged where its `relative_db` is 3 dB or more from zero (4.5 dB for the
  lowest and the highest band compared), "strong" from 6 dB. With several references the
  figures flagged are the distance of the mix from the references' range (zero where one
  reference sits above the mix and another below it), not from their mean.
- Spectral tilt: the unweighted least-squares slope, in dB per octave, of band level against
  log2 of the band's exact centre frequency, over the bands 50 Hz .. 16 kHz.
- Width: per IEC octave band (31.5 Hz .. 16 kHz), side energy over mid energy in dB, with
  mid = (L + R) / 2 and side = (L - R) / 2.

Nothing is random. The spectrum is computed in float32 and summed in float64; no figure
depends on the block size the files are read with beyond the last bits of those sums.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import _engine
from .errors import MixError

if TYPE_CHECKING:
    # numpy and soundfile are imported where used: `import mixrender` (and a render of WAV
    # files) imports neither.
    import numpy as np
    import numpy.typing as npt

    from .mix import Mix

    F64 = npt.NDArray[np.float64]

#: Frames read (or taken from a rendered array) per block.
BLOCK_FRAMES = 1 << 16
#: Welch windows transformed per FFT call.
_FFT_BATCH = 128

#: Nominal centres of the third-octave bands (IEC 61260-1), 25 Hz .. 20 kHz.
THIRD_OCTAVE_NOMINAL = (
    25.0, 31.5, 40.0, 50.0, 63.0, 80.0, 100.0, 125.0, 160.0, 200.0,
    250.0, 315.0, 400.0, 500.0, 630.0, 800.0, 1000.0, 1250.0, 1600.0, 2000.0,
    2500.0, 3150.0, 4000.0, 5000.0, 6300.0, 8000.0, 10000.0, 12500.0, 16000.0, 20000.0,
)  # fmt: skip
#: Exact base-10 centres 1000 * 10^(n/10), n = -16 .. 13, and edges centre * 10^(-+1/20).
THIRD_OCTAVE_EXACT = tuple(1000.0 * 10.0 ** (n / 10) for n in range(-16, 14))
THIRD_OCTAVE_EDGES = tuple(
    (c * 10.0 ** (-1 / 20), c * 10.0 ** (1 / 20)) for c in THIRD_OCTAVE_EXACT
)
#: Octave bands of the width figures, nominal centres (as `analyze`'s octave bands) and edges.
OCTAVE_NOMINAL = (31.5, 63.0, 125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0, 16000.0)
OCTAVE_EXACT = tuple(1000.0 * 10.0 ** (n / 10) for n in range(-15, 13, 3))
OCTAVE_EDGES = tuple((c * 10.0 ** (-3 / 20), c * 10.0 ** (3 / 20)) for c in OCTAVE_EXACT)


@dataclass(frozen=True)
class Region:
    """A broad region: the third-octave bands from `first_hz` to `last_hz` (nominal centres)."""

    name: str
    label: str
    first_hz: float
    last_hz: float
    #: Words for a region that sits above / below the references.
    above: str
    below: str

    @property
    def band_mask(self) -> npt.NDArray[np.bool_]:
        import numpy as np

        nominal = np.asarray(THIRD_OCTAVE_NOMINAL)
        return (nominal >= self.first_hz) & (nominal <= self.last_hz)


#: The regions engineers name. Each is a run of whole third-octave bands; the label gives its
#: nominal range, the band edges its exact one (see docs/compare.md).
REGIONS = (
    Region("sub", "sub 20-60 Hz", 25.0, 50.0, "rumble or boom that eats headroom", "no floor"),
    Region("bass", "bass 60-250 Hz", 63.0, 200.0, "boomy, a heavy bottom", "lean bass"),
    Region("low_mids", "low mids 250-500 Hz", 250.0, 400.0, "muddy, boxy", "thin, hollow"),
    Region("mids", "mids 500 Hz-2 kHz", 500.0, 2000.0, "honky, nasal", "scooped mids"),
    Region(
        "presence",
        "presence 2.5-4 kHz",
        2500.0,
        4000.0,
        "a build-up the ears get used to",
        "recessed, distant",
    ),
    Region(
        "sibilance",
        "sibilance 5-8 kHz",
        5000.0,
        8000.0,
        "sibilant, too little de-essing",
        "dull consonants, too much de-essing",
    ),
    Region("air", "air 10-20 kHz", 10000.0, 20000.0, "hissy, brittle top", "dark, no air"),
)

#: A band or region is flagged from this far from the median delta (dB) ...
FLAG_DB = 3.0
#: ... the lowest and highest band compared from this far ...
FLAG_OUTER_DB = 4.5
#: ... and the flag is "strong" from this far.
STRONG_DB = 6.0
#: The tilt difference flagged (dB per octave), and "strong" from.
TILT_FLAG_DB = 0.5
TILT_STRONG_DB = 1.0
#: The bands the tilt is fitted over (nominal centres).
TILT_BANDS_HZ = (50.0, 16000.0)
#: Welch windows whose mean square is below this (-70 dB re full scale) are left out.
GATE_POWER = 1e-7
#: Band levels are floored here (dB re full scale), so that silence compares as a number.
FLOOR_DB = -200.0


def window_frames(sample_rate: int) -> int:
    """The Welch window length at `sample_rate`: the power of two nearest 85 ms."""
    return 1 << round(math.log2(0.085 * sample_rate))


@dataclass(frozen=True, eq=False)
class Spectrum:
    """One file's figures: meters, long-term spectrum, width. Levels in dB re full scale
    (a full-scale sine's power reads -3.01 dB, as `analyze`'s RMS)."""

    path: str
    sample_rate: int
    channels: int
    frames: int
    #: The engine meter's report (the keys of `analyze.REPORT_KEYS`).
    meters: dict[str, Any]
    #: Welch estimate: bin frequencies (Hz) and the channel-average power density per Hz.
    psd_hz: F64
    psd: F64
    #: Third-octave band levels (dB), NaN where the band is absent (above Nyquist).
    band_levels_db: F64
    #: Side-to-mid energy ratio per octave band (dB), NaN where absent or mono.
    width_db: F64

    @property
    def integrated_lufs(self) -> float:
        value = self.meters["integrated_lufs"]
        assert value is not None
        return float(value)

    @property
    def band_present(self) -> npt.NDArray[np.bool_]:
        import numpy as np

        return np.asarray(~np.isnan(self.band_levels_db))

    @property
    def tilt_db_per_octave(self) -> float:
        """The file's own tilt over the bands 50 Hz .. 16 kHz it has."""
        return _slope(self.band_levels_db)

    @property
    def plr_db(self) -> float | None:
        """Peak-to-loudness ratio: true peak minus integrated loudness."""
        return _minus(self.meters["true_peak_dbtp"], self.meters["integrated_lufs"])

    @property
    def psr_db(self) -> float | None:
        """Peak-to-short-term ratio: true peak minus the maximum short-term loudness."""
        return _minus(self.meters["true_peak_dbtp"], self.meters["max_short_term_lufs"])

    def figures(self) -> dict[str, Any]:
        m = self.meters
        return {
            "path": self.path,
            "sample_rate": self.sample_rate,
            "channels": self.channels,
            "frames": self.frames,
            "integrated_lufs": m["integrated_lufs"],
            "loudness_range_lu": m["loudness_range_lu"],
            "true_peak_dbtp": m["true_peak_dbtp"],
            "sample_peak_dbfs": m["sample_peak_dbfs"],
            "max_short_term_lufs": m["max_short_term_lufs"],
            "plr_db": self.plr_db,
            "psr_db": self.psr_db,
            "crest_db": m["crest_db"],
            "tilt_db_per_octave": _num(self.tilt_db_per_octave),
            "width_db": [
                {"center_hz": c, "side_to_mid_db": _num(w)}
                for c, w in zip(OCTAVE_NOMINAL, self.width_db, strict=True)
            ],
            "bands_db": [
                {"center_hz": c, "level_db": _num(v)}
                for c, v in zip(THIRD_OCTAVE_NOMINAL, self.band_levels_db, strict=True)
            ],
        }


@dataclass(frozen=True, eq=False)
class RegionResult:
    """A region's loudness-matched difference, per reference and against their range."""

    name: str
    label: str
    #: Mix minus each reference (dB), NaN where the region has no band common to both.
    delta_by_reference_db: F64
    relative_by_reference_db: F64
    #: The distance of the mix from the references' range (0 inside it).
    delta_db: float
    relative_db: float


@dataclass(frozen=True, eq=False)
class Comparison:
    """`compare(...)`'s result. Band arrays have one entry per third-octave band of
    `THIRD_OCTAVE_NOMINAL` (NaN where absent); `..._by_reference` arrays one row per
    reference, in the order given."""

    mix: Spectrum
    references: tuple[Spectrum, ...]
    #: Mix minus reference integrated loudness (LU), per reference.
    loudness_difference_by_reference_db: F64
    #: Each reference's band levels, gain-matched to the mix's integrated loudness (dB).
    matched_reference_levels_db: F64
    #: Mix minus reference, loudness matched, and that minus its median over the bands.
    delta_by_reference_db: F64
    relative_by_reference_db: F64
    #: Against the references' range: 0 where the mix lies within it, else the distance to
    #: its nearer end (signed). Equal to the per-reference figures for one reference.
    #: Derived from the per-reference figures.
    delta_db: F64 = field(init=False)
    relative_db: F64 = field(init=False)
    regions: tuple[RegionResult, ...]
    #: Slope of the delta over the bands 50 Hz .. 16 kHz (dB/octave), per reference.
    tilt_delta_by_reference_db_per_octave: F64
    #: Mix side-to-mid ratio minus each reference's, per octave band (dB).
    width_delta_by_reference_db: F64
    flags: tuple[str, ...]
    notes: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "delta_db", _against_range(self.delta_by_reference_db))
        object.__setattr__(self, "relative_db", _against_range(self.relative_by_reference_db))

    @property
    def band_centers_hz(self) -> F64:
        import numpy as np

        return np.asarray(THIRD_OCTAVE_NOMINAL, dtype=np.float64)

    @property
    def loudness_difference_db(self) -> float:
        """Mix minus the references' mean integrated loudness (LU)."""
        import numpy as np

        return float(np.mean(self.loudness_difference_by_reference_db))

    @property
    def tilt_delta_db_per_octave(self) -> float:
        """Mix tilt minus the references' mean tilt (dB/octave)."""
        import numpy as np

        return float(np.mean(self.tilt_delta_by_reference_db_per_octave))

    def to_dict(self) -> dict[str, Any]:
        """The JSON object `compare --json` prints (NaN as null)."""
        import numpy as np

        present = ~np.isnan(self.delta_db)
        bands = [
            {
                "center_hz": THIRD_OCTAVE_NOMINAL[i],
                "exact_center_hz": THIRD_OCTAVE_EXACT[i],
                "delta_db": float(self.delta_db[i]),
                "relative_db": float(self.relative_db[i]),
                "delta_by_reference_db": [_num(v) for v in self.delta_by_reference_db[:, i]],
                "relative_by_reference_db": [_num(v) for v in self.relative_by_reference_db[:, i]],
            }
            for i in range(len(THIRD_OCTAVE_NOMINAL))
            if present[i]
        ]
        return {
            "mix": self.mix.figures(),
            "references": [
                {
                    **r.figures(),
                    "loudness_difference_db": float(d),
                    "tilt_delta_db_per_octave": _num(t),
                }
                for r, d, t in zip(
                    self.references,
                    self.loudness_difference_by_reference_db,
                    self.tilt_delta_by_reference_db_per_octave.tolist(),
                    strict=True,
                )
            ],
            "loudness_difference_db": self.loudness_difference_db,
            "bands": bands,
            "absent_bands_hz": [
                c for c, p in zip(THIRD_OCTAVE_NOMINAL, present, strict=True) if not p
            ],
            "regions": [
                {
                    "name": r.name,
                    "label": r.label,
                    "delta_db": _num(r.delta_db),
                    "relative_db": _num(r.relative_db),
                    "delta_by_reference_db": [_num(v) for v in r.delta_by_reference_db],
                    "relative_by_reference_db": [_num(v) for v in r.relative_by_reference_db],
                }
                for r in self.regions
            ],
            "tilt_delta_db_per_octave": _num(self.tilt_delta_db_per_octave),
            "width_delta_by_reference_db": [
                [
                    {"center_hz": c, "delta_db": _num(v)}
                    for c, v in zip(OCTAVE_NOMINAL, row, strict=True)
                ]
                for row in self.width_delta_by_reference_db
            ],
            "flags": list(self.flags),
            "notes": list(self.notes),
        }


def _num(v: Any) -> float | None:
    x = float(v)
    return None if math.isnan(x) else x


def _minus(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def _slope(levels: F64) -> float:
    """Least-squares slope of `levels` (dB) against log2 of the exact centres, over the bands
    50 Hz .. 16 kHz that are not NaN. NaN if fewer than two."""
    import numpy as np

    nominal = np.asarray(THIRD_OCTAVE_NOMINAL)
    use = (nominal >= TILT_BANDS_HZ[0]) & (nominal <= TILT_BANDS_HZ[1]) & ~np.isnan(levels)
    if np.count_nonzero(use) < 2:
        return math.nan
    x = np.log2(np.asarray(THIRD_OCTAVE_EXACT)[use] / 1000.0)
    y = levels[use]
    xc = x - x.mean()
    return float(np.dot(xc, y - y.mean()) / np.dot(xc, xc))


class _Welch:
    """Streaming Welch estimate of the channel-average, mid and side power densities, fed
    the file in blocks; also feeds the engine meter."""

    def __init__(self, sample_rate: int, channels: int, path: str) -> None:
        import numpy as np

        if channels not in (1, 2):
            raise MixError(
                f"{path}: compare reads mono or stereo files, this one has {channels} channels"
            )
        self.rate = sample_rate
        self.channels = channels
        self.n = window_frames(sample_rate)
        self.hop = self.n // 2
        k = np.arange(self.n)
        self.window = 0.5 - 0.5 * np.cos(2.0 * np.pi * k / self.n)  # periodic Hann
        self.window32 = self.window.astype(np.float32)
        bins = self.n // 2 + 1
        self.sum_ll = np.zeros(bins)
        self.sum_rr = np.zeros(bins)
        self.sum_lr = np.zeros(bins)
        self.window_power = float(np.sum(self.window32.astype(np.float64) ** 2))
        self.windows = 0
        self.windows_seen = 0
        self.frames = 0
        self.pending = np.zeros((0, channels), dtype=np.float32)
        self.meter = _engine.Meter(sample_rate, channels)

    def feed(self, block: npt.NDArray[np.floating[Any]]) -> None:
        import numpy as np

        self.meter.process(block)
        self.frames += len(block)
        # The spectrum is computed in float32 whatever the input (it holds 16- and 24-bit
        # samples exactly; its rounding lies some 140 dB below the signal), summed in float64.
        block = block.astype(np.float32, copy=False)
        data = np.concatenate([self.pending, block]) if len(self.pending) else block
        count = 0 if len(data) < self.n else (len(data) - self.n) // self.hop + 1
        if count:
            self._windows(data, count)
        self.pending = np.array(data[count * self.hop :])

    def _windows(self, data: npt.NDArray[np.floating[Any]], count: int) -> None:
        import numpy as np

        for start in range(0, count, _FFT_BATCH):
            m = min(_FFT_BATCH, count - start)
            self.windows_seen += m
            first = start * self.hop
            span = data[first : first + (m - 1) * self.hop + self.n]
            spectra = []
            powers = []
            energy = np.zeros(m)
            for c in range(self.channels):
                frames = np.lib.stride_tricks.sliding_window_view(span[:, c], self.n)[:: self.hop]
                x = np.fft.rfft(frames * self.window32, axis=1)
                p = x.real**2 + x.imag**2
                # Parseval: the window's sum of squares, from its one-sided spectrum.
                energy += (2.0 * np.sum(p, axis=1, dtype=np.float64) - p[:, 0] - p[:, -1]) / self.n
                spectra.append(x)
                powers.append(p)
            # The absolute gate: windows below -70 dB (channel-average, Hann-weighted mean
            # square) are left out, as BS.1770 leaves them out of the integrated loudness.
            keep = energy / (self.channels * self.window_power) >= GATE_POWER
            kept = int(np.count_nonzero(keep))
            if kept == 0:
                continue
            if kept < m:
                spectra = [x[keep] for x in spectra]
                powers = [p[keep] for p in powers]
            self.sum_ll += np.sum(powers[0], axis=0, dtype=np.float64)
            if self.channels == 2:
                left, right = spectra
                self.sum_rr += np.sum(powers[1], axis=0, dtype=np.float64)
                cross = left.real * right.real + left.imag * right.imag
                self.sum_lr += np.sum(cross, axis=0, dtype=np.float64)
            self.windows += kept

    def finish(self, path: str) -> Spectrum:
        import numpy as np

        if self.windows_seen == 0:
            # Shorter than one window: that much, zero-padded, is the one window.
            padded = np.zeros((self.n, self.channels), dtype=np.float32)
            padded[: len(self.pending)] = self.pending
            self._windows(padded, 1)
        # Nothing above the gate: a density of zero, every band at the floor.
        scale = 2.0 / (self.rate * self.window_power * max(self.windows, 1))
        ll, rr, lr = self.sum_ll * scale, self.sum_rr * scale, self.sum_lr * scale
        if self.channels == 1:
            power, mid, side = ll, ll, np.zeros_like(ll)
        else:
            power = (ll + rr) / 2.0
            mid = np.maximum((ll + rr + 2.0 * lr) / 4.0, 0.0)
            side = np.maximum((ll + rr - 2.0 * lr) / 4.0, 0.0)
        hz = np.arange(len(power), dtype=np.float64) * (self.rate / self.n)
        nyquist = self.rate / 2.0
        third = np.asarray(THIRD_OCTAVE_EDGES)
        octave = np.asarray(OCTAVE_EDGES)
        bands = _integrate(hz, power, third, nyquist)
        with np.errstate(divide="ignore"):
            levels = np.maximum(10.0 * np.log10(bands), FLOOR_DB)
        levels[third[:, 1] > nyquist] = np.nan
        m_oct = _integrate(hz, mid, octave, nyquist)
        s_oct = _integrate(hz, side, octave, nyquist)
        width = np.full(len(OCTAVE_NOMINAL), np.nan)
        ok = (m_oct > 0) & (s_oct > 0) & (octave[:, 1] <= nyquist)
        width[ok] = 10.0 * np.log10(s_oct[ok] / m_oct[ok])
        return Spectrum(
            path=path,
            sample_rate=self.rate,
            channels=self.channels,
            frames=self.frames,
            meters=self.meter.report(),
            psd_hz=hz,
            psd=power,
            band_levels_db=levels,
            width_db=width,
        )


def _integrate(hz: F64, density: F64, edges: F64, nyquist: float) -> F64:
    """The integral of a density taken constant over each bin [f - df/2, f + df/2] (clipped
    to 0 .. Nyquist) between each pair of edges (clipped to Nyquist)."""
    import numpy as np

    df = hz[1] - hz[0]
    bounds = np.concatenate([[0.0], hz[:-1] + df / 2.0, [nyquist]])
    cumulative = np.concatenate([[0.0], np.cumsum(density * np.diff(bounds))])
    lo = np.interp(np.minimum(edges[:, 0], nyquist), bounds, cumulative)
    hi = np.interp(np.minimum(edges[:, 1], nyquist), bounds, cumulative)
    return np.asarray(np.maximum(hi - lo, 0.0))


def measure_file(path: str | os.PathLike[str], *, block_size: int = BLOCK_FRAMES) -> Spectrum:
    """A file's figures, read `block_size` frames at a time (as `analyze_file` reads it)."""
    from .files import feed_audio

    name = os.fspath(path)
    welch = feed_audio(
        name, block_size, lambda rate, channels: _Welch(rate, channels, name), _Welch.feed
    )
    return welch.finish(name)


def measure_array(
    audio: npt.NDArray[np.floating[Any]], sample_rate: int, name: str = "<array>"
) -> Spectrum:
    """The figures of a `(frames,)` or `(frames, channels)` float array, in the same blocks."""
    import numpy as np

    a = np.ascontiguousarray(audio if audio.ndim == 2 else audio[:, None])
    if a.dtype not in (np.float32, np.float64):
        a = a.astype(np.float64)
    try:
        welch = _Welch(sample_rate, a.shape[1], name)
    except ValueError as e:
        raise MixError(f"{name}: {e}") from None
    for start in range(0, len(a), BLOCK_FRAMES):
        welch.feed(a[start : start + BLOCK_FRAMES])
    return welch.finish(name)


def measure(path: str | os.PathLike[str] | Mix, *, threads: int | None = None) -> Spectrum:
    """The figures of a loaded `Mix` or a mix file (.toml), rendered once, in memory, as
    float64 (the clipped, undithered master), or of an audio file."""
    from .mix import Mix, load

    if isinstance(path, Mix):
        mix = path
    elif Path(path).suffix.lower() == ".toml":
        mix = load(path)
    else:
        return measure_file(path)
    audio = mix.render(dtype="float64", threads=threads)
    return measure_array(audio, mix.file.session.sample_rate, str(mix.path))


def _against_range(rows: F64) -> F64:
    """Per column: 0 where the values' range holds 0, else its end nearer 0; NaN if any NaN."""
    import numpy as np

    lo = np.min(rows, axis=0)
    hi = np.max(rows, axis=0)
    inside = np.where(lo > 0, lo, np.where(hi < 0, hi, 0.0))
    return np.asarray(np.where(np.isnan(lo) | np.isnan(hi), np.nan, inside))


def _power(levels: F64) -> F64:
    import numpy as np

    return np.asarray(10.0 ** (levels / 10.0))


def _signed(v: float) -> str:
    return f"{v:+.1f}"


def compare_spectra(mix: Spectrum, references: Sequence[Spectrum]) -> Comparison:
    """The comparison of measured figures (see `compare`)."""
    import numpy as np

    if not references:
        raise MixError("compare needs at least one reference")
    for s in (mix, *references):
        if s.meters["integrated_lufs"] is None:
            raise MixError(
                f"{s.path}: has no integrated loudness (silent, or shorter than 400 ms), "
                "so it cannot be loudness-matched"
            )
    n_bands = len(THIRD_OCTAVE_NOMINAL)
    n_refs = len(references)
    loud = np.array([mix.integrated_lufs - r.integrated_lufs for r in references])
    matched = np.array([r.band_levels_db for r in references]) + loud[:, None]
    delta = mix.band_levels_db[None, :] - matched
    relative = np.full((n_refs, n_bands), np.nan)
    medians = np.zeros(n_refs)
    for i in range(n_refs):
        common = ~np.isnan(delta[i])
        medians[i] = float(np.median(delta[i, common]))
        relative[i] = delta[i] - medians[i]
    relative_range = _against_range(relative)
    tilts = np.array([_slope(delta[i]) for i in range(n_refs)])
    widths = np.array([mix.width_db - r.width_db for r in references])

    regions = []
    for reg in REGIONS:
        mask = reg.band_mask
        d = np.full(n_refs, np.nan)
        for i in range(n_refs):
            use = mask & ~np.isnan(delta[i])
            if np.any(use):
                mix_p = float(np.sum(_power(mix.band_levels_db[use])))
                ref_p = float(np.sum(_power(matched[i, use])))
                d[i] = 10.0 * math.log10(mix_p / ref_p)
        rel = d - medians
        regions.append(
            RegionResult(
                name=reg.name,
                label=reg.label,
                delta_by_reference_db=d,
                relative_by_reference_db=rel,
                delta_db=float(_against_range(d[:, None])[0]),
                relative_db=float(_against_range(rel[:, None])[0]),
            )
        )

    against = "against the reference" if n_refs == 1 else "against the references"
    flags: list[str] = []
    flagged_regions: list[tuple[Region, float]] = []
    for reg, res in zip(REGIONS, regions, strict=True):
        v = res.relative_db
        if not math.isnan(v) and abs(v) >= FLAG_DB:
            words = reg.above if v > 0 else reg.below
            strong = "strong: " if abs(v) >= STRONG_DB else ""
            flags.append(f"{strong}{reg.label}: {_signed(v)} dB {against} ({words})")
            flagged_regions.append((reg, v))
    present = np.flatnonzero(~np.isnan(relative_range))
    outer = {int(present[0]), int(present[-1])} if len(present) else set()
    for b in present.tolist():
        v = float(relative_range[b])
        limit = FLAG_OUTER_DB if b in outer else FLAG_DB
        if abs(v) < limit:
            continue
        within = [r for r, rv in flagged_regions if r.band_mask[b] and (rv > 0) == (v > 0)]
        if within:
            continue  # said by its region's flag
        strong = "strong: " if abs(v) >= STRONG_DB else ""
        what = "a narrow build-up" if v > 0 else "a narrow dip"
        flags.append(
            f"{strong}{_band_name(THIRD_OCTAVE_NOMINAL[b])} band: {_signed(v)} dB {against} "
            f"({what})"
        )
    tilt_range = float(_against_range(tilts[:, None])[0])
    if not math.isnan(tilt_range) and abs(tilt_range) >= TILT_FLAG_DB:
        strong = "strong: " if abs(tilt_range) >= TILT_STRONG_DB else ""
        words = "brighter, the top leans up" if tilt_range > 0 else "darker, the top leans down"
        flags.append(f"{strong}spectral tilt: {tilt_range:+.2f} dB/octave {against} ({words})")

    notes = []
    for s in (mix, *references):
        missing = [c for c, p in zip(THIRD_OCTAVE_NOMINAL, s.band_present, strict=True) if not p]
        if missing:
            names = ", ".join(_band_name(c) for c in missing)
            notes.append(
                f"{s.path}: bands {names} lie above its Nyquist frequency "
                f"({s.sample_rate / 2:g} Hz) and are left out of its comparison"
            )
    return Comparison(
        mix=mix,
        references=tuple(references),
        loudness_difference_by_reference_db=loud,
        matched_reference_levels_db=matched,
        delta_by_reference_db=delta,
        relative_by_reference_db=relative,
        regions=tuple(regions),
        tilt_delta_by_reference_db_per_octave=tilts,
        width_delta_by_reference_db=widths,
        flags=tuple(flags),
        notes=tuple(notes),
    )


def _band_name(hz: float) -> str:
    return f"{hz / 1000:g} kHz" if hz >= 1000 else f"{hz:g} Hz"


def compare(
    mix: str | os.PathLike[str] | Mix,
    references: Sequence[str | os.PathLike[str] | Mix],
    *,
    threads: int | None = None,
) -> Comparison:
    """Compares a mix (a loaded `Mix` or a .toml mix file, rendered once in memory, or an
    audio file) with one or more reference tracks (audio files at any rate and bit depth, or
    mixes), matched by integrated loudness (see the module's documentation and
    docs/compare.md). Raises `MixError` for a file that cannot be read, has more than two
    channels, or has no integrated loudness."""
    if isinstance(references, (str, os.PathLike)):
        references = [references]
    if not references:
        raise MixError("compare needs at least one reference")
    from concurrent.futures import ThreadPoolExecutor

    from .render import default_threads

    # The files are measured side by side (the meter and the transforms release the GIL);
    # each file's figures are its own, so they do not depend on the order or the workers.
    items = [mix, *references]
    workers = max(1, min(len(items), threads if threads is not None else default_threads()))
    with ThreadPoolExecutor(workers) as pool:
        spectra = list(pool.map(lambda item: measure(item, threads=threads), items))
    return compare_spectra(spectra[0], spectra[1:])


__all__ = [
    "OCTAVE_NOMINAL",
    "REGIONS",
    "THIRD_OCTAVE_EDGES",
    "THIRD_OCTAVE_EXACT",
    "THIRD_OCTAVE_NOMINAL",
    "Comparison",
    "Region",
    "RegionResult",
    "Spectrum",
    "compare",
    "compare_spectra",
    "measure",
    "measure_array",
    "measure_file",
    "window_frames",
]
