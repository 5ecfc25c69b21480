"""Translation checks: how a mix holds up on the systems people hear it on.

Each playback system is a fixed, documented chain of mixrender's own inserts (a `width`
fold and `eq` bands, `SYSTEMS`), so a preview is a render: a one-track mix of the master
with the system's chain as its master inserts and the matching gain as its master
`gain_db`, rendered by the engine at the mix's bit depth, with a hash like any render.

The mix is rendered once, with its stems (every direct input of the master), whose
spectra are taken block by block as they are made (`_Analyzer`). Then:

* the loudness through each chain is the master's on the spectra (`_Spectra`: BS.1770's
  gating of K-weighted hop energies); a render of the master through each chain
  (`_measure_mix`) gives the sample peak after it; the loudness change is that loudness
  minus the mix's (the render's meter);
* the previews, loudness-matched: every system's preview is brought to one target, the
  mix's integrated loudness, lowered for all of them alike when a preview's sample peak
  would pass the mix's `true_peak_ceiling_db`; the mix itself then needs
  `reference_gain_db` to compare at the same loudness;
* per stem, `relative_db = (L(stem on system) - L(mix on system)) - (L(stem) - L(mix))`,
  with `L` the integrated loudness measured on spectra (`_Spectra`);
* the mono loss `10 log10((1 + rho) / 2)`, `rho = 2 E[LR] / (E[L^2] + E[R^2])`, of the
  master as the system passes it (its EQ weighting the energies), with flags in words.

See docs/translate.md for the models, their basis, the figures and the formulas.
"""

from __future__ import annotations

import json
import math
import os
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import render as _render
from .errors import MixError
from .mixfile import MixFile, parse_mixfile
from .safepath import check_outputs

if TYPE_CHECKING:
    # numpy is imported where used: `import mixrender` does not import it.
    import numpy as np
    import numpy.typing as npt

    from .mix import Mix
    from .sources import InMemorySource

    FloatArray = npt.NDArray[np.float64]


# --- the systems ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Band:
    """One `eq` band of a system's chain, as the mix format writes it."""

    type: str
    freq_hz: float
    gain_db: float = 0.0
    q: float | None = None
    slope_db_oct: int | None = None

    def toml(self) -> str:
        parts = [f'type = "{self.type}"', f"freq_hz = {self.freq_hz!r}"]
        if self.type in ("bell", "lowshelf", "highshelf"):
            parts.append(f"gain_db = {self.gain_db!r}")
        if self.q is not None:
            parts.append(f"q = {self.q!r}")
        if self.slope_db_oct is not None:
            parts.append(f"slope_db_oct = {self.slope_db_oct}")
        return "{ " + ", ".join(parts) + " }"

    def words(self) -> str:
        if self.type in ("highpass", "lowpass"):
            slope = self.slope_db_oct or 12
            q = "" if self.q is None else f" q {self.q:g}"
            return (
                f"{'HP' if self.type == 'highpass' else 'LP'} {slope} dB/oct {self.freq_hz:g} Hz{q}"
            )
        q = "" if self.q is None else f" q {self.q:g}"
        return f"{self.type} {self.gain_db:+g} dB {self.freq_hz:g} Hz{q}"


@dataclass(frozen=True)
class System:
    """A playback system: a `width` fold (None: none) and EQ bands, in that order."""

    name: str
    description: str
    width: float | None
    bands: tuple[Band, ...]
    basis: str

    def chain_words(self) -> str:
        parts = [] if self.width is None else [f"width {self.width:g}"]
        return "; ".join(parts + [b.words() for b in self.bands]) or "none"


def _hp(f: float, slope: int = 12, q: float | None = None) -> Band:
    return Band("highpass", f, q=q, slope_db_oct=slope)


def _lp(f: float, slope: int = 12) -> Band:
    return Band("lowpass", f, slope_db_oct=slope)


#: The systems, in the order they are reported. Figures from
#: ../shared/references/playback-systems.md; "generic model" marks estimates, not measurements.
SYSTEMS: dict[str, System] = {
    s.name: s
    for s in (
        System("mono", "the mono fold-down (L + R) / 2", 0.0, (), "definition"),
        System(
            "earbuds",
            "open-fit earbuds",
            None,
            (_hp(66.0, 12, 0.5), Band("bell", 700.0, -3.2, 0.42), Band("bell", 2400.0, 4.7, 0.65)),
            "published measurements (AutoEq results on oratory1990's open-fit earbud data)",
        ),
        System(
            "earbuds_sealed",
            "sealed (noise-cancelling) earbuds",
            None,
            (
                Band("lowshelf", 105.0, -2.6),
                Band("bell", 514.0, 4.4, 0.68),
                Band("bell", 4600.0, -3.4, 2.46),
                Band("bell", 8900.0, -6.0, 1.66),
            ),
            "published measurements (AutoEq results on crinacle's sealed earbud data)",
        ),
        System(
            "phone",
            "a small phone speaker (generic model)",
            0.0,
            (_hp(500.0, 12, 1.0), _hp(300.0), Band("bell", 3000.0, 3.0, 1.0), _lp(12000.0)),
            "generic model (a micro-speaker in a small sealed volume: a steep high-pass "
            "at a few hundred Hz)",
        ),
        System(
            "laptop",
            "laptop speakers (generic model)",
            0.6,
            (_hp(250.0, 24), Band("bell", 1500.0, 2.0, 1.0), _lp(10000.0)),
            "laptop measurements (fall-off below about 250-400 Hz and above about 7 kHz); "
            "width a generic model",
        ),
        System(
            "car",
            "a car cabin (generic model)",
            0.5,
            (_hp(35.0), Band("lowshelf", 90.0, 6.0, 0.7), _lp(14000.0)),
            "generic model (cabin gain below 50-80 Hz, car target curves)",
        ),
        System(
            "bt_speaker",
            "a mono Bluetooth speaker with passive radiators (generic model)",
            0.0,
            (_hp(70.0, 24), Band("bell", 100.0, 4.0, 1.0), _lp(15000.0)),
            "generic model (a 4th-order high-pass with a bump above its cut-off)",
        ),
    )
}

#: A stem falling this far against the mix on a system is a warning, and this far a
#: strong one (dB).
WARN_DB = -6.0
STRONG_DB = -12.0
#: BS.1770's absolute gate: a stem with no 400 ms block above it on a system is gone.
GATE_LUFS = -70.0
#: Correlation under this is anti-phase content (flagged). Uncorrelated signals measure
#: within a few hundredths of 0 either way; a mono loss past -3.2 dB is clearly out of phase.
ANTI_PHASE_RHO = -0.05
#: Floor of a mono loss (anti-phase content cancels to nothing) and of an energy, dB.
FLOOR_DB = -120.0
#: Octave bands (IEC nominal centres) for the mono check of the master.
OCTAVES_HZ = (31.5, 63.0, 125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0, 16000.0)
#: Resolution of the spectra's bands above the lowest frequencies (see `_Analyzer`).
BANDS_PER_OCTAVE = 48
#: Below this, a master band with rho under 0.5 is noted: the low end is not mono.
LOW_END_HZ = 150.0
#: The most memory the stems' blocks waiting for their spectra take (bytes).
STEM_BUFFER_BYTES = 64 << 20


def system_chain(system: System, sample_rate: int) -> tuple[float | None, tuple[Band, ...]]:
    """The chain as rendered at `sample_rate`: bands at or above 0.49 x the rate (which the
    format refuses, and which act above what the rate carries) are left out."""
    return system.width, tuple(b for b in system.bands if b.freq_hz < 0.49 * sample_rate)


# --- analytic responses (RBJ cookbook) -------------------------------------------------------


def _biquads(
    band: Band, fs: float
) -> list[tuple[tuple[float, float, float], tuple[float, float, float]]]:
    """The band's biquads `(b, a)` as the engine designs them (RBJ cookbook; Butterworth
    cascades above 12 dB/oct; first order at 6 dB/oct)."""
    w0 = 2 * math.pi * band.freq_hz / fs
    cw, sw = math.cos(w0), math.sin(w0)
    t = band.type
    if t in ("highpass", "lowpass"):
        slope = band.slope_db_oct or 12
        if slope == 6:
            k = math.tan(w0 / 2)
            if t == "lowpass":
                return [((k, k, 0.0), (1 + k, k - 1, 0.0))]
            return [((1.0, -1.0, 0.0), (1 + k, k - 1, 0.0))]
        order = slope // 6
        if slope == 12:
            qs = [band.q if band.q is not None else 1 / math.sqrt(2)]
        else:
            qs = [
                1 / (2 * math.cos(math.pi * (2 * k + 1) / (2 * order))) for k in range(order // 2)
            ]
        out = []
        for q in qs:
            alpha = sw / (2 * q)
            if t == "lowpass":
                b = ((1 - cw) / 2, 1 - cw, (1 - cw) / 2)
            else:
                b = ((1 + cw) / 2, -(1 + cw), (1 + cw) / 2)
            out.append((b, (1 + alpha, -2 * cw, 1 - alpha)))
        if order % 2:
            k = math.tan(w0 / 2)
            if t == "lowpass":
                out.append(((k, k, 0.0), (1 + k, k - 1, 0.0)))
            else:
                out.append(((1.0, -1.0, 0.0), (1 + k, k - 1, 0.0)))
        return out
    a_lin = 10 ** (band.gain_db / 40)
    if t == "bell":
        q = band.q if band.q is not None else 1.0
        alpha = sw / (2 * q)
        return [
            (
                (1 + alpha * a_lin, -2 * cw, 1 - alpha * a_lin),
                (1 + alpha / a_lin, -2 * cw, 1 - alpha / a_lin),
            )
        ]
    q = band.q if band.q is not None else 1 / math.sqrt(2)
    alpha = sw / (2 * q)
    sa = 2 * math.sqrt(a_lin) * alpha
    if t == "lowshelf":
        return [
            (
                (
                    a_lin * ((a_lin + 1) - (a_lin - 1) * cw + sa),
                    2 * a_lin * ((a_lin - 1) - (a_lin + 1) * cw),
                    a_lin * ((a_lin + 1) - (a_lin - 1) * cw - sa),
                ),
                (
                    (a_lin + 1) + (a_lin - 1) * cw + sa,
                    -2 * ((a_lin - 1) + (a_lin + 1) * cw),
                    (a_lin + 1) + (a_lin - 1) * cw - sa,
                ),
            )
        ]
    if t == "highshelf":
        return [
            (
                (
                    a_lin * ((a_lin + 1) + (a_lin - 1) * cw + sa),
                    -2 * a_lin * ((a_lin - 1) + (a_lin + 1) * cw),
                    a_lin * ((a_lin + 1) + (a_lin - 1) * cw - sa),
                ),
                (
                    (a_lin + 1) - (a_lin - 1) * cw + sa,
                    2 * ((a_lin - 1) - (a_lin + 1) * cw),
                    (a_lin + 1) - (a_lin - 1) * cw - sa,
                ),
            )
        ]
    raise ValueError(f"band type {t!r} is not used by the systems")


def _power_response(bands: Iterable[Band], freqs_hz: FloatArray, fs: float) -> FloatArray:
    """`|H(f)|^2` of the bands in cascade at `freqs_hz`."""
    import numpy as np

    z1 = np.exp(-1j * 2 * np.pi * np.asarray(freqs_hz, dtype=np.float64) / fs)
    z2 = z1 * z1
    power = np.ones(len(z1))
    for band in bands:
        for b, a in _biquads(band, fs):
            h = (b[0] + b[1] * z1 + b[2] * z2) / (a[0] + a[1] * z1 + a[2] * z2)
            power *= np.abs(h) ** 2
    return power


def response_db(
    system: System, freqs_hz: Sequence[float] | FloatArray, sample_rate: int = 48000
) -> FloatArray:
    """The system's EQ magnitude response in dB at `freqs_hz` (the width fold aside)."""
    import numpy as np

    _, bands = system_chain(system, sample_rate)
    power = _power_response(bands, np.asarray(freqs_hz, dtype=np.float64), float(sample_rate))
    return np.asarray(10 * np.log10(np.maximum(power, 1e-30)), dtype=np.float64)


#: BS.1770-4's K-weighting as two cookbook bands (a high shelf and a 2nd-order high-pass),
#: fitted to its 48 kHz filter: within 0.03 dB of it over 20 Hz - 20 kHz (the cookbook's
#: shelf cannot be the standard's exactly). Used for the loudness through each chain.
_K_WEIGHTING = (
    Band("highshelf", 1495.89, 4.0694, 0.68898),
    Band("highpass", 38.2914, q=0.50633, slope_db_oct=12),
)


# --- loudness on spectra ---------------------------------------------------------------------


@dataclass
class _Spectra:
    """Loudness and stereo figures of one stereo signal as each system passes it, from one
    pass of short spectra (`_Analyzer`)."""

    #: Per window, per column (0: full range, then the systems): energy through it.
    energies: FloatArray
    #: Summed over the signal, per column: M and S energy through the system's EQ
    #: (unweighted: column 0 full range), then per octave of `OCTAVES_HZ`.
    sums_m: FloatArray
    sums_s: FloatArray
    hop: int


def _weights(
    systems: Sequence[System], freqs: FloatArray, fs: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Columns: full range, then each system. `(weight of M, weight of S, |H|^2)` per bin:
    the M and S weights are `2 |K H|^2` and `2 w^2 |K H|^2`."""
    import numpy as np

    k = _power_response(_K_WEIGHTING, freqs, float(fs))
    cols_h = [np.ones(len(freqs))]
    widths = [1.0]
    for s in systems:
        width, bands = system_chain(s, fs)
        cols_h.append(_power_response(bands, freqs, float(fs)))
        widths.append(1.0 if width is None else width)
    h = np.stack(cols_h, axis=1)
    wm = 2.0 * k[:, None] * h
    ws = wm * np.asarray(widths)[None, :] ** 2
    return wm, ws, h


class _Analyzer:
    """Streaming spectra of a stereo signal: `feed` blocks of any size, then `finish`.

    The signal is cut into windows of 2 hops (a hop is 100 ms) at a hop's spacing, each
    under a sine window (whose squares overlap to exactly 1, so that the windows' energies
    sum to the signal's). Each window's mid `M = (L + R) / 2` and side `S = (L - R) / 2`
    power spectra, weighted by `|K(f) H(f)|^2` (BS.1770's K-weighting and the system's
    EQ), give the window's energy through the system: `2 (E_M + w^2 E_S)` for a width `w`
    (the cross terms of `L' = M + w S`, `R' = M - w S` cancel). Four windows make a
    400 ms block, gated as BS.1770 gates (`_loudness`). The same pass sums M and S through
    each system's EQ and per octave, for rho.
    """

    CHUNK = 32  # hops per FFT batch

    def __init__(self, fs: int, systems: Sequence[System], share: _Analyzer | None = None) -> None:
        """`share`: an analyzer of the same rate and systems whose work buffers this one
        uses too (analyzers fed from one thread: the buffers stay in the cache)."""
        import numpy as np

        self.hop = hop = max(1, round(fs / 10))
        n = 2 * hop
        self.window = np.sin(np.pi * (np.arange(n) + 0.5) / n)
        freqs: FloatArray = np.fft.rfftfreq(n, 1.0 / fs).astype(np.float64)
        scale = np.full(len(freqs), 2.0 / n)
        scale[0] = 1.0 / n
        if n % 2 == 0:
            scale[-1] = 1.0 / n
        wm, ws, h = _weights(systems, freqs, fs)
        octaves = np.stack(
            [(freqs >= c / math.sqrt(2)) & (freqs < c * math.sqrt(2)) for c in OCTAVES_HZ], axis=1
        ).astype(np.float64)
        self.columns = wm.shape[1]
        # The bins are summed into bands first (one bin each at low frequencies, where a bin
        # is wider than 1/48 octave; 1/48 octave above), each weighted by its bins' mean
        # weight: the systems' responses change by well under 0.5 dB across such a band.
        df = fs / n
        f_lin = df / (2 ** (1 / BANDS_PER_OCTAVE) - 1)
        labels = np.where(
            freqs < f_lin,
            np.arange(len(freqs)),
            len(freqs) + np.floor(BANDS_PER_OCTAVE * np.log2(np.maximum(freqs, f_lin) / f_lin)),
        )
        starts = np.flatnonzero(np.diff(labels, prepend=-1.0))
        counts = np.diff(np.append(starts, len(freqs)))
        # |X|^2 = re^2 + im^2: the float view of the spectrum (re, im, re, im, ...) squared
        # and summed per band.
        self.starts = 2 * starts

        def banded(w: FloatArray) -> FloatArray:
            return np.add.reduceat(w * scale[:, None], starts, axis=0) / counts[:, None]

        self.w_m = banded(np.concatenate([wm, h, octaves], axis=1))
        self.w_s = banded(np.concatenate([ws, h, octaves], axis=1))
        self.half_window = 0.5 * self.window  # M = (L + R) / 2, S = (L - R) / 2
        # The windows, their spectra and band sums: work buffers, refilled by every
        # `_windows` (shared with `share`: one set for all the signals of a mix, about 5 MB,
        # instead of one per signal).
        self.wbuf: FloatArray
        self.spec: npt.NDArray[np.complex128]
        self.bands: FloatArray
        if share is not None:
            assert share.wbuf.shape[1] == n and share.bands.shape[1] == len(starts)
            self.wbuf, self.spec, self.bands = share.wbuf, share.spec, share.bands
        else:
            self.wbuf = np.zeros((self.CHUNK + 1, n))
            self.spec = np.zeros((self.CHUNK + 1, len(freqs)), dtype=np.complex128)
            self.bands = np.zeros((self.CHUNK + 1, len(starts)))
        # The mid and side sums `L + R`, `L - R` of the hop before and of up to CHUNK hops
        # (one more at the end), filled as blocks come.
        self.sig = np.zeros((2, (self.CHUNK + 2) * hop))
        self.fill = hop
        self.out: list[FloatArray] = []
        self.sums_m = np.zeros(self.w_m.shape[1] - self.columns)
        self.sums_s = np.zeros(self.w_s.shape[1] - self.columns)

    def feed(self, x: npt.NDArray[Any]) -> None:
        """Takes the next frames (`(frames, 2)`, float32 or float64; not kept)."""
        import numpy as np

        full = (self.CHUNK + 1) * self.hop
        pos = 0
        while pos < len(x):
            k = min(len(x) - pos, full - self.fill)
            seg = x[pos : pos + k]
            span = slice(self.fill, self.fill + k)
            np.add(seg[:, 0], seg[:, 1], out=self.sig[0, span], dtype=np.float64)
            np.subtract(seg[:, 0], seg[:, 1], out=self.sig[1, span], dtype=np.float64)
            self.fill += k
            pos += k
            if self.fill == full:
                self._windows(self.CHUNK)

    def _windows(self, m: int) -> None:
        """The windows over the first `m` hops after the kept one, each with the hop before
        it; the last of them is kept for the next."""
        import numpy as np

        hop, n = self.hop, 2 * self.hop
        energy = np.zeros((m, self.columns))
        for sig, w, acc in (
            (self.sig[0, : (m + 1) * hop], self.w_m, self.sums_m),
            (self.sig[1, : (m + 1) * hop], self.w_s, self.sums_s),
        ):
            # Silence, or the side of a centred mono element: no energy. (A sample in every
            # 1000 shows most signals are not silent; the maximum and minimum, SIMD
            # reductions, tell the rest. `any` on floats casts every sample to bool.)
            if not sig[::1000].any() and sig.max() == 0.0 and sig.min() == 0.0:
                continue
            view = np.lib.stride_tricks.sliding_window_view(sig, n)[::hop]
            # Through buffers kept between calls (fresh arrays this size would each be
            # mapped and faulted in anew).
            windowed = np.multiply(view[:m], self.half_window, out=self.wbuf[:m])
            spec = np.fft.rfft(windowed, axis=1, out=self.spec[:m])
            v = spec.view(np.float64)
            np.square(v, out=v)
            e = np.add.reduceat(v, self.starts, axis=1, out=self.bands[:m]) @ w
            energy += e[:, : self.columns]
            acc += e[:, self.columns :].sum(axis=0)
        self.out.append(energy)
        self.sig[:, :hop] = self.sig[:, m * hop : (m + 1) * hop]
        self.fill = hop

    def finish(self) -> _Spectra:
        import numpy as np

        # The last partial hop padded with zeros, then one hop of zeros for the window over
        # the last hop.
        hops = -(-(self.fill - self.hop) // self.hop) + 1
        self.sig[:, self.fill :] = 0.0
        self._windows(hops)
        energies = np.concatenate(self.out) if self.out else np.zeros((0, self.columns))
        return _Spectra(energies, self.sums_m, self.sums_s, self.hop)


def _loudness(energies: FloatArray, hop: int) -> tuple[float | None, float]:
    """`(gated integrated loudness or None, ungated energy loudness)` of a column of hop
    energies (the sum over channels of the squares in each hop): blocks of 4 hops (400 ms,
    75 % overlap), BS.1770's gates."""
    import numpy as np

    total = float(energies.sum())
    ungated = -0.691 + 10 * math.log10(total / (len(energies) * hop)) if total > 0 else -200.0
    if len(energies) < 4:
        return None, ungated
    z = (energies[:-3] + energies[1:-2] + energies[2:-1] + energies[3:]) / (4 * hop)
    with np.errstate(divide="ignore"):
        lev = -0.691 + 10 * np.log10(z)
    above = z[lev > GATE_LUFS]
    if len(above) == 0:
        return None, ungated
    relative = -0.691 + 10 * math.log10(float(above.mean())) - 10.0
    gated = z[(lev > GATE_LUFS) & (lev > relative)]
    return -0.691 + 10 * math.log10(float(gated.mean())), ungated


def _rho(pm: float, ps: float) -> float | None:
    """`2 E[LR] / (E[L^2] + E[R^2])` from mid and side energies: `(M - S) / (M + S)`."""
    return None if pm + ps <= 0 else (pm - ps) / (pm + ps)


def mono_loss_db(rho: float | None) -> float | None:
    """`10 log10((1 + rho) / 2)`, floored at `FLOOR_DB` (anti-phase cancels to nothing)."""
    if rho is None:
        return None
    v = (1.0 + rho) / 2.0
    return FLOOR_DB if v <= 10 ** (FLOOR_DB / 10) else 10 * math.log10(v)


# --- results ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class StemOnSystem:
    """A stem's change against the whole mix on one system."""

    name: str
    #: `(L(stem on system) - L(mix on system)) - (L(stem) - L(mix))`, dB; None for a stem
    #: silent on full range. Finite for a gone stem (its energy through the system).
    relative_db: float | None
    #: No 400 ms block of the stem passes the -70 LUFS gate after the system.
    gone: bool
    #: None, "warning" (fell 6 dB or more) or "strong" (12 dB or more).
    flag: str | None


@dataclass(frozen=True)
class SystemResult:
    name: str
    description: str
    basis: str
    chain: str
    #: Integrated loudness of the master through the chain minus the master's, before
    #: matching (LU); None when either is silent.
    loudness_change_db: float | None
    #: The master gain of the preview (dB): the target minus the loudness through the chain.
    matching_gain_db: float
    #: The master's mono loss as the system passes it (its EQ weighting the energies), dB.
    mono_loss_db: float | None
    stems: tuple[StemOnSystem, ...]
    flags: tuple[str, ...]
    preview: str
    preview_sha256: str
    #: The preview's loudness and sample peak: the chain's output's plus the gain (the
    #: chain and the gain are linear, and the peak stays under the ceiling).
    preview_lufs: float | None
    preview_peak_dbfs: float | None
    #: The chain's magnitude response (dB) at `Translation.freqs_hz`.
    response_db: FloatArray = field(repr=False)


@dataclass(frozen=True)
class StemFigures:
    name: str
    loudness_lufs: float | None
    correlation: float | None
    mono_loss_db: float | None


@dataclass(frozen=True)
class Translation:
    """What `translate` found: whole-mix figures, per-stem figures, one entry per system."""

    source: str
    kind: str  # "mix" or "file"
    sample_rate: int
    loudness_lufs: float | None
    true_peak_dbtp: float | None
    #: The integrated loudness every preview was matched to.
    target_lufs: float | None
    #: The gain that brings the mix to the previews' loudness (0 unless lowered so that
    #: no preview passes the true-peak ceiling): play the mix at this gain to compare.
    #: Derived: the target minus the mix's loudness.
    reference_gain_db: float = field(init=False)
    correlation: float | None
    #: Derived from `correlation`: `10 log10((1 + rho) / 2)`.
    mono_loss_db: float | None = field(init=False)
    pan_law: str | None
    #: Derived from `pan_law`: what the law does to a hard-panned element in mono.
    pan_law_effect: str = field(init=False)
    #: Per octave band of the master: rho and mono loss.
    octaves_hz: FloatArray = field(repr=False)
    octave_correlation: FloatArray = field(repr=False)
    stems: tuple[StemFigures, ...]
    systems: tuple[SystemResult, ...]
    flags: tuple[str, ...]
    output_dir: str
    #: Frequencies of each system's `response_db` curve (Hz).
    freqs_hz: FloatArray = field(repr=False)

    def __post_init__(self) -> None:
        target, loudness = self.target_lufs, self.loudness_lufs
        gain = 0.0 if target is None or loudness is None else target - loudness
        object.__setattr__(self, "reference_gain_db", gain)
        object.__setattr__(self, "mono_loss_db", mono_loss_db(self.correlation))
        object.__setattr__(self, "pan_law_effect", _pan_law_effect(self.pan_law))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: arrays as lists, every float finite or None."""
        import numpy as np

        def plain(v: Any) -> Any:
            if isinstance(v, np.ndarray):
                return [plain(x) for x in v.tolist()]
            if isinstance(v, float):
                return v if math.isfinite(v) else None
            if isinstance(v, dict):
                return {k: plain(x) for k, x in v.items()}
            if isinstance(v, (list, tuple)):
                return [plain(x) for x in v]
            return v

        d: dict[str, Any] = plain(asdict(self))
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


# --- the work --------------------------------------------------------------------------------


def _pan_law_effect(law: str | None) -> str:
    if law is None:
        return "a rendered file: its pan law is not known"
    centre = {"-3dB": 1 / math.sqrt(2), "-6dB": 0.5, "0dB": 1.0}.get(law)
    if centre is None:  # -4.5dB: the geometric mean of the -3 and -6 dB laws
        centre = math.sqrt(0.5 / math.sqrt(2))
    # A mono element hard to one side keeps gain 1 on that side under every law; in the
    # fold-down it becomes x/2 on both (energy 1/2), a centred one g x on both (2 g^2).
    against_faders = 10 * math.log10(0.5 / (2 * centre * centre))
    names = {"-3dB": "constant power", "-6dB": "linear", "-4.5dB": "a compromise", "0dB": "no cut"}
    return (
        f"pan law {law} ({names.get(law, law)}): folded to mono, a hard-panned mono element "
        f"loses 3.0 dB against centred ones relative to its stereo balance (its rho is 0), "
        f"and sits {against_faders:+.1f} dB against a centred one at the same fader"
        + (" (nothing shifts against the faders)" if abs(against_faders) < 0.05 else "")
    )


def _toml_str(s: str) -> str:
    return json.dumps(s)


def _session_toml(fs: int, frames: int, bit_depth: int) -> list[str]:
    """The head of a derived mix, in TOML lines: the session (`frames` long, the `0dB` pan
    law, so that a track at pan 0 enters the master at unity) and its `[render]` table's bit
    depth."""
    return [
        'format = "mixrender/1"',
        "[session]",
        f"sample_rate = {fs}",
        'pan_law = "0dB"',
        f"end = {frames / fs!r}",
        "[render]",
        f"bit_depth = {bit_depth}",
    ]


def _derived_mix(
    path: Path,
    source: str,
    frames: int,
    fs: int,
    system: System | None,
    gain_db: float,
    bit_depth: int,
    dither: bool,
    seed: int,
) -> MixFile:
    """A one-track mix of `source` with the system's chain as its master inserts."""
    lines = [
        *_session_toml(fs, frames, bit_depth),
        f'dither = "{"tpdf" if dither else "none"}"',
        f"seed = {seed}",
        "[[track]]",
        'name = "mix"',
        f"source = {_toml_str(source)}",
        "[master]",
        f"gain_db = {gain_db!r}",
    ]
    if system is not None:
        width, bands = system_chain(system, fs)
        lines += _chain_toml("master", width, bands)
    return parse_mixfile("\n".join(lines) + "\n", path)


def _chain_toml(table: str, width: float | None, bands: Sequence[Band]) -> list[str]:
    """A system's chain as the inserts of `table` ("master", "track"), in TOML lines."""
    lines: list[str] = []
    if width is not None:
        lines += [f"[[{table}.insert]]", 'type = "width"', f"width = {width!r}"]
    if bands:
        lines += [
            f"[[{table}.insert]]",
            'type = "eq"',
            "bands = [" + ", ".join(b.toml() for b in bands) + "]",
        ]
    return lines


def _pick(systems: Iterable[str] | None) -> list[System]:
    if systems is None:
        return list(SYSTEMS.values())
    names = [s.strip() for s in systems if s.strip()]
    unknown = [s for s in names if s not in SYSTEMS]
    if unknown:
        raise ValueError(f"unknown system {unknown[0]!r}; the systems are {', '.join(SYSTEMS)}")
    if not names:
        raise ValueError(f"no systems named; the systems are {', '.join(SYSTEMS)}")
    return [SYSTEMS[n] for n in SYSTEMS if n in names]


def translate(
    target: str | os.PathLike[str] | Mix,
    *,
    out: str | os.PathLike[str] | None = None,
    systems: Iterable[str] | None = None,
    threads: int | None = None,
) -> Translation:
    """Previews and figures of a mix (a `.toml` path or a loaded `Mix`) or a rendered file
    on each playback system (default: every one in `SYSTEMS`, in that order).

    Writes `OUT/<name>.<system>.wav` (default OUT: `<name>.translate/` beside the mix or
    file) and returns the figures. A file gets the previews and the whole-mix figures; a
    mix also the per-stem ones. Raises MixError for a mix, source or render problem and
    ValueError for an unknown system name.
    """
    from .mix import Mix, load

    chosen = _pick(systems)
    threads = _render.default_threads() if threads is None else threads
    if isinstance(target, Mix):
        mix: Mix | None = target
        src_path = target.path
    else:
        src_path = Path(target)
        mix = load(src_path) if src_path.suffix.lower() == ".toml" else None
    folder = Path(out) if out is not None else src_path.with_name(f"{src_path.stem}.translate")
    previews = {s.name: folder / f"{src_path.stem}.{s.name}.wav" for s in chosen}
    if mix is not None:
        master = _render_mix(mix, chosen, previews, threads)
    else:
        master = _read_file(src_path, chosen, previews)
    return _finish(master, chosen, previews, folder, threads)


@dataclass(frozen=True)
class _Master:
    """What the previews and the figures are made of: the master as the mix renders it (or
    the file as read), its meters, its spectra and its stems' (a mix), and how its previews
    are written."""

    path: Path
    kind: str  # "mix" or "file"
    fs: int
    #: `(frames, 2)` float32: the master as written (clipped, before dither).
    samples: npt.NDArray[Any]
    #: The render's (or `analyze`'s) meters: `integrated_lufs`, `true_peak_dbtp`.
    meters: Mapping[str, Any]
    spectra: _Spectra
    #: `(bit_depth, dither, seed)` of the previews.
    render_settings: tuple[int, bool, int]
    stem_spectra: Mapping[str, _Spectra] = field(default_factory=dict)
    #: The sample peak no preview may pass (dBFS): the mix's true-peak ceiling.
    ceiling: float = -1.0
    pan_law: str | None = None


def _render_mix(
    mix: Mix, chosen: list[System], previews: Mapping[str, Path], threads: int
) -> _Master:
    import numpy as np

    f = mix.file
    fs = f.session.sample_rate
    check_outputs(
        [
            ("mix", f.path),
            *((f"source of {t.label}", t.source_path) for t in f.tracks if t.source_path),
        ],
        [(f"{s} preview", p) for s, p in previews.items()],
    )
    # The mix rendered once, as `render` delivers it (the clipped, undithered master), with
    # its stems; each block of each goes through its analyzer as it is made.
    sources = dict(mix.sources)
    gain = _render.loudness_gain(f, sources=sources, threads=threads)
    job = _render.BlockRender(
        f,
        sources=sources,
        # One of the threads takes the spectra (below): the engine has the others.
        threads=max(1, threads - 1),
        loudness_gain_db=gain,
        stems=True,
        block_size=_render.STEMS_BLOCK * 4,
        # Of the meters, the integrated loudness and the true peak are read: the octave
        # bands' filter bank (the meter's costliest part) is left out; the sources' hashes
        # (a lock's) are not taken.
        octave_bands=False,
        digests=False,
    )
    names = job.engine.stem_names()
    master = np.zeros((job.frames, 2), dtype=np.float32)
    master_an = _Analyzer(fs, chosen)
    stem_an = [_Analyzer(fs, chosen, master_an) for _ in names]
    # The analyzers take their FFTs CHUNK hops at a time, so their work comes in bursts, one
    # every `depth - 1` blocks or so: as many blocks may wait for them (the render goes on
    # through a burst instead of stopping at it), within STEM_BUFFER_BYTES of stem buffers.
    depth = -(-_Analyzer.CHUNK * master_an.hop // job.block) + 1
    depth = max(2, min(depth, STEM_BUFFER_BYTES // (16 * job.block * max(1, len(names))) - 1))
    stem_bufs = np.zeros((depth + 1, len(names), job.block, 2))
    analyzers = [master_an, *stem_an]

    def analyse(blocks: list[npt.NDArray[Any]]) -> None:
        for an, b in zip(analyzers, blocks, strict=True):
            an.feed(b)

    # The spectra are taken on a thread of their own while the engine renders the next
    # blocks (numpy and the engine both release the GIL); at most `depth` blocks wait.
    pending: deque[Future[None]] = deque()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mixrender-translate") as pool:
        for pos, n in job.blocks():
            block = master[pos : pos + n]
            job.engine.write(block)
            # The master's block is written once (not copied); the stems' go to one of
            # `depth + 1` sets of buffers, in turn: one that no waiting block holds.
            bufs = stem_bufs[(pos // job.block) % (depth + 1)]
            blocks: list[npt.NDArray[Any]] = [block]
            for k in range(len(stem_an)):
                job.engine.write_stem(k, bufs[k, :n])
                blocks.append(bufs[k, :n])
            while len(pending) >= depth:
                pending.popleft().result()
            pending.append(pool.submit(analyse, blocks))
        while pending:
            pending.popleft().result()
    return _Master(
        f.path,
        "mix",
        fs,
        master,
        job.meters(),
        master_an.finish(),
        (f.render.bit_depth, f.render.dither, f.render.seed),
        stem_spectra={n: an.finish() for n, an in zip(names, stem_an, strict=True)},
        ceiling=f.render.true_peak_ceiling_db,
        pan_law=f.session.pan_law,
    )


def _read_file(path: Path, chosen: list[System], previews: Mapping[str, Path]) -> _Master:
    import numpy as np
    import soundfile as sf

    from .analyze import analyze_file

    try:
        info = sf.info(os.fspath(path))
    except (sf.LibsndfileError, RuntimeError, OSError) as e:
        raise MixError(f"{path}: cannot be read as audio ({e})") from None
    if info.channels not in (1, 2):
        raise MixError(f"{path}: {info.channels} channels; translate takes mono or stereo files")
    check_outputs([("file translated", path)], [(f"{s} preview", p) for s, p in previews.items()])
    meters = analyze_file(path)
    x, fs = sf.read(os.fspath(path), dtype="float32", always_2d=True)
    if x.shape[1] == 1:
        x = np.repeat(x, 2, axis=1)
    master = np.ascontiguousarray(x)
    analyzer = _Analyzer(int(fs), chosen)
    analyzer.feed(master)
    # A float file gets float previews; an integer one 24-bit with TPDF dither.
    floats = info.subtype in ("FLOAT", "DOUBLE")
    return _Master(
        path,
        "file",
        int(fs),
        master,
        meters,
        analyzer.finish(),
        (32, False, 0) if floats else (24, True, 0),
    )


def _chain_peak(job: _render.BlockRender) -> float:
    """Runs `job` (a one-track mix without inserts on its master, at unity gain) and returns
    its master's sample peak (linear): the peak of the track's chain's output."""
    job.run()
    (peak_l, peak_r), _ = job.engine.stats()
    return max(peak_l, peak_r)


def _measure_mix(
    path: Path,
    source: str,
    frames: int,
    fs: int,
    system: System,
    mid: str,
) -> MixFile:
    """A mix putting the master through one system's chain, for the chain's sample peak: a
    track of the master with the chain as its inserts, alone on a master at unity (the
    master's output is the chain's). A system that folds to mono (width 0) reads the
    fold-down `mid` (`(L + R) / 2`, computed exactly in float64) as a mono source instead:
    half the work, the same samples (a mono track at pan 0 under the `0dB` law is that
    signal on both sides). The loudness through each chain comes from the spectra
    (`_Analyzer`)."""
    lines = _session_toml(fs, frames, 32)
    width, bands = system_chain(system, fs)
    folded = width == 0.0
    lines += [
        "[[track]]",
        f'name = "{system.name}"',
        f"source = {_toml_str(mid if folded else source)}",
    ]
    lines += _chain_toml("track", None if folded else width, bands)
    return parse_mixfile("\n".join(lines) + "\n", path)


def _finish(
    m: _Master,
    chosen: list[System],
    previews: Mapping[str, Path],
    folder: Path,
    threads: int,
) -> Translation:
    import numpy as np

    from .writer import AtomicWriter

    master, fs, stem_spectra, master_spectra = m.samples, m.fs, m.stem_spectra, m.spectra
    loudness: float | None = m.meters["integrated_lufs"]
    frames = len(master)
    key = "translate:master"
    sources: dict[str, InMemorySource] = {key: (master, fs)}
    bit_depth, dither, seed = m.render_settings

    # The loudness through each chain from the spectra (within a few thousandths of an LU
    # of BS.1770's meter on the chain's output: docs/translate.md), and in one render of
    # the master through every chain (a track per system), the chains' sample peaks.
    mid_key = "translate:mid"
    mid = master[:, 0].astype(np.float64)
    mid += master[:, 1]
    mid *= 0.5
    # A system whose chain is the fold alone (`mono`) passes the fold-down as it is (a mono
    # track at pan 0 under the `0dB` law: the same samples on both sides), so its peak is
    # the fold-down's, taken here; the render goes through the other chains.
    bare = {s.name for s in chosen if system_chain(s, fs) == (0.0, ())}
    peaks = dict.fromkeys(bare, max(float(mid.max()), -float(mid.min()))) if bare else {}
    through = [s for s in chosen if s.name not in bare]
    workers = max(1, min(threads, len(chosen)))

    def chain_peak(system: System) -> float:
        probe = _measure_mix(
            folder / f"{m.path.stem}.{system.name}.measure.toml", key, frames, fs, system, mid_key
        )
        job = _render.BlockRender(
            probe,
            sources={**sources, mid_key: (mid, fs)},
            threads=1,
            meter=False,
            block_size=_render.MAX_BLOCK,
        )
        return _chain_peak(job)

    # One render per chain, as many at a time as there are threads (each alone: nothing
    # summed or copied out but the chain's output, whose peak the engine keeps).
    with ThreadPoolExecutor(max_workers=workers) as pool:
        peaks.update(zip((s.name for s in through), pool.map(chain_peak, through), strict=True))
    measured: list[tuple[float | None, float | None]] = []
    for i, system in enumerate(chosen):
        peak = peaks[system.name]
        measured.append(
            (
                _loudness(master_spectra.energies[:, i + 1], master_spectra.hop)[0],
                20 * math.log10(peak) if peak > 0 else None,
            )
        )
    # One target for every preview: the mix's loudness, lowered alike for all when a
    # preview's sample peak would pass the ceiling.
    target = loudness
    if target is not None:
        for lv, pk in measured:
            if lv is not None and pk is not None:
                target = min(target, m.ceiling - (pk - lv))
    gains = []
    for lv, _ in measured:
        g = 0.0 if target is None or lv is None else target - lv
        gains.append(min(24.0, max(-144.0, g)))
    folder.mkdir(parents=True, exist_ok=True)

    def write(i: int) -> str:
        system = chosen[i]
        mf = _derived_mix(
            folder / f"{m.path.stem}.{system.name}.toml",
            key,
            frames,
            fs,
            system,
            gains[i],
            bit_depth,
            dither,
            seed,
        )
        preview = _render.BlockRender(mf, sources=sources, threads=1, meter=False)
        writer = AtomicWriter(previews[system.name], fs, bit_depth, preview.engine, frames)
        try:
            out = None if writer.engine_writes else np.zeros((preview.block, 2), "float32")
            for _, n in preview.blocks():
                if out is not None:
                    preview.engine.write(out[:n])
                    writer.write(out[:n])
            writer.commit()
        except BaseException:
            writer.abort()
            raise
        return writer.hexdigest()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        hashes = list(pool.map(write, range(len(chosen))))

    # Whole-mix stereo figures and octave bands. Sums: columns 0 .. len(chosen) through
    # each EQ (0: full range), then the octaves.
    nsys = len(chosen) + 1
    sm, ss = master_spectra.sums_m, master_spectra.sums_s
    rho = _rho(float(sm[0]), float(ss[0]))
    octaves = np.asarray(OCTAVES_HZ)
    oct_rho = np.full(len(octaves), np.nan)
    for i in range(len(octaves)):
        om, os_ = float(sm[nsys + i]), float(ss[nsys + i])
        if om + os_ > 1e-10 * float(sm[0] + ss[0]):
            r = _rho(om, os_)
            oct_rho[i] = np.nan if r is None else r
    flags: list[str] = []
    if rho is not None and rho < ANTI_PHASE_RHO:
        flags.append(
            f"anti-phase: the master's channels are out of phase (rho {rho:+.2f}): it loses "
            f"{-(mono_loss_db(rho) or 0):.1f} dB in mono"
        )
    for c, r in zip(octaves, oct_rho, strict=True):
        if math.isnan(r):
            continue
        if r < ANTI_PHASE_RHO:
            flags.append(
                f"anti-phase: the master's {c:g} Hz octave is out of phase (rho {r:+.2f}): "
                f"it loses {-(mono_loss_db(float(r)) or 0):.1f} dB there in mono"
            )
        elif c < LOW_END_HZ and r < 0.5:
            flags.append(
                f"note: the low end is not mono: the {c:g} Hz octave has rho {r:+.2f} "
                f"({mono_loss_db(float(r)):.1f} dB in mono)"
            )
    # Per stem, full range.
    stems: list[StemFigures] = []
    full: dict[str, tuple[float | None, float]] = {}
    mix_full = _loudness(master_spectra.energies[:, 0], master_spectra.hop)
    for stem, sp in stem_spectra.items():
        full[stem] = _loudness(sp.energies[:, 0], sp.hop)
        r = _rho(float(sp.sums_m[0]), float(sp.sums_s[0]))
        stems.append(StemFigures(stem, full[stem][0], r, mono_loss_db(r)))
        if r is not None and r < ANTI_PHASE_RHO:
            flags.append(
                f"anti-phase: stem {stem} is out of phase between its channels (rho "
                f"{r:+.2f}): it loses {-(mono_loss_db(r) or 0):.1f} dB in mono"
            )

    curve_hz = np.geomspace(20.0, min(20000.0, 0.49 * fs), 200)
    results = []
    for i, system in enumerate(chosen):
        col = i + 1
        lv = measured[i][0]
        change = None if lv is None or loudness is None else lv - loudness
        sys_rho = _rho(float(sm[col]), float(ss[col]))
        sys_flags: list[str] = []
        width = system.width
        if sys_rho is not None and sys_rho < ANTI_PHASE_RHO and width is not None and width < 1:
            sys_flags.append(
                f"{system.name}: anti-phase: the master loses "
                f"{-(mono_loss_db(sys_rho) or 0):.1f} dB as this system folds it "
                f"(rho {sys_rho:+.2f})"
            )
        mix_sys = _loudness(master_spectra.energies[:, col], master_spectra.hop)
        stem_results = []
        for stem, sp in stem_spectra.items():
            base = full[stem]
            if base[0] is None:
                stem_results.append(StemOnSystem(stem, None, False, None))
                continue
            on = _loudness(sp.energies[:, col], sp.hop)
            gone = on[0] is None
            l_stem_sys = on[0] if on[0] is not None else on[1]
            l_mix_sys = mix_sys[0] if mix_sys[0] is not None else mix_sys[1]
            l_mix = mix_full[0] if mix_full[0] is not None else mix_full[1]
            rel = (l_stem_sys - l_mix_sys) - (base[0] - l_mix)
            flag = "strong" if rel <= STRONG_DB or gone else "warning" if rel <= WARN_DB else None
            stem_results.append(StemOnSystem(stem, rel, gone, flag))
            if gone:
                sys_flags.append(f"{system.name}: {stem} {rel:+.1f} dB against the mix (gone)")
            elif flag == "strong":
                sys_flags.append(
                    f"{system.name}: {stem} {rel:+.1f} dB against the mix (strong: it falls "
                    f"{-STRONG_DB:g} dB or more)"
                )
            elif flag == "warning":
                sys_flags.append(
                    f"{system.name}: {stem} {rel:+.1f} dB against the mix (it falls "
                    f"{-WARN_DB:g} dB or more)"
                )
        if system.name == "mono":
            sys_flags += [f"mono: {x}" for x in flags if x.startswith("anti-phase")]
        peak_db = measured[i][1]
        results.append(
            SystemResult(
                name=system.name,
                description=system.description,
                basis=system.basis,
                chain=system.chain_words(),
                loudness_change_db=change,
                matching_gain_db=gains[i],
                mono_loss_db=mono_loss_db(sys_rho),
                stems=tuple(stem_results),
                flags=tuple(sys_flags),
                preview=str(previews[system.name]),
                preview_sha256=hashes[i],
                preview_lufs=None if lv is None else lv + gains[i],
                preview_peak_dbfs=None if peak_db is None else peak_db + gains[i],
                response_db=response_db(system, curve_hz, fs),
            )
        )
    return Translation(
        source=str(m.path),
        kind=m.kind,
        sample_rate=fs,
        loudness_lufs=loudness,
        true_peak_dbtp=m.meters["true_peak_dbtp"],
        target_lufs=target,
        correlation=rho,
        pan_law=m.pan_law,
        octaves_hz=octaves,
        octave_correlation=oct_rho,
        stems=tuple(stems),
        systems=tuple(results),
        flags=tuple(flags),
        output_dir=str(folder),
        freqs_hz=curve_hz,
    )


__all__ = ["SYSTEMS", "System", "SystemResult", "Translation", "response_db", "translate"]
