"""report: the offline page of a mix (issue 18), in a real browser (Debian's headless Chromium),
with its figures checked against independent computations and the engine's own meter."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import soundfile as sf
from typer.testing import CliRunner

import mixrender
from conftest import MixWriter
from mixrender.analyze import analyze_file
from mixrender.cli import app
from mixrender.report import PLOTS, loudness_series, stereo_series, time_marks

RATE = 48000
SECONDS = 4.0

MIX = """
format = "mixrender/1"
[session]
sample_rate = 48000
[render]
bit_depth = 24
[[track]]
name = "Bass"
source = "bass.wav"
gain_db = -3.0
[[track]]
name = "Pad"
source = "pad.wav"
"""


def _pad(seconds: float, rho: float, seed: int = 3) -> npt.NDArray[np.float64]:
    """Stereo noise whose channels correlate by `rho`."""
    rng = np.random.default_rng(seed)
    a, b = 0.08 * rng.standard_normal((2, round(seconds * RATE)))
    return np.stack([a, rho * a + np.sqrt(1 - rho * rho) * b], axis=1)


def _bass(seconds: float) -> npt.NDArray[np.float64]:
    t = np.arange(round(seconds * RATE)) / RATE
    return 0.3 * np.sin(2 * np.pi * 55.0 * t)


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, mixrender.Report]:
    """One report for the module's tests (a render, a comparison, seven previews)."""
    folder = tmp_path_factory.mktemp("report")
    sf.write(folder / "bass.wav", _bass(SECONDS), RATE, subtype="PCM_24")
    sf.write(folder / "pad.wav", _pad(SECONDS, 0.5), RATE, subtype="PCM_24")
    mix = folder / "mix.toml"
    mix.write_text(MIX.lstrip())
    # A reference at another rate and level, with a different balance.
    rng = np.random.default_rng(7)
    ref = folder / "ref.wav"
    sf.write(ref, 0.05 * rng.standard_normal((round(3.0 * 44100), 2)), 44100, subtype="PCM_16")
    out = folder / "page"
    return mix, out, mixrender.report(mix, out=out, references=[ref], translate=True)


def test_the_headline_is_the_render_and_the_engine_meter(
    made: tuple[Path, Path, mixrender.Report], tmp_path: Path
) -> None:
    mix, out, rep = made
    data = json.loads((out / "report.json").read_text())
    again = mixrender.load(mix).render(tmp_path / "again.wav", lock=False)
    head = data["headline"]
    assert head["audio_sha256"] == again.audio_sha256
    assert head["clipped_samples"] == again.clipped_samples == 0
    meters = analyze_file(out / "mix.wav")
    for key in ("integrated_lufs", "loudness_range_lu", "true_peak_dbtp"):
        # The render meters its output before the 24-bit dither; the file has it.
        assert head[key] == pytest.approx(meters[key], abs=1e-3), key
    assert head["plr_db"] == pytest.approx(head["true_peak_dbtp"] - head["integrated_lufs"])
    assert head["plr_db"] == pytest.approx(
        meters["true_peak_dbtp"] - meters["integrated_lufs"], abs=1e-3
    )
    # The page shows them.
    page = (out / "index.html").read_text()
    assert f"{meters['integrated_lufs']:.1f} LUFS" in page
    assert again.audio_sha256 in page
    # The gain-staging table and the translation table are there, with their figures.
    assert data["staging"]["strips"][0]["name"] == "Bass"
    assert [s["name"] for s in data["translation"]["systems"]][:2] == ["mono", "earbuds"]
    assert 'id="staging"' in page and 'id="translation"' in page
    assert rep.translation is not None
    phone = next(s for s in rep.translation.systems if s.name == "phone")
    bass = next(st for st in phone.stems if st.name == "Bass")
    assert bass.relative_db is not None and bass.relative_db < -20
    assert f"{bass.relative_db:.1f}" in page


def test_the_series_against_independent_figures(made: tuple[Path, Path, mixrender.Report]) -> None:
    _, out, rep = made
    audio, _ = sf.read(out / "mix.wav", always_2d=True)
    # Waveform: every column's min and max are those of its frames.
    edges = (np.arange(len(rep.waveform_times_s) + 1) * len(audio)) // len(rep.waveform_times_s)
    for c in (0, 17, len(edges) - 2):
        chunk = audio[edges[c] : edges[c + 1]]
        np.testing.assert_allclose(rep.waveform_min[c], chunk.min(axis=0), atol=1e-7)
        np.testing.assert_allclose(rep.waveform_max[c], chunk.max(axis=0), atol=1e-7)
    # Loudness over time: steady signals, so the curves' maxima sit on the meter's maxima
    # (taken at a 10 ms hop, these at 100 ms), and the momentary curve on the short-term
    # level while the sources play.
    meters = analyze_file(out / "mix.wav")
    short = rep.short_term_lufs[np.isfinite(rep.short_term_lufs)]
    assert len(short) > 5
    assert float(np.max(short)) == pytest.approx(meters["max_short_term_lufs"], abs=0.2)
    mom = rep.momentary_lufs[np.isfinite(rep.momentary_lufs)]
    assert float(np.max(mom)) == pytest.approx(meters["max_momentary_lufs"], abs=0.3)
    playing = (rep.loudness_times_s > 0.4) & (rep.loudness_times_s < SECONDS)
    assert np.all(np.abs(rep.momentary_lufs[playing] - meters["max_short_term_lufs"]) < 0.6)
    # Stereo: steady sources, so every window while they play reads the engine meter's
    # correlation of the whole file (its own estimator), and the width follows from it:
    # S/M = (1 - rho) / (1 + rho) for channels of equal energy.
    corr = rep.correlation[rep.stereo_times_s < SECONDS - 0.5]
    assert len(corr) == 7
    np.testing.assert_allclose(corr, meters["correlation"], atol=0.02)
    left, right = audio[: int(SECONDS * RATE)].T
    assert np.mean(left**2) == pytest.approx(np.mean(right**2), rel=0.02)
    rho = meters["correlation"]
    width = rep.width_db[rep.stereo_times_s < SECONDS - 0.5]
    np.testing.assert_allclose(width, 10 * np.log10((1 - rho) / (1 + rho)), atol=0.4)


def test_series_of_known_signals() -> None:
    # A -20 dBFS full-scale-referenced 1 kHz sine in both channels: K-weighting adds
    # +0.69 dB at 1 kHz, so BS.1770 reads -20 - 3.01 + 3.01 (two channels) + 0.69 - 0.691.
    t = np.arange(5 * RATE) / RATE
    x = 0.1 * np.sin(2 * np.pi * 1000.0 * t)
    times, mom, short = loudness_series(np.stack([x, x], axis=1), RATE)
    assert times[0] == pytest.approx(0.1)
    assert np.all(np.isnan(mom[:3])) and np.all(np.isnan(short[:29]))
    expected = -20.0 + 0.691 - 0.691
    np.testing.assert_allclose(mom[5:-2], expected, atol=0.05)
    np.testing.assert_allclose(short[29:-2], expected, atol=0.05)
    # Anti-phase, then identical, then one channel silent.
    n = RATE
    left = np.concatenate([x[:n], x[:n], x[:n]])
    right = np.concatenate([-x[:n], x[:n], np.zeros(n)])
    _, corr, width = stereo_series(np.stack([left, right], axis=1), RATE, 1.0)
    np.testing.assert_allclose(corr, [-1.0, 1.0, 0.0], atol=1e-9)
    assert np.isnan(width[0]) and width[1] < -200 and width[2] == pytest.approx(0.0, abs=1e-9)


def test_marks_every_ten_seconds_or_eight_bars() -> None:
    marks, every = time_marks(35.0, None, (4, 4))
    assert every == "10 s" and list(marks) == [10.0, 20.0, 30.0]
    marks, every = time_marks(40.0, 120.0, (4, 4))  # a bar is 2 s
    assert every == "8 bars" and list(marks) == [16.0, 32.0]
    marks, _ = time_marks(40.0, 120.0, (6, 8))  # six beats of 0.5 s
    assert list(marks) == [24.0]


def test_references_are_written_loudness_matched(made: tuple[Path, Path, mixrender.Report]) -> None:
    _, out, rep = made
    assert rep.comparison is not None
    mix_lufs = analyze_file(out / "mix.wav")["integrated_lufs"]
    matched = out / "reference1.ref.matched.wav"
    assert analyze_file(matched)["integrated_lufs"] == pytest.approx(mix_lufs, abs=0.05)
    assert sf.info(str(matched)).samplerate == 44100


def test_the_page_is_deterministic(write_mix: MixWriter, tmp_path: Path) -> None:
    mix = write_mix(
        MIX,
        bass__wav=(_bass(2.0), RATE, "PCM_24"),
        pad__wav=(_pad(2.0, 0.0), RATE, "PCM_24"),
    )
    out = tmp_path / "r"
    mixrender.report(mix, out=out)
    first = {p.name: p.read_bytes() for p in sorted(out.iterdir())}
    shutil.rmtree(out)
    mixrender.report(mix, out=out)
    second = {p.name: p.read_bytes() for p in sorted(out.iterdir())}
    assert first == second
    svg = first["loudness.svg"].decode()
    assert "<dc:date>" not in svg and "<text" in svg  # no date; text kept as text


def test_a_file_gets_a_page_and_the_cli_says_where(tmp_path: Path) -> None:
    f = tmp_path / "song.wav"
    sf.write(f, np.clip(_pad(2.0, 0.9) * 14, -1, 1), RATE, subtype="PCM_16")
    result = CliRunner().invoke(app, ["report", str(f), "-o", str(tmp_path / "p")])
    assert result.exit_code == 0, result.output
    assert "index.html" in result.output
    data = json.loads((tmp_path / "p" / "report.json").read_text())
    assert data["kind"] == "file" and data["staging"] is None
    audio, _ = sf.read(f)
    assert data["headline"]["clipped_samples"] == int(np.count_nonzero(np.abs(audio) >= 1.0)) > 0
    assert (tmp_path / "p" / "song.wav").read_bytes() == f.read_bytes()


def test_a_rendered_file_reports_its_render_hash(
    made: tuple[Path, Path, mixrender.Report], tmp_path: Path
) -> None:
    _, out, rep = made
    # The mix's render (24 bit) as a file, and as FLAC: the samples' hash, not the file's.
    flac = tmp_path / "mix.flac"
    audio, rate = sf.read(out / "mix.wav", dtype="int32")
    sf.write(flac, audio, rate, subtype="PCM_24")
    for f in (out / "mix.wav", flac):
        page = mixrender.report(f, out=tmp_path / f.suffix[1:])
        assert page.headline["audio_sha256"] == rep.headline["audio_sha256"], f


def test_a_missing_plotting_library_is_one_line(write_mix: MixWriter, tmp_path: Path) -> None:
    mix = write_mix(MIX, bass__wav=(_bass(1.0), RATE), pad__wav=(_pad(1.0, 0.0), RATE))
    script = (
        "import sys\n"
        "sys.modules['matplotlib'] = None\n"
        "from mixrender.cli import app\n"
        "app(['report', sys.argv[1], '-o', sys.argv[2]])\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script, str(mix), str(tmp_path / "p")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [
        "error: report needs matplotlib, which is not installed: pip install 'mixrender[report]'"
    ]
    assert not (tmp_path / "p").exists()


def test_render_does_not_import_matplotlib(write_mix: MixWriter, tmp_path: Path) -> None:
    mix = write_mix(MIX, bass__wav=(_bass(1.0), RATE), pad__wav=(_pad(1.0, 0.0), RATE))
    script = (
        "import runpy, sys\n"
        "sys.argv = ['mixrender', 'render', sys.argv[1], '-o', sys.argv[2]]\n"
        "try:\n"
        "    runpy.run_module('mixrender', run_name='__main__')\n"
        "except SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'PIL')))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script, str(mix), str(tmp_path / "out.wav")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines()[-1] == "[]"


# --- in the browser ---------------------------------------------------------------------------

#: Appended to a copy of the page: after load, every plot's box and image size, and each
#: audio element's source and whether it decodes (its duration, or its error), in a <pre>.
PROBE = """
<script>
window.addEventListener('load', () => {
  const out = {plots: [], audio: []};
  for (const fig of document.querySelectorAll('figure.plot')) {
    const img = fig.querySelector('img');
    const r = img.getBoundingClientRect();
    out.plots.push({id: fig.id, x: r.x, y: r.y, w: r.width, h: r.height,
                    natural: img.naturalWidth, complete: img.complete});
  }
  const els = [...document.querySelectorAll('audio')];
  let left = els.length;
  const finish = () => {
    const pre = document.createElement('pre');
    pre.id = 'probe';
    pre.textContent = JSON.stringify(out);
    document.body.appendChild(pre);
  };
  if (!left) finish();
  els.forEach((el, i) => {
    const row = {src: el.getAttribute('src'), url: el.src};
    out.audio.push(row);
    const settle = (what) => { row.state = what; if (--left === 0) finish(); };
    el.addEventListener('loadedmetadata', () => settle(el.duration));
    el.addEventListener('error', () => settle('error ' + (el.error && el.error.code)));
    el.preload = 'metadata';
    el.load();
  });
});
</script>
"""


def _chromium() -> str:
    exe = shutil.which("chromium")
    assert exe is not None, "the page is tested in Chromium: apt-get install chromium (.ci/run)"
    return exe


def _browse(page: Path, *args: str) -> tuple[str, list[str]]:
    """Chromium headless on `page`: (stdout, console messages it logged). Each run has its
    own profile, so that it never joins a Chromium already running with the default one."""
    profile = page.parent.parent / f"profile-{page.stem}"
    run = subprocess.run(
        [
            _chromium(),
            f"--user-data-dir={profile}",
            "--headless=new",
            "--disable-gpu",
            "--no-sandbox",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1200,4000",
            "--hide-scrollbars",
            *args,
            page.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, f"chromium exited {run.returncode}: {run.stderr[-2000:]}"
    console = [line for line in run.stderr.splitlines() if ":CONSOLE" in line]
    return run.stdout, console


def test_the_page_in_a_browser(made: tuple[Path, Path, mixrender.Report]) -> None:
    from PIL import Image

    _, out, rep = made
    page = out / "index.html"
    html = page.read_text()
    # Offline: nothing is fetched from elsewhere.
    assert not re.search(r"(?:src|href)=\"(?:https?:)?//", html)
    shot = out.parent / "shot.png"
    _, console = _browse(page, f"--screenshot={shot}")
    assert console == []
    probe_page = out / "probe.html"
    probe_page.write_text(html.replace("</body>", PROBE + "</body>"))
    # The media pipeline loads the audio on real threads, outside the virtual clock: on a busy
    # machine the probe may not have written its answer when the budget runs out, so the
    # browser is given more time, up to three tries; a page that never answers still fails.
    for budget in (20000, 60000, 120000):
        dom, console = _browse(probe_page, f"--virtual-time-budget={budget}", "--dump-dom")
        assert console == []
        match = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
        if match is not None:
            break
    assert match is not None, dom[-2000:]
    probe: dict[str, Any] = json.loads(match.group(1).replace("&quot;", '"'))

    # Every audio element points at a file of the folder, which the browser decodes.
    expected = ["mix.wav", *(Path(s.preview).name for s in rep.translation.systems)]  # type: ignore[union-attr]
    expected.append("reference1.ref.matched.wav")
    assert [a["src"] for a in probe["audio"]] == expected
    for a in probe["audio"]:
        assert (out / a["src"]).is_file()
        assert isinstance(a["state"], (int, float)) and a["state"] > 1.0, a

    # Every plot is laid out where the page puts it, and its pixels are drawn: coloured
    # (data) pixels inside its box, none of the page's white there alone.
    assert [p["id"] for p in probe["plots"]] == [f"plot-{pid}" for pid, _, _, _ in PLOTS]
    img = np.asarray(Image.open(shot).convert("RGB")).astype(np.int16)
    for p in probe["plots"]:
        assert p["complete"] and p["natural"] > 0, p
        x0, y0 = round(p["x"]), round(p["y"])
        x1, y1 = x0 + round(p["w"]), y0 + round(p["h"])
        assert 0 <= x0 < x1 <= img.shape[1] and 0 <= y0 < y1 <= img.shape[0], p
        box = img[y0:y1, x0:x1]
        inked = np.mean(np.any(box < 200, axis=2))
        coloured = np.mean((box.max(axis=2) - box.min(axis=2)) > 60)
        assert inked > 0.01, (p["id"], inked)
        assert coloured > 0.002, (p["id"], coloured)
    # Between the plots the page is white: the boxes are where the pixels are.
    first = probe["plots"][0]
    y = round(first["y"])
    assert np.all(img[y - 5 : y - 1, round(first["x"]) : round(first["x"] + first["w"])] > 240)


def test_a_bad_reference_is_one_line_before_anything_is_written(
    write_mix: MixWriter, tmp_path: Path
) -> None:
    mix = write_mix(MIX, bass__wav=(_bass(1.0), RATE), pad__wav=(_pad(1.0, 0.0), RATE))
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"not audio")
    six = tmp_path / "six.wav"
    sf.write(six, np.zeros((4800, 6)), RATE)
    for ref, words in ((junk, "cannot be read as audio"), (six, "has 6 channels")):
        result = CliRunner().invoke(
            app, ["report", str(mix), "-o", str(tmp_path / "p"), "--reference", str(ref)]
        )
        assert result.exit_code == 1
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: {ref}: {words}"), lines
        assert not (tmp_path / "p").exists()
        assert not (tmp_path / "mix.lock").exists()
