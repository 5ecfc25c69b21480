"""The `convolution` insert from the mix file on: an impulse response at another rate is
resampled into the session, a missing or unusable one is a SourceError at the insert's `ir`
line, and the lock, `verify` and the batch cache know the response's bytes.

The engine's own tests (rust/engine/tests/space_convolution.rs) hold the convolution to a
direct one; these check the path from the file to the engine.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import soundfile as sf

import mixrender
from conftest import MixWriter, tone

MIX = """
format = "mixrender/1"
[session]
sample_rate = 48000
tail_s = 0.1
[render]
bit_depth = 32

[[track]]
name = "Tone"
source = "tone.wav"
pan_law = "0dB"
sends = [{ to = "Plate", level_db = 0.0 }]

[[bus]]
name = "Plate"
  [[bus.insert]]
  type = "convolution"
  ir = "irs/hall.wav"
  mix = 1.0
"""


def impulse(frames: int, at: int, channels: int = 1) -> npt.NDArray[np.float64]:
    """A unit impulse on frame `at`, in every channel."""
    x = np.zeros((frames, channels))
    x[at] = 1.0
    return x


@pytest.fixture
def irs(tmp_path: Path) -> Path:
    (tmp_path / "irs").mkdir()
    return tmp_path / "irs"


def test_an_ir_at_another_rate_is_resampled_into_the_session(
    write_mix: MixWriter, irs: Path
) -> None:
    # 10 ms into the response at 44.1 kHz is exactly frame 480 at 48 kHz.
    sf.write(str(irs / "hall.wav"), impulse(4410, 441), 44100, subtype="DOUBLE")
    x = tone(0.5, freq=1000.0, db=-12.0)
    mix = write_mix(MIX.replace("tail_s = 0.1", "end = 0.5"), tone__wav=(x, 48000, "DOUBLE"))
    out = mixrender.load(mix).render(dtype="float64")
    # Track (centre, 0 dB law) and Plate (the tone 480 frames late, band-limited): L = R.
    wet = out[:, 0] - np.concatenate([x, np.zeros(out.shape[0] - x.size)])
    # Nothing before the impulse's band-limited ringing (96 periods of 44.1 kHz before it)
    # but the FFTs' rounding.
    assert np.max(np.abs(wet[:370])) < 1e-12 and np.max(np.abs(wet[370:480])) > 1e-6
    expected = x[: 24000 - 480]
    err = np.max(np.abs(wet[2000:20000] - expected[2000 - 480 : 20000 - 480]))
    assert err < 1e-4 * np.max(np.abs(x)), f"resampled response: error {err:.2e}"
    assert np.array_equal(out[:, 0], out[:, 1])


def test_a_stereo_ir_makes_a_mono_track_stereo(write_mix: MixWriter, irs: Path) -> None:
    ir = impulse(100, 0, channels=2)
    ir[0, 1], ir[50, 1] = 0.0, 0.5  # R: half level, 50 frames late
    sf.write(str(irs / "hall.wav"), ir, 48000, subtype="DOUBLE")
    x = tone(0.2, db=-12.0)
    text = MIX.replace('sends = [{ to = "Plate", level_db = 0.0 }]', "").replace(
        '[[bus]]\nname = "Plate"\n  [[bus.insert]]', "  [[track.insert]]"
    )
    mix = write_mix(text, tone__wav=(x, 48000, "DOUBLE"))
    out = mixrender.load(mix).render(dtype="float64")
    n = x.size
    np.testing.assert_allclose(out[:n, 0], x, atol=1e-12)
    np.testing.assert_allclose(out[50 : n + 50, 1], 0.5 * x, atol=1e-12)


def ir_line(mix: Path) -> int:
    return next(i for i, line in enumerate(mix.read_text().splitlines(), 1) if "ir =" in line)


def test_a_missing_ir_is_a_source_error_naming_the_insert_and_its_line(
    write_mix: MixWriter,
) -> None:
    mix = write_mix(MIX, tone__wav=(tone(0.2), 48000))
    actions: list[Callable[[mixrender.Mix], object]] = [lambda m: m.render(), lambda m: m.check()]
    for action in actions:
        with pytest.raises(mixrender.SourceError) as e:
            action(mixrender.load(mix))
        message = str(e.value)
        assert f"mix.toml:{ir_line(mix)}:" in message, message
        assert 'bus "Plate" > insert "convolution" > ir' in message, message
        assert "irs/hall.wav" in message and "file not found" in message, message
    # A rough render bypasses every insert, and so needs no impulse response.
    assert mixrender.load(mix).render(rough=True).shape[1] == 2


def test_unusable_irs_are_refused_with_the_reason(
    write_mix: MixWriter, irs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mix = write_mix(MIX, tone__wav=(tone(0.2), 48000))
    sf.write(str(irs / "hall.wav"), np.zeros((10, 3)), 48000)
    with pytest.raises(mixrender.SourceError, match="has 3 channels"):
        mixrender.load(mix).check()
    sf.write(str(irs / "hall.wav"), impulse(4800, 0), 48000)
    monkeypatch.setattr("mixrender.sources.MAX_IR_SECONDS", 0.05)
    with pytest.raises(mixrender.SourceError, match=r"lasts 0\.1 s.*at most 0 s"):
        mixrender.load(mix).check()
    (irs / "hall.wav").write_bytes(b"not audio")
    with pytest.raises(mixrender.SourceError, match="cannot be read as audio"):
        mixrender.load(mix).check()


def test_an_ir_cut_short_or_not_audio_fails_the_render_in_one_line_naming_it(
    write_mix: MixWriter, irs: Path, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from mixrender.cli import app

    mix = write_mix(MIX, tone__wav=(tone(0.2), 48000))
    sf.write(str(irs / "hall.wav"), impulse(4800, 0), 48000, subtype="PCM_24")
    whole = (irs / "hall.wav").read_bytes()
    cases = {
        "cut short": (whole[: len(whole) // 2], "the file is cut short"),
        "not audio": (b"not audio", "cannot be read as audio"),
    }
    line = ir_line(mix)
    for content, reason in cases.values():
        (irs / "hall.wav").write_bytes(content)
        loaded = mixrender.load(mix)  # loading reads no impulse response; the render does
        with pytest.raises(mixrender.SourceError) as e:
            loaded.render()
        message = str(e.value)
        assert "\n" not in message and reason in message, message
        assert message.startswith(f"{mix}:{line}: "), message
        assert 'bus "Plate" > insert "convolution" > ir' in message, message
        assert e.value.source == Path("irs/hall.wav"), e.value.source
        out = tmp_path / "out.wav"
        result = CliRunner().invoke(app, ["render", str(mix), "-o", str(out)])
        assert result.exit_code == 1 and not out.exists()
        assert result.output == f"error: {message}\n", result.output


def test_a_response_the_engine_refuses_is_named_by_its_file(
    write_mix: MixWriter, irs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The reader checks every sample first; a response that gets past it (here: read as
    # NaN) is refused by the engine, which names the file the render handed it.
    mix = write_mix(MIX, tone__wav=(tone(0.2), 48000))
    sf.write(str(irs / "hall.wav"), impulse(64, 0), 48000)
    monkeypatch.setattr(
        "mixrender.render.read_ir", lambda info: (np.full((64, 1), np.nan), info.sample_rate)
    )
    with pytest.raises(mixrender.SourceError) as e:
        mixrender.load(mix).render()
    hall = irs / "hall.wav"
    assert str(e.value) == f"impulse response {hall}: sample 1 of frame 0 is not finite"
    assert e.value.source == hall


def test_the_lock_lists_the_ir_and_verify_names_it_when_its_bytes_change(
    write_mix: MixWriter, irs: Path, tmp_path: Path
) -> None:
    ir = irs / "hall.wav"
    sf.write(str(ir), impulse(2000, 10, channels=2) * 0.5, 44100, subtype="PCM_24")
    mix = write_mix(MIX, tone__wav=(tone(0.3), 48000))
    mixrender.load(mix).render(tmp_path / "out.wav")
    lock = tomllib.loads((tmp_path / "mix.lock").read_text())
    entries = [s for s in lock["source"] if s.get("ir")]
    assert entries == [
        {
            "ir": True,
            "path": "irs/hall.wav",
            "sha256": hashlib.sha256(ir.read_bytes()).hexdigest(),
            "frames": 2000,
            "sample_rate": 44100,
            "channels": 2,
        }
    ]
    assert [s["track"] for s in lock["source"] if not s.get("ir")] == ["Tone"]
    assert mixrender.load(mix).verify().identical

    sf.write(str(ir), impulse(2000, 20, channels=2) * 0.5, 44100, subtype="PCM_24")
    result = mixrender.load(mix).verify()
    assert not result.identical
    assert result.differences == [
        'impulse response irs/hall.wav (bus "Plate" > insert "convolution" > ir) changed: '
        "its bytes differ from those the render was made from"
    ]


def test_the_batch_cache_key_holds_the_ir_bytes(
    write_mix: MixWriter, irs: Path, tmp_path: Path
) -> None:
    ir = irs / "hall.wav"
    sf.write(str(ir), impulse(500, 5), 48000)
    mix = write_mix(MIX, tone__wav=(tone(0.2), 48000))
    out = tmp_path / "out"
    first = mixrender.batch([str(mix)], out, workers=1)
    assert [r.status for r in first] == ["rendered"]
    lock = tmp_path / "mix.lock"
    stamp = lock.stat().st_mtime_ns
    again = mixrender.batch([str(mix)], out, workers=1)
    assert [r.status for r in again] == ["cached"]
    assert lock.stat().st_mtime_ns == stamp  # the lock, IR entry and all, was current

    sf.write(str(ir), impulse(500, 50), 48000)  # same plan, other response bytes
    third = mixrender.batch([str(mix)], out, workers=1)
    assert [r.status for r in third] == ["rendered"]
    assert third[0].audio_sha256 != first[0].audio_sha256
