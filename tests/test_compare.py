"""`compare`: loudness-matched spectrum, regions, tilt and dynamics against references."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import soundfile as sf
from typer.testing import CliRunner

import mixrender
from conftest import MixWriter
from mixrender.analyze import analyze_file
from mixrender.cli import app
from mixrender.compare import (
    THIRD_OCTAVE_EDGES,
    THIRD_OCTAVE_NOMINAL,
    Comparison,
    measure_array,
    measure_file,
)

runner = CliRunner()
RATE = 48000
SECONDS = 5.0

MIX = """
format = "mixrender/1"
[session]
sample_rate = 48000
[render]
bit_depth = 32
[[track]]
name = "T"
source = "s.wav"
"""


def white(seconds: float = SECONDS, channels: int = 2, seed: int = 3) -> npt.NDArray[np.float64]:
    rng = np.random.default_rng(seed)
    return 0.1 * rng.standard_normal((round(seconds * RATE), channels))


def shaped(x: npt.NDArray[np.float64], gain_db: object) -> npt.NDArray[np.float64]:
    """`x` (frames, channels) with its spectrum's amplitude scaled by `gain_db(hz)` (dB), in
    the FFT domain (circular, zero phase)."""
    spectrum = np.fft.rfft(x, axis=0)
    hz = np.fft.rfftfreq(len(x), 1.0 / RATE)
    gain = 10.0 ** (np.asarray(gain_db(hz)) / 20.0)  # type: ignore[operator]
    return np.fft.irfft(spectrum * gain[:, None], n=len(x), axis=0)


def rbj_bell(f0: float, gain_db: float, q: float) -> tuple[list[float], list[float]]:
    """The RBJ Audio EQ Cookbook peaking filter, normalised (b, a)."""
    a_lin = 10.0 ** (gain_db / 40.0)
    w0 = 2.0 * math.pi * f0 / RATE
    alpha = math.sin(w0) / (2.0 * q)
    b = [1.0 + alpha * a_lin, -2.0 * math.cos(w0), 1.0 - alpha * a_lin]
    a = [1.0 + alpha / a_lin, -2.0 * math.cos(w0), 1.0 - alpha / a_lin]
    return [v / a[0] for v in b], [1.0, a[1] / a[0], a[2] / a[0]]


def biquad(x: npt.NDArray[np.float64], b: list[float], a: list[float]) -> npt.NDArray[np.float64]:
    y = np.empty_like(x)
    for c in range(x.shape[1]):
        col = x[:, c].tolist()
        out = [0.0] * len(col)
        x1 = x2 = y1 = y2 = 0.0
        for i, v in enumerate(col):
            o = b[0] * v + b[1] * x1 + b[2] * x2 - a[1] * y1 - a[2] * y2
            x2, x1, y2, y1 = x1, v, y1, o
            out[i] = o
        y[:, c] = out
    return y


def power_response_db(
    b: list[float], a: list[float], hz: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    z = np.exp(-1j * 2.0 * np.pi * hz / RATE)
    h = (b[0] + b[1] * z + b[2] * z**2) / (a[0] + a[1] * z + a[2] * z**2)
    return np.asarray(np.abs(h) ** 2)


def write(path: Path, x: npt.NDArray[np.float64], rate: int = RATE, subtype: str = "FLOAT") -> Path:
    sf.write(str(path), x, rate, subtype=subtype)
    return path


def band_index(hz: float) -> int:
    return THIRD_OCTAVE_NOMINAL.index(hz)


def test_white_noise_reads_its_analytic_band_levels(tmp_path: Path) -> None:
    # Independent of any comparison: white noise of variance s^2 has the one-sided density
    # 2 s^2 / fs, so a band of width B holds 2 s^2 B / fs.
    x = white(channels=1)
    s = measure_file(write(tmp_path / "w.wav", x))
    var = float(np.mean(x**2))
    edges = np.asarray(THIRD_OCTAVE_EDGES)
    expected = 10 * np.log10(2 * var * (edges[:, 1] - edges[:, 0]) / RATE)
    wide = np.asarray(THIRD_OCTAVE_NOMINAL) >= 200
    error = s.band_levels_db[wide] - expected[wide]
    assert abs(np.mean(error)) < 0.05  # no bias
    assert np.max(np.abs(error)) < 0.6  # a 5 s estimate's spread in a narrow band
    assert abs(s.tilt_db_per_octave - 10 * math.log10(2)) < 0.1  # +3 dB per octave
    # The meters are the engine's, as `analyze` reads them.
    a = analyze_file(tmp_path / "w.wav")
    assert s.meters == a
    assert s.plr_db == pytest.approx(a["true_peak_dbtp"] - a["integrated_lufs"])
    assert s.psr_db == pytest.approx(a["true_peak_dbtp"] - a["max_short_term_lufs"])


def test_the_mix_against_itself_and_a_copy_6_db_quieter_reports_no_flag(
    write_mix: MixWriter, tmp_path: Path
) -> None:
    mix = write_mix(MIX, s__wav=(white(), RATE))
    rendered = tmp_path / "mix.wav"
    mixrender.load(mix).render(rendered, lock=False)
    audio, rate = sf.read(str(rendered))
    quieter = write(tmp_path / "quieter.wav", audio * 10 ** (-6 / 20), rate, "PCM_24")

    itself = mixrender.compare(rendered, [rendered])
    assert itself.flags == ()
    assert np.all(itself.delta_db == 0.0) and itself.loudness_difference_db == 0.0

    c = mixrender.compare(mix, [rendered, quieter])  # the mix file, rendered in memory
    assert isinstance(c, Comparison)
    assert c.flags == ()
    assert c.loudness_difference_by_reference_db == pytest.approx([0.0, 6.0], abs=0.01)
    assert np.max(np.abs(c.delta_by_reference_db)) < 0.01
    assert abs(c.tilt_delta_db_per_octave) < 0.01
    assert all(abs(r.relative_db) < 0.01 for r in c.regions)
    # A loaded mix (in-memory sources) renders the same.
    loaded = mixrender.load(mix, sources={"s.wav": (white(), RATE)})
    same = mixrender.compare(loaded, [rendered])
    assert same.flags == () and np.max(np.abs(same.delta_db)) < 0.01
    # The same rule, by itself, against the quieter copy.
    alone = mixrender.compare(mix, [quieter])
    assert alone.flags == () and alone.loudness_difference_db == pytest.approx(6.0, abs=0.01)


def test_a_bell_at_3150_hz_is_flagged_in_the_presence_and_reads_its_band_averages(
    tmp_path: Path,
) -> None:
    x = white(channels=1)
    b, a = rbj_bell(3150.0, 6.0, 1.0)
    ref = write(tmp_path / "ref.wav", x)
    bell = write(tmp_path / "bell.wav", biquad(x, b, a))
    c = mixrender.compare(bell, [ref])

    # The bell's analytic third-octave averages: its power response averaged over each band
    # (white noise has the same density everywhere), in dB, taken relative to their median
    # over all the bands as `relative_db` is.
    averages = np.array(
        [
            10 * np.log10(np.mean(power_response_db(b, a, np.linspace(lo, hi, 4001))))
            for lo, hi in THIRD_OCTAVE_EDGES
        ]
    )
    expected = averages - np.median(averages)
    for hz in (1600.0, 2000.0, 2500.0, 3150.0, 4000.0, 5000.0, 6300.0):
        i = band_index(hz)
        assert abs(c.relative_db[i] - expected[i]) <= 0.5, (hz, c.relative_db[i], expected[i])
    assert expected[band_index(3150.0)] > 5.0  # the test's own premise

    presence = next(r for r in c.regions if r.name == "presence")
    assert presence.relative_db >= 3.0
    said = [f for f in c.flags if "presence 2.5-4 kHz: +" in f]
    assert len(said) == 1 and "against the reference (a build-up" in said[0], c.flags
    assert not any(word in f for f in c.flags for word in ("sub ", "bass ", "low mids", "air "))


def test_a_copy_tilted_by_1_db_per_octave_reads_a_tilt_of_1(tmp_path: Path) -> None:
    def pink(hz: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.where(hz > 0, -10 * np.log10(np.maximum(hz, 1.0) / 1000.0), 0.0)

    base = shaped(white(seed=5), pink)
    base *= 0.1 / np.sqrt(np.mean(base**2))
    tilted = shaped(base, lambda hz: np.log2(np.maximum(hz, 1.0) / 1000.0))
    ref = write(tmp_path / "pink.wav", base)
    mix = write(tmp_path / "tilted.wav", tilted)

    assert abs(measure_file(ref).tilt_db_per_octave) < 0.15  # pink: flat third octaves
    c = mixrender.compare(mix, [ref])
    assert c.tilt_delta_db_per_octave == pytest.approx(1.0, abs=0.1)
    assert any(f.startswith("strong: spectral tilt: +1.0") for f in c.flags), c.flags


def test_a_reference_at_44100_hz_against_a_48000_hz_mix(tmp_path: Path) -> None:
    # One band-limited signal sampled at both rates (FFT resampling of a periodic signal).
    x = shaped(white(seed=7), lambda hz: np.where(hz < 19000.0, 0.0, -400.0))
    spectrum = np.fft.rfft(x, axis=0)
    frames = round(len(x) * 44100 / RATE)
    y = np.fft.irfft(spectrum[: frames // 2 + 1], n=frames, axis=0) * (frames / len(x))
    mix = write(tmp_path / "mix.wav", x)
    ref = write(tmp_path / "ref.wav", y, 44100, "PCM_24")

    c = mixrender.compare(mix, [ref])
    assert c.references[0].sample_rate == 44100
    assert c.flags == ()
    assert abs(c.loudness_difference_db) < 0.1
    data = c.to_dict()
    assert [b["center_hz"] for b in data["bands"]] == list(THIRD_OCTAVE_NOMINAL[:-1])
    assert data["absent_bands_hz"] == [20000.0]
    assert any("20 kHz" in n and "22050 Hz" in n for n in c.notes), c.notes
    tested = (np.asarray(THIRD_OCTAVE_NOMINAL) >= 100) & (np.asarray(THIRD_OCTAVE_NOMINAL) <= 16000)
    assert np.max(np.abs(c.delta_db[tested])) < 0.3


def test_several_references_flag_against_their_range_not_their_mean(tmp_path: Path) -> None:
    x = white(channels=1)
    b, a = rbj_bell(3150.0, 12.0, 1.0)
    plain = write(tmp_path / "plain.wav", x)
    boosted = write(tmp_path / "boosted.wav", biquad(x, b, a))
    # Against the boosted copy alone, the mix lacks presence.
    alone = mixrender.compare(plain, [boosted])
    assert any(f.startswith("strong: presence 2.5-4 kHz: -") for f in alone.flags), alone.flags
    # Against both, the mix lies within their range: no flag, though the mean of the two
    # deltas sits some 5 dB below.
    both = mixrender.compare(plain, [plain, boosted])
    presence = next(r for r in both.regions if r.name == "presence")
    assert presence.relative_by_reference_db[1] <= -9.0
    assert np.mean(presence.relative_by_reference_db) <= -4.5
    assert presence.relative_db == 0.0
    assert both.flags == ()


def test_width_per_octave_band_is_side_over_mid() -> None:
    x = white(channels=1)[:, 0]
    correlated = measure_array(np.stack([x, 0.5 * x], axis=1), RATE)
    # mid 0.75 x, side 0.25 x: 20 log10(1/3) in every band.
    assert np.allclose(correlated.width_db, 20 * math.log10(1 / 3), atol=1e-6)
    independent = measure_array(white(seed=9), RATE)
    assert np.max(np.abs(independent.width_db[2:])) < 0.5  # equal mid and side (noisy below)
    assert np.all(np.isnan(measure_array(x, RATE).width_db))  # mono: no side at all


def test_compare_json_keys_and_the_text_summary(write_mix: MixWriter, tmp_path: Path) -> None:
    mix = write_mix(MIX, s__wav=(white(), RATE))
    x = white()
    b, a = rbj_bell(3150.0, 6.0, 1.0)
    ref = write(tmp_path / "ref.wav", biquad(x, b, a))
    result = runner.invoke(app, ["compare", str(mix), "--reference", str(ref), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    for key in ("loudness_difference_db", "bands", "regions", "tilt_delta_db_per_octave", "flags"):
        assert key in data
    assert len(data["bands"]) == 30
    assert all({"center_hz", "delta_db", "relative_db"} <= set(b) for b in data["bands"])
    assert {r["name"] for r in data["regions"]} >= {"presence", "sub", "bass", "air"}
    assert all({"name", "delta_db", "relative_db"} <= set(r) for r in data["regions"])
    # The reference has the presence build-up: the mix lacks it.
    assert any("presence 2.5-4 kHz: -" in f for f in data["flags"]), data["flags"]
    mix_fig = data["mix"]
    assert mix_fig["plr_db"] == pytest.approx(
        mix_fig["true_peak_dbtp"] - mix_fig["integrated_lufs"]
    )

    text = runner.invoke(app, ["compare", str(mix), "--reference", str(ref)])
    assert text.exit_code == 0, text.output
    assert "presence 2.5-4 kHz" in text.output and "flag:" in text.output


def test_bad_references_are_one_line_errors(tmp_path: Path) -> None:
    mix = write(tmp_path / "mix.wav", white())
    six = write(tmp_path / "six.wav", np.zeros((RATE, 6)) + 0.01)
    silent = write(tmp_path / "silent.wav", np.zeros((RATE * 2, 2)))
    text = tmp_path / "notes.wav"
    text.write_text("not audio\n")
    cases = ((six, "6 channels"), (silent, "no integrated loudness"), (text, "cannot be read"))
    for ref, words in cases:
        result = runner.invoke(app, ["compare", str(mix), "--reference", str(ref)])
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output and words in result.output
        assert len(result.output.strip().splitlines()) == 1, result.output
    missing = runner.invoke(app, ["compare", str(mix)])
    assert missing.exit_code == 2


def test_compare_is_deterministic_and_independent_of_the_block_size(tmp_path: Path) -> None:
    path = write(tmp_path / "n.wav", white(seed=11))
    a = measure_file(path)
    b = measure_file(path, block_size=1000)
    assert np.allclose(a.band_levels_db, b.band_levels_db, rtol=0, atol=1e-9)
    assert a.meters == b.meters
    one = mixrender.compare(path, [path]).to_dict()
    two = mixrender.compare(path, [path]).to_dict()
    assert json.dumps(one) == json.dumps(two)
