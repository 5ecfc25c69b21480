"""Loudness normalisation with a limiter on the master: the gain goes to the master's input,
found by a fixed search, and lands within 0.1 LU of the target under the true-peak ceiling."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

import mixrender
from conftest import REPO, SHARED, MixWriter, noise
from mixrender.cli import app

runner = CliRunner()
DEMO = REPO / "mixes" / "demo"
CORPUS = SHARED / "corpus"


def demo_copy(tmp_path: Path, end: float, render: str, name: str = "demo.toml") -> Path:
    """The demo mix with absolute sources, a short `end` and extra `[render]` lines."""
    text = (DEMO / "demo.toml").read_text()
    text = text.replace('source = "stems/', f'source = "{DEMO}/stems/')
    text = text.replace('end = "auto"', f"end = {end!r}")
    text = re.sub(r"(?m)^tail_s = .*\n", "", text)
    text = text.replace("[render]\n", f"[render]\n{render}\n", 1)
    path = tmp_path / name
    path.write_text(text)
    return path


def analyzed(path: Path) -> dict[str, float]:
    """The written file as the engine's meter reads it, through `mixrender analyze --json`."""
    result = runner.invoke(app, ["analyze", str(path), "--json"])
    assert result.exit_code == 0, result.output
    figures: dict[str, float] = json.loads(result.output)
    return figures


def test_the_demo_reaches_minus_14_lufs_through_its_limiter(tmp_path: Path) -> None:
    mix = demo_copy(tmp_path, 20.0, "loudness_lufs = -14.0")
    out, report_json = tmp_path / "demo.wav", tmp_path / "report.json"
    result = runner.invoke(app, ["render", str(mix), "-o", str(out), "--report", str(report_json)])
    assert result.exit_code == 0, result.output
    assert "at the master input" in " ".join(result.output.split())
    report = json.loads(report_json.read_text())
    assert report["loudness_gain_at"] == "master input"
    assert report["loudness_gain_db"] > 3.0  # the demo sits near -20 LUFS as mixed
    figures = analyzed(out)
    assert figures["integrated_lufs"] == pytest.approx(-14.0, abs=0.1)
    assert figures["true_peak_dbtp"] <= -1.0
    plan = json.loads(tomllib.loads((tmp_path / "demo.lock").read_text())["plan"])
    assert plan["master"]["loudness_gain_at"] == "input"
    assert plan["master"]["loudness_gain_db"] == report["loudness_gain_db"]


def corpus_mix(tmp_path: Path, song: str, render: str, ceiling: float = -1.0) -> Path:
    folder = CORPUS / song
    stems = sorted(folder.glob("*.flac"))
    rate = sf.info(str(stems[0])).samplerate
    lines = [
        'format = "mixrender/1"',
        "[session]",
        f"sample_rate = {rate}",
        "end = 12.0",
        "[render]",
        "bit_depth = 24",
        render,
    ]
    for stem in stems:
        lines += ["[[track]]", f'name = "{stem.stem}"', f'source = "{stem}"', "gain_db = -3.0"]
    lines += [
        "[master]",
        "[[master.insert]]",
        'type = "limiter"',
        f"ceiling_db = {ceiling!r}",
        "true_peak = true",
    ]
    path = tmp_path / f"{song}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


SONGS = ["sek_francium", "capdan_reggae_try"]


@pytest.mark.parametrize("song", SONGS)
def test_corpus_songs_reach_the_target_under_the_ceiling(tmp_path: Path, song: str) -> None:
    if not (CORPUS / song).is_dir():
        pytest.skip(f"the corpus song {song} is not beside the project ({CORPUS})")
    for target in (-14.0, -10.0):
        mix = corpus_mix(tmp_path, song, f"loudness_lufs = {target}")
        out = tmp_path / f"{song}{-target:.0f}.wav"
        report = mixrender.load(mix).render(out, lock=False)
        assert report.loudness_gain_at == "master input"
        figures = analyzed(out)
        assert figures["integrated_lufs"] == pytest.approx(target, abs=0.1), target
        # At the limiter's ceiling, to what the limiter's gain and the 24-bit output's
        # quantization leave (a few 1e-5 dB; the search accepts 0.005 dB).
        assert figures["true_peak_dbtp"] <= -1.0 + 1e-4, target
        assert report.true_peak_dbtp is not None and report.true_peak_dbtp <= -1.0 + 1e-4


def test_an_unreachable_target_is_refused_with_both_figures(tmp_path: Path) -> None:
    song = "sek_francium"
    if not (CORPUS / song).is_dir():
        pytest.skip(f"the corpus song {song} is not beside the project ({CORPUS})")
    mix = corpus_mix(tmp_path, song, "loudness_lufs = -3.0\ntrue_peak_ceiling_db = -1.0")
    with pytest.raises(mixrender.RenderError) as e:
        mixrender.load(mix).render(tmp_path / "out.wav")
    message = str(e.value)
    assert "loudness_lufs = -3.0" in message and "cannot bring the mix there" in message
    assert re.search(r"measures -?\d+\.\d\d LUFS", message), message
    assert "Lower the target" in message
    assert not (tmp_path / "out.wav").exists()


def test_a_limiter_ceiling_over_the_true_peak_ceiling_is_refused(
    write_mix: MixWriter, tmp_path: Path
) -> None:
    text = """
format = "mixrender/1"
[session]
sample_rate = 48000
end = 4.0
[render]
loudness_lufs = -6.0
true_peak_ceiling_db = -1.0
[[track]]
name = "Noise"
source = "n.wav"
[master]
[[master.insert]]
type = "limiter"
ceiling_db = 0.0
true_peak = true
"""
    mix = write_mix(text, n__wav=(noise(4.0, channels=2, seed=3), 48000, "FLOAT"))
    with pytest.raises(mixrender.RenderError) as e:
        mixrender.load(mix).render(tmp_path / "out.wav")
    message = str(e.value)
    assert re.search(r"true peak measures -?\d+\.\d\d dBTP, over the ceiling of -1\.00", message)
    assert '"limiter" 0.00 dBTP' in message and "ceiling_db at or under -1.00" in message
    assert not (tmp_path / "out.wav").exists()


def test_the_search_gives_the_same_bits_on_two_runs_and_two_block_sizes(tmp_path: Path) -> None:
    mix = mixrender.load(demo_copy(tmp_path, 10.0, "loudness_lufs = -12.0"))
    a = mix.render(tmp_path / "a.wav", lock=False)
    b = mix.render(tmp_path / "b.wav", lock=False)
    c = mix.render(tmp_path / "c.wav", lock=False, block_size=1000, threads=1)
    assert a.loudness_gain_db == b.loudness_gain_db == c.loudness_gain_db
    assert a.audio_sha256 == b.audio_sha256 == c.audio_sha256
    assert (tmp_path / "a.wav").read_bytes() == (tmp_path / "c.wav").read_bytes()
    assert a.integrated_lufs == pytest.approx(-12.0, abs=0.1)


def test_without_a_limiter_the_gain_follows_the_master_as_before(write_mix: MixWriter) -> None:
    text = """
format = "mixrender/1"
[session]
sample_rate = 48000
end = 4.0
[render]
{render}
[[track]]
name = "Noise"
source = "n.wav"
gain_db = -20.0
[master]
gain_db = -1.5
[[master.insert]]
type = "compressor"
threshold_db = -40.0
ratio = 3.0
"""
    quiet = noise(4.0, channels=2, seed=8)
    plain = write_mix(text.format(render=""), n__wav=(quiet, 48000, "FLOAT"))
    loud = write_mix(text.format(render="loudness_lufs = -23.0"), name="loud.toml")
    x = mixrender.load(plain).render(dtype="float64")
    plan = json.loads(mixrender.load(loud).plan())
    assert "loudness_gain_at" not in plan["master"]
    first = mixrender.load(plain).render(Path(str(plain) + ".wav"), lock=False)
    report = mixrender.load(loud).render(Path(str(loud) + ".wav"), lock=False)
    assert report.loudness_gain_at == "master output"
    assert first.integrated_lufs is not None
    # One gain, the target minus the master's loudness as mixed, after the master's gain.
    assert report.loudness_gain_db == -23.0 - first.integrated_lufs
    y = mixrender.load(loud).render(dtype="float64")
    np.testing.assert_allclose(y, x * 10 ** (report.loudness_gain_db / 20), rtol=1e-14)
