"""Meters in the render pass, the JSON report, analyze, loudness normalisation and init."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

import mixrender
from conftest import SHARED, MixWriter, noise, tone
from mixrender.analyze import analyze_file
from mixrender.cli import app

runner = CliRunner()

MIX = """
format = "mixrender/1"
[session]
sample_rate = 48000
tail_s = 0.0
[render]
bit_depth = 24
{render}
[[track]]
name = "Noise"
source = "n.wav"
gain_db = {gain}
{inserts}
"""

REPORT_KEYS = {
    "mix", "output", "frames", "sample_rate", "audio_sha256", "sample_peak_dbfs",
    "true_peak_dbtp", "integrated_lufs", "loudness_range_lu", "max_momentary_lufs",
    "max_short_term_lufs", "rms_dbfs", "crest_db", "correlation", "dc_offset",
    "octave_bands_db", "clipped_samples",
}  # fmt: skip


def mix_text(render: str = "", gain: float = -6.0, inserts: str = "") -> str:
    return MIX.format(render=render, gain=gain, inserts=inserts)


def test_the_summary_and_the_json_report_carry_the_meters(
    write_mix: MixWriter, tmp_path: Path
) -> None:
    mix = write_mix(mix_text(), n__wav=(noise(4.0, channels=2), 48000, "FLOAT"))
    result = runner.invoke(app, ["render", str(mix), "--report", str(tmp_path / "r.json")])
    assert result.exit_code == 0, result.output
    assert "LUFS integrated" in result.output and "dBTP true" in result.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert set(report) >= REPORT_KEYS
    assert report["mix"].endswith("mix.toml") and len(report["audio_sha256"]) == 64
    # The same pass, the same figures as metering the written file afterwards.
    again = analyze_file(tmp_path / "mix.wav")
    assert report["integrated_lufs"] == pytest.approx(again["integrated_lufs"], abs=0.01)
    assert report["true_peak_dbtp"] == pytest.approx(again["true_peak_dbtp"], abs=0.01)


def test_analyze_a_file_prints_the_report_keys_as_json(
    write_mix: MixWriter, tmp_path: Path
) -> None:
    path = tmp_path / "tone.wav"
    sf.write(str(path), np.stack([tone(4.0, freq=997.0, db=-20.0)] * 2, axis=1), 48000)
    result = runner.invoke(app, ["analyze", str(path), "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert set(figures) >= REPORT_KEYS
    assert figures["integrated_lufs"] == pytest.approx(-20.0 + 3.01 - 3.01 + 0.0, abs=0.1)
    human = runner.invoke(app, ["analyze", str(path)])
    assert "integrated" in human.output and "LUFS" in human.output


def test_loudness_normalisation_applies_one_gain(write_mix: MixWriter, tmp_path: Path) -> None:
    render = "loudness_lufs = -20.0\ntrue_peak_ceiling_db = -1.0"
    mix = write_mix(mix_text(render), n__wav=(tone(4.0, freq=440.0, db=-30.0), 48000, "FLOAT"))
    report = mixrender.load(mix).render(tmp_path / "out.wav")
    assert report.integrated_lufs == pytest.approx(-20.0, abs=0.05)
    assert report.loudness_gain_db > 0
    assert report.loudness_gain_at == "master output"
    assert analyze_file(tmp_path / "out.wav")["integrated_lufs"] == pytest.approx(-20.0, abs=0.05)


def test_loudness_normalisation_refuses_to_pass_the_ceiling(
    write_mix: MixWriter, tmp_path: Path
) -> None:
    dense = noise(4.0, channels=2, seed=4)  # about 14 dB from true peak to loudness
    mix = write_mix(mix_text("loudness_lufs = -7.0"), n__wav=(dense, 48000, "FLOAT"))
    with pytest.raises(mixrender.RenderError) as e:
        mixrender.load(mix).render(tmp_path / "out.wav")
    message = str(e.value)
    assert "LUFS" in message and "dBTP" in message and "peak-to-loudness" in message
    assert not (tmp_path / "out.wav").exists()
    # With a limiter on the master, the gain drives it from the master's input.
    limited = write_mix(
        mix_text(
            "loudness_lufs = -9.0",
            inserts='[[master.insert]]\ntype = "limiter"\ntrue_peak = true\nceiling_db = -1.0',
        ),
        name="limited.toml",
    )
    report = mixrender.load(limited).render(tmp_path / "limited.wav")
    assert report.loudness_gain_at == "master input"
    assert report.integrated_lufs == pytest.approx(-9.0, abs=0.1)
    assert report.true_peak_dbtp is not None and report.true_peak_dbtp <= -1.0


def test_analyze_mix_reports_levels_and_warnings(write_mix: MixWriter) -> None:
    n = noise(2.0, channels=2, seed=9)
    text = """
format = "mixrender/1"
[session]
sample_rate = 48000
tail_s = 0.0
[[track]]
name = "Hot"
source = "hot.wav"
clip_gain_db = 12.0
  [[track.insert]]
  type = "compressor"
[[track]]
name = "Quiet"
source = "silent.wav"
[[track]]
name = "Flipped"
source = "flipped.wav"
[[track]]
name = "Offset"
source = "dc.wav"
"""
    mix = write_mix(
        text,
        hot__wav=(n, 48000, "FLOAT"),
        silent__wav=(np.zeros(48000), 48000, "FLOAT"),
        flipped__wav=(np.stack([n[:, 0], -n[:, 0]], axis=1), 48000, "FLOAT"),
        dc__wav=(n[:, 0] * 0.1 + 0.01, 48000, "FLOAT"),
    )
    result = runner.invoke(app, ["analyze", str(mix), "--json"])
    assert result.exit_code == 0, result.output
    staging = json.loads(result.output)
    hot = staging["strips"][0]
    rms = 10 * np.log10(np.mean(n**2))
    assert hot["points"][0]["rms_dbfs"] == pytest.approx(rms, abs=1e-6)
    assert hot["points"][1]["rms_dbfs"] == pytest.approx(rms + 12.0, abs=1e-6)
    warnings = {s["name"]: " ".join(s["warnings"]) for s in staging["strips"]}
    assert "hot into compressor" in warnings["Hot"]
    assert "silent" in warnings["Quiet"]
    assert "negative stereo correlation" in warnings["Flipped"]
    assert "DC offset" in warnings["Offset"]
    assert any("over full scale" in w for w in staging["warnings"])
    table = runner.invoke(app, ["analyze", str(mix)])
    assert "after clip gain" in table.output and "warning:" in table.output


def test_init_then_render_stages_every_track_at_minus_18_or_its_peak_at_minus_3(
    tmp_path: Path,
) -> None:
    corpus = SHARED / "corpus" / "sek_francium"
    if not corpus.exists():
        pytest.skip("the shared corpus is not beside the project")
    mix = tmp_path / "sek.toml"
    result = runner.invoke(app, ["init", str(corpus), "-o", str(mix)])
    assert result.exit_code == 0, result.output
    loaded = mixrender.load(mix)
    assert {t.name for t in loaded.file.tracks} == {"bgvox", "drums", "fx", "synth", "vox lead"}
    assert all(t.gain_db == 0.0 for t in loaded.file.tracks)
    from test_init import gated_level_db

    from mixrender.staging import gain_staging

    staging = gain_staging(loaded.file)
    for track, strip in zip(loaded.file.tracks, staging.strips, strict=True):
        assert strip.points[1].label == "after clip gain"
        peak = strip.points[1].peak_dbfs
        assert peak is not None and peak <= -3.0 + 1e-9, strip.name
        assert track.source is not None
        x, rate = sf.read(str(tmp_path / track.source), dtype="float64")
        active = gated_level_db(x, rate)[0] + track.clip_gain_db
        file = Path(track.source).name
        if f"{file}: clip gain" in result.output:  # held by its peak, said so
            assert active < -18.0 and peak > -3.1, strip.name
        else:
            assert active == pytest.approx(-18.0, abs=0.05), strip.name
    report = loaded.render(tmp_path / "sek.wav")
    assert report.frames == 30 * 48000 + 2 * 48000
    assert report.clipped_samples == 0  # plain RMS over each file clipped 23,318 samples


def test_init_makes_buses_from_subfolders_and_notes_what_differs(tmp_path: Path) -> None:
    stems = tmp_path / "stems"
    (stems / "Drums" / "Cymbals").mkdir(parents=True)
    sf.write(str(stems / "Lead_Vocal.wav"), tone(1.0, db=-20.0), 48000)
    sf.write(str(stems / "Drums" / "Kick-In.wav"), tone(1.0, freq=60.0), 48000)
    sf.write(str(stems / "Drums" / "Cymbals" / "OH.flac"), noise(0.5, 44100, 2), 44100)
    (stems / "notes.txt").write_text("not audio")
    result = runner.invoke(app, ["init", str(stems), "-o", str(tmp_path / "rough.toml")])
    assert result.exit_code == 0, result.output
    assert "44100 Hz, resampled" in result.output and "0.500 s" in result.output
    mix = mixrender.load(tmp_path / "rough.toml").file
    assert [t.name for t in mix.tracks] == ["Lead Vocal", "Kick In", "OH"]
    assert {b.name: b.output for b in mix.buses} == {"Drums": "master", "Cymbals": "Drums"}
    assert mix.strip("OH").output == "Cymbals"
    again = runner.invoke(app, ["init", str(stems), "-o", str(tmp_path / "rough.toml")])
    assert again.exit_code == 1 and "--force" in again.output
    sf.write(str(stems / "surround.wav"), np.zeros((100, 6)), 48000)
    refused = runner.invoke(app, ["init", str(stems), "-o", str(tmp_path / "r2.toml")])
    assert refused.exit_code == 1 and "6 channels" in refused.output
