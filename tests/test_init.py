"""`mixrender init` stages what a stem plays: clip gain from a gated level over its active
part, never putting a sample peak above `--max-peak-db`, with a note for each stem that is
mostly silence or held by its peak.

The gated level is recomputed here from the whole file at once, straight from the definition
in `mixrender.init`'s docstring (400 ms blocks every 100 ms, -70 dBFS absolute gate, relative
gate 20 dB under the mean of the blocks above it), independently of init's block-by-block
reader."""

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
from mixrender.cli import app
from mixrender.init import measure

runner = CliRunner()
RATE = 48000
F64 = npt.NDArray[np.float64]


def gated_level_db(x: F64, rate: int) -> tuple[float, float]:
    """(active level in dBFS, share of the 100 ms hops where it plays), from the whole file."""
    frames = x.reshape(len(x), -1)
    hop = round(0.1 * rate)
    block = 4 * hop
    power = np.array(
        [np.mean(frames[i : i + block] ** 2) for i in range(0, len(frames) - block + 1, hop)]
    )
    above = power[power > 1e-7]
    gate = max(np.mean(above) / 100, 1e-7)
    hops = np.array(
        [np.mean(frames[i : i + hop] ** 2) for i in range(0, len(frames) - hop + 1, hop)]
    )
    return 10 * math.log10(np.mean(power[power > gate])), float(np.mean(hops > gate))


def peak_db(x: F64) -> float:
    return 20 * math.log10(float(np.max(np.abs(x))))


def sparse_vocal() -> F64:
    """20 s, 80 % digital silence: four 1 s phrases of noise at -20 dBFS RMS (on 100 ms
    boundaries), one of them with a plosive at -1 dBFS."""
    rng = np.random.default_rng(7)
    x = np.zeros(20 * RATE)
    for start in (1, 6, 11, 16):
        x[start * RATE : (start + 1) * RATE] = 0.1 * rng.standard_normal(RATE)
    x[6 * RATE + 5000 : 6 * RATE + 5240] = 10 ** (-1 / 20) * np.hanning(240)
    return x


def stems_folder(tmp_path: Path) -> dict[str, F64]:
    t = np.arange(20 * RATE) / RATE
    stems = {
        "vox.wav": sparse_vocal(),
        "sine.wav": 10 ** (-1 / 20) * np.sin(2 * np.pi * 440 * t),  # -1 dBFS peak
        "pad.wav": math.sqrt(2) * 10 ** (-40 / 20) * np.sin(2 * np.pi * 110 * t),  # -40 RMS
    }
    folder = tmp_path / "stems"
    folder.mkdir()
    for name, x in stems.items():
        sf.write(str(folder / name), x, RATE, subtype="FLOAT")
    return {name: sf.read(str(folder / name), dtype="float64")[0] for name in stems}


@pytest.mark.parametrize(("target", "ceiling"), [(None, None), (-14.0, -6.0)])
def test_init_stages_the_active_part_under_the_peak_ceiling(
    tmp_path: Path, target: float | None, ceiling: float | None
) -> None:
    stems = stems_folder(tmp_path)
    options = [] if target is None else ["--target-rms-db", str(target)]
    options += [] if ceiling is None else ["--max-peak-db", str(ceiling)]
    target, ceiling = target or -18.0, ceiling or -3.0
    mix_path = tmp_path / "rough.toml"
    result = runner.invoke(app, ["init", str(tmp_path / "stems"), "-o", str(mix_path), *options])
    assert result.exit_code == 0, result.output
    tracks = mixrender.load(mix_path).file.tracks
    gains = {Path(str(t.source)).name: t.clip_gain_db for t in tracks}
    assert set(gains) == set(stems)

    # The fixture catches the old rule: plain RMS over the file would have put the vocal's
    # peak above full scale.
    vox = stems["vox.wav"]
    whole_file_rms = 10 * math.log10(float(np.mean(vox**2)))
    assert peak_db(vox) + target - whole_file_rms > 0.0

    for name, x in stems.items():
        gain = gains[name]
        assert round(gain, 1) == gain, (name, gain)
        assert peak_db(x) + gain <= ceiling + 1e-9, (name, peak_db(x) + gain)
        active, _ = gated_level_db(x, RATE)
        if name == "vox.wav":  # the plosive holds it: the peak sits on the ceiling
            want = target - active
            assert gain < want
            assert peak_db(x) + gain > ceiling - 0.1, (name, peak_db(x) + gain)
            assert (
                f"vox.wav: clip gain {gain:+.1f} dB (held by its peak at {ceiling:.1f} dBFS; "
                f"its active level would need {want:+.1f} dB)"
            ) in result.output
        else:  # on target, to the 0.1 dB the mix file is written in
            assert active + gain == pytest.approx(target, abs=0.05 + 1e-9), name
            assert f"{name}:" not in result.output
    assert "vox.wav: 80 % silence; level measured over the 20 % where it plays" in result.output

    # The faders-only render of that mix clips nothing.
    report = tmp_path / "rough.json"
    rendered = runner.invoke(app, ["render", str(mix_path), "--rough", "--report", str(report)])
    assert rendered.exit_code == 0, rendered.output
    assert json.loads(report.read_text())["clipped_samples"] == 0


def test_the_level_is_the_gated_level_whatever_the_read_size(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    t = np.arange(round(7.35 * 44100)) / 44100
    stereo = np.stack([0.3 * np.sin(2 * np.pi * 220 * t), 0.05 * rng.standard_normal(len(t))], 1)
    stereo[: 2 * 44100] = 0.0  # two seconds of silence, then a quiet stretch under the gate
    stereo[3 * 44100 : 4 * 44100] *= 0.001
    path = tmp_path / "s.wav"
    sf.write(str(path), stereo, 44100, subtype="FLOAT")
    stereo = sf.read(str(path), dtype="float64")[0]  # as init reads it
    active, playing = gated_level_db(stereo, 44100)
    for read_frames in (65536, 4410, 1000, 333):
        level = measure(path, read_frames=read_frames)
        assert level.active_db == pytest.approx(active, abs=1e-9), read_frames
        assert level.active_fraction == pytest.approx(playing), read_frames
        assert level.peak_db == pytest.approx(peak_db(stereo), abs=1e-9)
    assert 0.55 < playing < 0.65  # 2 s silent and 1 s gated out of 7.35 s


def test_a_short_stem_is_one_block_and_a_silent_one_keeps_0_db(tmp_path: Path) -> None:
    folder = tmp_path / "stems"
    folder.mkdir()
    blip = np.full(9600, 0.01)  # 200 ms at -40 dBFS, shorter than one gating block
    sf.write(str(folder / "blip.wav"), blip, RATE, subtype="FLOAT")
    sf.write(str(folder / "quiet.wav"), np.full(RATE, 1e-4), RATE, subtype="FLOAT")  # -80 dBFS
    result = runner.invoke(app, ["init", str(folder), "-o", str(tmp_path / "m.toml")])
    assert result.exit_code == 0, result.output
    gains = {t.name: t.clip_gain_db for t in mixrender.load(tmp_path / "m.toml").file.tracks}
    assert gains == {"blip": 22.0, "quiet": 0.0}  # -40 + 22 = -18 RMS; peak -18 too
    assert "quiet.wav: silent (nothing above -70 dBFS); clip gain left at 0 dB" in result.output
    assert "blip.wav: clip" not in result.output and "blip.wav: 0.200 s" in result.output
