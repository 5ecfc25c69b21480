"""The finishing report: one offline page, `DIR/index.html`, with what an engineer looks at.

`report(...)` renders the mix once into the folder (or copies a rendered file there), then:

* headline figures: the render's meters (the engine's BS.1770-4 / EBU meter), PLR, clipped
  samples and the audio hash;
* a waveform overview: per pixel column, the minimum and maximum sample of each channel;
* momentary (400 ms) and short-term (3 s) loudness over time, for plotting only: the
  K-weighted energy of every 100 ms hop from `translate`'s spectra (`translate._Analyzer`,
  BS.1770's K-weighting applied to short spectra), averaged over 4 or 30 hops; the engine's
  meter gives the figures printed as numbers (it keeps no time series);
* the long-term spectrum in third-octave bands (`compare`), against the loudness-matched
  references when given, with `compare`'s flags;
* stereo correlation `2 E[LR] / (E[L^2] + E[R^2])` and width `10 log10(E[S^2] / E[M^2])`
  (M = (L + R) / 2, S = (L - R) / 2) over 500 ms windows;
* the gain-staging table of `analyze MIX` (a mix only), and the translation table with
  `translate=True` (its previews are written into the folder);
* audio players for the mix, the previews and the references, each reference written into
  the folder at the mix's integrated loudness (32-bit float, so that nothing clips).

The plots are matplotlib SVG files beside the page (imported only here: a render never
imports matplotlib), made deterministic: a fixed `svg.hashsalt`, text kept as text
(`svg.fonttype = "none"`) and no date in the metadata. The same figures go to
`DIR/report.json`. See docs/report.md.
"""

from __future__ import annotations

import hashlib
import html
import json
import math
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .errors import MixError
from .safepath import check_outputs

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from matplotlib.figure import Figure

    from .compare import Comparison, Spectrum
    from .mix import Mix
    from .staging import Staging
    from .translate import Translation

    F64 = npt.NDArray[np.float64]

#: Pixel columns of the waveform overview.
WAVEFORM_COLUMNS = 1100
#: Window of the correlation and width curves (seconds).
STEREO_WINDOW_S = 0.5
#: Marks on the time axes: every this many seconds, or every this many bars with a tempo.
MARK_SECONDS = 10.0
MARK_BARS = 8
#: Plot size in pixels (width; heights per plot in `_PLOTS`) at 100 dpi.
PLOT_WIDTH_PX = 1100
_DPI = 100
_SVG_RC: dict[str, Any] = {
    "svg.hashsalt": "mixrender-report",
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.size": 10.0,
    "axes.grid": True,
    "grid.alpha": 0.3,
}
#: The plots, in page order: (id, file, height in px, title).
PLOTS = (
    ("waveform", "waveform.svg", 220, "Waveform overview (min/max per column)"),
    ("loudness", "loudness.svg", 300, "Loudness over time"),
    ("spectrum", "spectrum.svg", 320, "Long-term spectrum (third octaves)"),
    ("stereo", "stereo.svg", 300, "Correlation and width over time"),
)


@dataclass(frozen=True, eq=False)
class Report:
    """What `report(...)` wrote and measured. Time series are numpy arrays."""

    source: str
    kind: str  # "mix" or "file"
    output_dir: str
    #: `output_dir`'s `index.html` and `report.json` (derived).
    index_html: str = field(init=False)
    report_json: str = field(init=False)
    #: The master as played on the page (a file in `output_dir`).
    audio_file: str
    sample_rate: int
    frames: int
    #: integrated_lufs, loudness_range_lu, true_peak_dbtp, sample_peak_dbfs, plr_db,
    #: clipped_samples, audio_sha256 (of the render's samples; of a file's bytes), ...
    headline: dict[str, Any]
    #: Waveform overview: column start times (s), per column and channel min and max.
    waveform_times_s: F64 = field(repr=False)
    waveform_min: F64 = field(repr=False)
    waveform_max: F64 = field(repr=False)
    #: End time of each 100 ms hop (s), momentary and short-term loudness (LUFS, NaN where
    #: silent or before the window is full).
    loudness_times_s: F64 = field(repr=False)
    momentary_lufs: F64 = field(repr=False)
    short_term_lufs: F64 = field(repr=False)
    #: Centre time of each stereo window (s), correlation and width (NaN where silent).
    stereo_times_s: F64 = field(repr=False)
    correlation: F64 = field(repr=False)
    width_db: F64 = field(repr=False)
    #: Time marks (s) and what they mark ("10 s" or "8 bars").
    marks_s: F64 = field(repr=False)
    marks_every: str
    spectrum: Spectrum = field(repr=False)
    comparison: Comparison | None = field(repr=False)
    staging: Staging | None = field(repr=False)
    translation: Translation | None = field(repr=False)
    #: (label, file name in `output_dir`) of every audio player, in page order.
    players: tuple[tuple[str, str], ...]
    notes: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "index_html", str(Path(self.output_dir) / "index.html"))
        object.__setattr__(self, "report_json", str(Path(self.output_dir) / "report.json"))

    def to_dict(self) -> dict[str, Any]:
        """The JSON object written to `report.json` (NaN as null)."""
        return {
            "source": self.source,
            "kind": self.kind,
            "audio_file": Path(self.audio_file).name,
            "sample_rate": self.sample_rate,
            "frames": self.frames,
            "headline": self.headline,
            "waveform": {
                "times_s": _list(self.waveform_times_s),
                "min": _list(self.waveform_min),
                "max": _list(self.waveform_max),
            },
            "loudness": {
                "times_s": _list(self.loudness_times_s),
                "momentary_lufs": _list(self.momentary_lufs),
                "short_term_lufs": _list(self.short_term_lufs),
                "integrated_lufs": self.headline.get("integrated_lufs"),
            },
            "stereo": {
                "window_s": STEREO_WINDOW_S,
                "times_s": _list(self.stereo_times_s),
                "correlation": _list(self.correlation),
                "width_db": _list(self.width_db),
            },
            "marks": {"every": self.marks_every, "times_s": _list(self.marks_s)},
            "spectrum": self.spectrum.figures(),
            "comparison": None if self.comparison is None else self.comparison.to_dict(),
            "staging": None if self.staging is None else _plain(self.staging.to_dict()),
            "translation": None if self.translation is None else self.translation.to_dict(),
            "players": [{"label": label, "file": name} for label, name in self.players],
            "plots": [{"id": pid, "file": name} for pid, name, _, _ in PLOTS],
            "notes": list(self.notes),
        }


def _num(v: Any) -> float | None:
    return float(v) if v is not None and math.isfinite(float(v)) else None


def _list(a: Any) -> Any:
    import numpy as np

    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim == 0:
        return _num(arr)
    return [_list(x) for x in arr] if arr.ndim > 1 else [_num(x) for x in arr.tolist()]


def _plain(v: Any) -> Any:
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def _matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise MixError(
            "report needs matplotlib, which is not installed: pip install 'mixrender[report]'"
        ) from None


# --- series -----------------------------------------------------------------------------------


def waveform_overview(
    audio: npt.NDArray[np.floating[Any]], sample_rate: int, columns: int = WAVEFORM_COLUMNS
) -> Any:
    """`(start times (s), min, max)`: per column of `columns` (fewer for a short signal)
    equal runs of frames, each channel's smallest and largest sample."""
    import numpy as np

    n = len(audio)
    cols = max(1, min(columns, n))
    edges = (np.arange(cols + 1) * n) // cols
    lo = np.minimum.reduceat(audio, edges[:-1], axis=0) if n else np.zeros((1, audio.shape[1]))
    hi = np.maximum.reduceat(audio, edges[:-1], axis=0) if n else np.zeros((1, audio.shape[1]))
    return edges[:-1] / sample_rate, lo.astype(np.float64), hi.astype(np.float64)


def loudness_series(audio: npt.NDArray[np.floating[Any]], sample_rate: int) -> tuple[F64, F64, F64]:
    """`(hop end times (s), momentary LUFS, short-term LUFS)` at a 100 ms hop, for plotting:
    K-weighted hop energies from `translate`'s spectra, averaged over 4 and 30 hops. NaN
    before a window is full and where it is silent."""
    import numpy as np

    from .translate import _Analyzer

    stereo = audio if audio.shape[1] == 2 else np.concatenate([audio, np.zeros_like(audio)], 1)
    an = _Analyzer(sample_rate, [])
    for start in range(0, len(stereo), 1 << 16):
        an.feed(np.array(stereo[start : start + (1 << 16)], dtype=np.float64))
    spectra = an.finish()
    hop = spectra.hop
    # The analyzer adds one hop after the last (its window over it): the hops of the signal.
    hops = -(-len(audio) // hop)
    e = spectra.energies[:hops, 0]
    times = (np.arange(hops) + 1) * hop / sample_rate

    def windowed(k: int) -> F64:
        out = np.full(hops, np.nan)
        if hops >= k:
            c = np.concatenate([[0.0], np.cumsum(e)])
            z = (c[k:] - c[:-k]) / (k * hop)
            with np.errstate(divide="ignore", invalid="ignore"):
                out[k - 1 :] = np.where(
                    z > 0, -0.691 + 10 * np.log10(np.maximum(z, 1e-300)), np.nan
                )
        return out

    return times, windowed(4), windowed(30)


def stereo_series(
    audio: npt.NDArray[np.floating[Any]], sample_rate: int, window_s: float = STEREO_WINDOW_S
) -> tuple[F64, F64, F64]:
    """`(window centre times (s), correlation, width dB)` over whole windows of `window_s`
    (the last partial window included): correlation `2 E[LR] / (E[L^2] + E[R^2])` and width
    `10 log10(E[S^2] / E[M^2])`; NaN where silent (width also where M is silent)."""
    import numpy as np

    n = max(1, round(window_s * sample_rate))
    if len(audio) == 0:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    starts = np.arange(0, len(audio), n)
    sums = np.zeros((3, len(starts)))  # E[L^2], E[R^2], E[LR] per window
    step = 16  # windows per chunk, in float64
    for w0 in range(0, len(starts), step):
        chunk = np.asarray(audio[w0 * n : (w0 + step) * n], dtype=np.float64)
        left = chunk[:, 0]
        right = chunk[:, -1]  # mono: the one channel twice
        at = np.arange(0, len(chunk), n)
        for row, prod in enumerate((left * left, right * right, left * right)):
            sums[row, w0 : w0 + len(at)] = np.add.reduceat(prod, at)
    ll, rr, lr = sums
    mm = (ll + rr + 2 * lr) / 4
    ss = (ll + rr - 2 * lr) / 4
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = np.where(ll + rr > 0, 2 * lr / (ll + rr), np.nan)
        width = np.where(mm > 0, 10 * np.log10(np.maximum(ss, 1e-30) / mm), np.nan)
    ends = np.minimum(starts + n, len(audio))
    return (starts + ends) / 2 / sample_rate, corr, width


def time_marks(seconds: float, tempo_bpm: float | None, meter: tuple[int, int]) -> Any:
    """`(marks (s), what they mark)`: every 8 bars with a tempo, else every 10 s."""
    import numpy as np

    if tempo_bpm:
        # A beat is the meter's unit, as the format's "bar:beat" counts it.
        step = MARK_BARS * meter[0] * 60.0 / tempo_bpm
        label = f"{MARK_BARS} bars"
    else:
        step = MARK_SECONDS
        label = f"{MARK_SECONDS:g} s"
    count = math.floor(seconds / step + 1e-9)
    return np.arange(1, count + 1) * step, label


# --- plots ------------------------------------------------------------------------------------


def _figure(height_px: int) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(PLOT_WIDTH_PX / _DPI, height_px / _DPI), dpi=_DPI, layout="tight")


def _save(
    fig: Figure, path: Path, legend_loc: Literal["upper right", "lower right", "lower left"]
) -> None:
    """Draws the legend of every axes of the figure (in the first one, at `legend_loc`) and
    writes the figure as SVG, without a date: the same figures give the same file."""
    handles: list[Any] = []
    labels: list[str] = []
    for a in fig.axes:
        h, lab = a.get_legend_handles_labels()
        handles += h
        labels += lab
    fig.axes[0].legend(handles, labels, loc=legend_loc, fontsize=8)
    fig.savefig(path, format="svg", metadata={"Date": None, "Creator": "mixrender"})


def _time_axes(ax: Any, r: Report, ylabel: str, ylim: tuple[float, float]) -> None:
    """A chart over the mix's time: the marks (every 10 s or 8 bars), the limits, the labels."""
    _mark(ax, r.marks_s, r.marks_every)
    ax.set_ylim(*ylim)
    ax.set_xlim(0, max(r.frames / r.sample_rate, 1e-3))
    ax.set_xlabel("time (s)")
    ax.set_ylabel(ylabel)


def _mark(ax: Any, marks: F64, every: str) -> None:
    for i, t in enumerate(marks):
        ax.axvline(
            t,
            color="0.55",
            linewidth=0.7,
            linestyle=":",
            label=f"every {every}" if i == 0 else None,
        )


def _plots(r: Report, folder: Path) -> None:
    import matplotlib
    import numpy as np

    heights = {pid: h for pid, _, h, _ in PLOTS}
    files = {pid: name for pid, name, _, _ in PLOTS}
    with matplotlib.rc_context(_SVG_RC):  # type: ignore[arg-type]
        # Waveform.
        fig = _figure(heights["waveform"])
        ax = fig.add_subplot()
        names = ["L", "R"] if r.waveform_min.shape[1] == 2 else ["mono"]
        colors = ["#1f6fb4", "#d9631e"]
        for c, name in enumerate(names):
            ax.fill_between(
                r.waveform_times_s, r.waveform_min[:, c], r.waveform_max[:, c],
                step="post", color=colors[c], alpha=0.6, linewidth=0, label=name,
            )  # fmt: skip
        _time_axes(ax, r, "sample", (-1.05, 1.05))
        _save(fig, folder / files["waveform"], "upper right")

        # Loudness.
        fig = _figure(heights["loudness"])
        ax = fig.add_subplot()
        ax.plot(r.loudness_times_s, r.momentary_lufs, color="#8fb8de", linewidth=0.8,
                label="momentary (400 ms)")  # fmt: skip
        ax.plot(r.loudness_times_s, r.short_term_lufs, color="#1f4e8c", linewidth=1.6,
                label="short-term (3 s)")  # fmt: skip
        integrated = r.headline.get("integrated_lufs")
        if integrated is not None:
            ax.axhline(integrated, color="#c0392b", linewidth=1.2,
                       label=f"integrated {integrated:.1f} LUFS")  # fmt: skip
        finite = r.momentary_lufs[np.isfinite(r.momentary_lufs)]
        top = float(np.max(finite)) if len(finite) else 0.0
        _time_axes(ax, r, "LUFS", (max(top - 40.0, -70.0), top + 3.0))
        _save(fig, folder / files["loudness"], "lower right")

        # Spectrum.
        from .compare import THIRD_OCTAVE_NOMINAL

        fig = _figure(heights["spectrum"])
        ax = fig.add_subplot()
        hz = np.asarray(THIRD_OCTAVE_NOMINAL)
        ax.semilogx(hz, r.spectrum.band_levels_db, marker="o", markersize=3, color="#1f4e8c",
                    linewidth=1.8, label="mix")  # fmt: skip
        if r.comparison is not None:
            for i, ref in enumerate(r.comparison.references):
                ax.semilogx(hz, r.comparison.matched_reference_levels_db[i], linewidth=1.1,
                            linestyle="--", label=f"{Path(ref.path).name} (matched)")  # fmt: skip
        ax.set_xticks([31.5, 63, 125, 250, 500, 1000, 2000, 4000, 8000, 16000])
        ax.set_xticklabels(["31.5", "63", "125", "250", "500", "1k", "2k", "4k", "8k", "16k"])
        ax.set_xlabel("third-octave band (Hz)")
        ax.set_ylabel("level (dB re FS)")
        _save(fig, folder / files["spectrum"], "lower left")

        # Stereo.
        fig = _figure(heights["stereo"])
        ax = fig.add_subplot()
        ax.plot(r.stereo_times_s, r.correlation, color="#1f4e8c", linewidth=1.4,
                label="correlation")  # fmt: skip
        _time_axes(ax, r, "correlation", (-1.05, 1.05))
        ax2 = ax.twinx()
        ax2.plot(r.stereo_times_s, r.width_db, color="#d9631e", linewidth=1.2,
                 label="width S/M (dB)")  # fmt: skip
        ax2.set_ylabel("width S/M (dB)")
        ax2.grid(False)
        finite = r.width_db[np.isfinite(r.width_db)]
        if len(finite):
            ax2.set_ylim(
                max(float(np.min(finite)) - 3.0, -60.0), max(float(np.max(finite)) + 3.0, 3.0)
            )
        else:
            ax2.set_ylim(-60.0, 3.0)
        _save(fig, folder / files["stereo"], "lower left")


# --- the page ---------------------------------------------------------------------------------

_CSS = """
body { font-family: sans-serif; margin: 16px; color: #222; background: #fff; width: 1140px; }
h1 { font-size: 20px; margin: 0 0 8px 0; }
h2 { font-size: 16px; margin: 20px 0 6px 0; }
table { border-collapse: collapse; font-size: 12px; }
td, th { border: 1px solid #ccc; padding: 2px 6px; text-align: right; }
td.l, th.l { text-align: left; }
.flag { color: #a04000; }
.strong { color: #b00000; font-weight: bold; }
figure.plot { margin: 0; width: 1100px; }
figure.plot img { display: block; width: 1100px; }
.players div { margin: 4px 0; }
.players audio { vertical-align: middle; width: 420px; height: 32px; }
.players span { display: inline-block; width: 360px; font-size: 13px; }
code { font-size: 12px; }
"""


def _e(v: Any) -> str:
    return html.escape(str(v), quote=True)


def _fmt(v: Any, digits: int = 1, unit: str = "") -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    return f"{round(float(v), digits) + 0.0:.{digits}f}{(' ' + unit) if unit else ''}"


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> str:
    cls = [' class="l"' if i < left else "" for i in range(len(head))]
    out = ["<table><tr>", *(f"<th{c}>{_e(h)}</th>" for c, h in zip(cls, head, strict=True))]
    out.append("</tr>")
    for row in rows:
        out.append("<tr>" + "".join(f"<td{c}>{v}</td>" for c, v in zip(cls, row, strict=True)))
        out.append("</tr>")
    out.append("</table>")
    return "".join(out)


def _page(r: Report) -> str:
    h = r.headline
    parts: list[str] = []
    add = parts.append
    add('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">')
    add(f"<title>mixrender report: {_e(Path(r.source).name)}</title>")
    add(f"<style>{_CSS}</style></head><body>")
    add(f"<h1>{_e(Path(r.source).name)}</h1>")
    add(f"<p><code>{_e(r.source)}</code> ({_e(r.kind)}), {r.sample_rate} Hz, "
        f"{_fmt(r.frames / r.sample_rate, 2, 's')}</p>")  # fmt: skip
    rows = [
        ("integrated loudness", _fmt(h.get("integrated_lufs"), 1, "LUFS")),
        ("loudness range", _fmt(h.get("loudness_range_lu"), 1, "LU")),
        ("true peak", _fmt(h.get("true_peak_dbtp"), 2, "dBTP")),
        ("PLR (true peak - integrated)", _fmt(h.get("plr_db"), 1, "dB")),
        ("clipped samples", _e(h.get("clipped_samples"))),
        ("max momentary / short-term", f"{_fmt(h.get('max_momentary_lufs'))} / "
                                       f"{_fmt(h.get('max_short_term_lufs'), 1, 'LUFS')}"),
        (str(h.get("hash_kind", "audio sha256")), f"<code>{_e(h.get('audio_sha256'))}</code>"),
    ]  # fmt: skip
    add('<h2>Headline</h2><div id="headline">')
    add(_table(["figure", "value"], [(_e(a), b) for a, b in rows], left=2))
    add("</div>")

    add('<h2>Listen</h2><div class="players" id="players">')
    for label, name in r.players:
        add(f'<div><span>{_e(label)}</span><audio controls preload="none" '
            f'src="{_e(name)}"></audio></div>')  # fmt: skip
    add("</div>")

    for pid, name, height, title in PLOTS:
        add(f"<h2>{_e(title)}</h2>")
        if pid == "loudness":
            add(f"<p>Marks every {_e(r.marks_every)}.</p>")
        add(f'<figure class="plot" id="plot-{pid}"><img src="{_e(name)}" '
            f'width="{PLOT_WIDTH_PX}" height="{height}" alt="{_e(title)}"></figure>')  # fmt: skip
        if pid == "spectrum" and r.comparison is not None:
            add(_comparison_html(r.comparison))

    if r.staging is not None:
        add('<h2>Gain staging</h2><div id="staging">')
        add(_staging_html(r.staging))
        add("</div>")
    if r.translation is not None:
        add('<h2>Translation</h2><div id="translation">')
        add(_translation_html(r.translation))
        add("</div>")
    if r.notes:
        add("<h2>Notes</h2><ul>" + "".join(f"<li>{_e(n)}</li>" for n in r.notes) + "</ul>")
    add("<p><small>mixrender report; figures also in <a href=\"report.json\">report.json"
        "</a>.</small></p></body></html>\n")  # fmt: skip
    return "\n".join(parts)


def _flags(flags: Sequence[str]) -> str:
    if not flags:
        return "<p>No flags.</p>"
    items = "".join(
        f'<li class="{"strong" if f.startswith("strong") else "flag"}">{_e(f)}</li>' for f in flags
    )
    return f"<ul>{items}</ul>"


def _comparison_html(c: Comparison) -> str:
    refs = [Path(s.path).name for s in c.references]
    rows = [
        (
            _e(reg.label),
            _fmt(reg.delta_db),
            _fmt(reg.relative_db),
            *(_fmt(v) for v in reg.relative_by_reference_db),
        )
        for reg in c.regions
    ]
    head = ["region", "delta dB", "relative dB", *(f"relative to {n}" for n in refs)]
    tilts = ", ".join(
        f"{_e(n)}: {_fmt(t, 2)}"
        for n, t in zip(refs, c.tilt_delta_by_reference_db_per_octave, strict=True)
    )
    return (
        '<div id="comparison">'
        + _table(head, rows)
        + f"<p>Loudness difference (mix - references): {_fmt(c.loudness_difference_db)} LU; "
        f"tilt difference (dB/octave): {tilts}</p>" + _flags(c.flags) + "</div>"
    )


def _staging_html(s: Staging) -> str:
    rows = []
    for strip in s.strips:
        for i, p in enumerate(strip.points):
            rows.append(
                (
                    _e(strip.name if i == 0 else ""),
                    _e(p.label),
                    "silent" if p.peak_dbfs is None else _fmt(p.peak_dbfs),
                    "silent" if p.rms_dbfs is None else _fmt(p.rms_dbfs),
                    _fmt(p.correlation, 2),
                )
            )
    warnings = [f"{st.name}: {w}" for st in s.strips for w in st.warnings] + list(s.warnings)
    return _table(["strip", "point", "peak dBFS", "RMS dBFS", "correlation"], rows, left=2) + (
        _flags(warnings) if warnings else "<p>No warnings.</p>"
    )


def _translation_html(t: Translation) -> str:
    stems = [s.name for s in t.stems]
    rows = []
    for s in t.systems:
        cells = []
        for st in s.stems:
            cls = "strong" if st.flag == "strong" else "flag" if st.flag else ""
            text = _fmt(st.relative_db) + (" gone" if st.gone else "")
            cells.append(f'<span class="{cls}">{_e(text)}</span>' if cls else _e(text))
        rows.append(
            (
                _e(s.name),
                _fmt(s.loudness_change_db),
                _fmt(s.matching_gain_db),
                _fmt(s.mono_loss_db),
                *cells,
            )
        )
    head = ["system", "change dB", "matching dB", "mono loss dB", *stems]
    flags = [*t.flags, *(f for s in t.systems for f in s.flags)]
    note = (
        f"<p>Previews matched to {_fmt(t.target_lufs, 1, 'LUFS')}; the mix plays at "
        f"{_fmt(t.reference_gain_db)} dB to compare. Stems: change against the whole mix "
        f"on each system (dB).</p>"
    )
    return note + _table(head, rows) + _flags(flags)


# --- the command ------------------------------------------------------------------------------


def _read(path: Path) -> tuple[npt.NDArray[np.float32], int]:
    """The whole file as float32 (which holds 16- and 24-bit samples exactly)."""
    import soundfile as sf

    from .files import open_audio

    data, rate = open_audio(path, lambda name: sf.read(name, dtype="float32", always_2d=True))
    if data.shape[1] > 2:
        raise MixError(f"{path}: has {data.shape[1]} channels; report takes mono or stereo")
    return data, int(rate)


def _probe(path: Path) -> None:
    """MixError unless `path` is a regular file of mono or stereo audio."""
    import soundfile as sf

    from .files import open_audio

    info = open_audio(path, sf.info)
    if info.channels > 2:
        raise MixError(f"{path}: has {info.channels} channels; report takes mono or stereo")


#: Subtypes whose samples hash as a render's output does (the format's audio hash).
_HASHED_AS_RENDERS = {"PCM_16": "int16", "PCM_24": "int32", "FLOAT": "float32"}


def _audio_sha256(path: Path) -> tuple[str, str]:
    """`(hash, what it is)`: for 16- and 24-bit and float files, the format's audio hash (the
    samples as a WAV's data chunk holds them, whatever the container), so that a rendered
    file reports its render's hash; for other subtypes, the SHA-256 of the file's bytes."""
    import soundfile as sf

    from .writer import hash_block

    h = hashlib.sha256()
    info = sf.info(os.fspath(path))
    dtype = _HASHED_AS_RENDERS.get(info.subtype)
    if dtype is None:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        return h.hexdigest(), f"file sha256 ({info.subtype} samples)"
    with sf.SoundFile(os.fspath(path)) as f:
        for block in f.blocks(blocksize=1 << 16, dtype=dtype, always_2d=True):
            hash_block(h, block)
    return h.hexdigest(), "audio sha256 (the file's samples)"


def report(
    target: str | os.PathLike[str] | Mix,
    *,
    out: str | os.PathLike[str] | None = None,
    references: Sequence[str | os.PathLike[str]] = (),
    translate: bool = False,
    threads: int | None = None,
) -> Report:
    """Writes the report of a mix (a `.toml` path or a loaded `Mix`: rendered once into the
    folder) or of a rendered audio file (copied into the folder) to `OUT/index.html` (default
    OUT: `<name>.report/` beside it), with its plots, `report.json`, the loudness-matched
    references and, with `translate`, the translation previews. Returns the figures. Raises
    MixError for a mix, source or render problem, an unreadable file, or when matplotlib is
    not installed."""
    import numpy as np
    import soundfile as sf

    from .analyze import analyze_file
    from .compare import compare, measure_file
    from .mix import Mix, load

    _matplotlib()
    if isinstance(references, (str, os.PathLike)):
        references = [references]
    refs = [Path(p) for p in references]
    mix: Mix | None
    if isinstance(target, Mix):
        mix = target
        src = target.path
    else:
        src = Path(target)
        mix = load(src) if src.suffix.lower() == ".toml" else None
    folder = Path(out) if out is not None else src.with_name(f"{src.stem}.report")
    name = src.stem
    inputs = [("mix" if mix is not None else "file reported", src)]
    inputs += [(f"reference {p}", p) for p in refs]
    if mix is not None:
        inputs += [
            (f"source of {t.label}", t.source_path) for t in mix.file.tracks if t.source_path
        ]
    matched = [folder / f"reference{i + 1}.{p.stem}.matched.wav" for i, p in enumerate(refs)]
    audio_file = folder / (f"{name}.wav" if mix is not None else f"{name}{src.suffix.lower()}")
    fixed = [folder / "index.html", folder / "report.json", *(folder / n for _, n, _, _ in PLOTS)]
    check_outputs(inputs, [("report's " + p.name, p) for p in [*fixed, *matched, audio_file]])
    for p in refs if mix is not None else [src, *refs]:
        _probe(p)  # before the render: an unreadable file fails at once
    folder.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []

    staging = None
    tempo: float | None = None
    meter = (4, 4)
    if mix is not None:
        rep = mix.render(audio_file, threads=threads, lock=False)
        meters = rep.to_dict()
        headline = {k: meters.get(k) for k in _HEADLINE_METERS}
        headline["clipped_samples"] = rep.clipped_samples
        headline["audio_sha256"] = rep.audio_sha256
        headline["hash_kind"] = "audio sha256 (the render's samples)"
        tempo = mix.file.session.tempo_bpm
        meter = mix.file.session.meter
        if mix.sources:
            notes.append("gain staging left out: the mix has in-memory sources")
        else:
            from .staging import gain_staging

            staging = gain_staging(mix.file, threads=threads)
    else:
        figures = analyze_file(src)
        if figures["channels"] > 2:
            raise MixError(
                f"{src}: has {figures['channels']} channels; report takes mono or stereo"
            )
        if audio_file.resolve() != src.resolve():
            shutil.copyfile(src, audio_file)
        headline = {k: figures.get(k) for k in _HEADLINE_METERS}
        headline["audio_sha256"], headline["hash_kind"] = _audio_sha256(src)
    tp, il = headline.get("true_peak_dbtp"), headline.get("integrated_lufs")
    headline["plr_db"] = None if tp is None or il is None else tp - il

    if refs:
        comparison: Comparison | None = compare(audio_file, refs, threads=threads)
        assert comparison is not None
        spectrum = comparison.mix
        for i, (p, dest) in enumerate(zip(refs, matched, strict=True)):
            data, ref_rate = _read(p)
            gain = float(comparison.loudness_difference_by_reference_db[i])
            sf.write(os.fspath(dest), (data * 10 ** (gain / 20)).astype(np.float32), ref_rate,
                     subtype="FLOAT")  # fmt: skip
    else:
        comparison = None
        spectrum = measure_file(audio_file)

    translation = None
    if translate:
        from .translate import translate as run_translate

        translation = run_translate(mix if mix is not None else src, out=folder, threads=threads)

    # The master is read whole once the other steps (translate's render) are done.
    audio, rate = _read(audio_file)
    if mix is None:
        # A file cannot tell what was clipped: its samples at full scale.
        headline["clipped_samples"] = int(np.count_nonzero(np.abs(audio) >= 1.0))
    wt, wmin, wmax = waveform_overview(audio, rate)
    lt, mom, short = loudness_series(audio, rate)
    st, corr, width = stereo_series(audio, rate)
    marks, every = time_marks(len(audio) / rate, tempo, meter)

    players = [("the mix", audio_file.name)]
    if translation is not None:
        players += [(f"on {s.name} (matched)", Path(s.preview).name) for s in translation.systems]
    players += [
        (f"reference {Path(p).name} (matched)", d.name) for p, d in zip(refs, matched, strict=True)
    ]

    r = Report(
        source=str(src),
        kind="mix" if mix is not None else "file",
        output_dir=str(folder),
        audio_file=str(audio_file),
        sample_rate=rate,
        frames=len(audio),
        headline=_plain(headline),
        waveform_times_s=wt,
        waveform_min=wmin,
        waveform_max=wmax,
        loudness_times_s=lt,
        momentary_lufs=mom,
        short_term_lufs=short,
        stereo_times_s=st,
        correlation=corr,
        width_db=width,
        marks_s=marks,
        marks_every=every,
        spectrum=spectrum,
        comparison=comparison,
        staging=staging,
        translation=translation,
        players=tuple(players),
        notes=tuple(notes),
    )
    _plots(r, folder)
    (folder / "report.json").write_text(
        json.dumps(r.to_dict(), indent=2, sort_keys=True, allow_nan=False) + "\n"
    )
    (folder / "index.html").write_text(_page(r), encoding="utf-8")
    return r


_HEADLINE_METERS = (
    "integrated_lufs",
    "loudness_range_lu",
    "true_peak_dbtp",
    "sample_peak_dbfs",
    "max_momentary_lufs",
    "max_short_term_lufs",
    "rms_dbfs",
    "crest_db",
    "correlation",
)

__all__ = ["PLOTS", "Report", "loudness_series", "report", "stereo_series", "waveform_overview"]
