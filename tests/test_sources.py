"""Source errors: each names the mix file, the line, the track and the source, and says why."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import mixrender
from conftest import MixWriter

MIX = """
format = "mixrender/1"
[session]
sample_rate = 48000

[[track]]
name = "Keep"
source = "ok.wav"

[[track]]
name = "Lead Vox"
source = "{source}"
"""


def check(mix: Path) -> str:
    with pytest.raises(mixrender.SourceError) as e:
        mixrender.load(mix).check()
    message = str(e.value)
    assert f"{mix}:9:" in message, message  # the line of the second [[track]]
    assert 'track "Lead Vox"' in message
    return message


def test_missing_source(write_mix: MixWriter) -> None:
    message = check(write_mix(MIX.format(source="gone.wav"), ok__wav=(np.zeros(10), 48000)))
    assert "gone.wav" in message and "not found" in message


def test_unreadable_source(write_mix: MixWriter, tmp_path: Path) -> None:
    mix = write_mix(MIX.format(source="junk.wav"), ok__wav=(np.zeros(10), 48000))
    (tmp_path / "junk.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really audio at all")
    message = check(mix)
    assert "junk.wav" in message and "cannot be read as audio" in message


def test_a_truncated_source_is_named_when_reading_fails(
    write_mix: MixWriter, tmp_path: Path
) -> None:
    mix = write_mix(MIX.format(source="cut.flac"), ok__wav=(np.zeros(10), 48000))
    noise = np.random.default_rng(0).standard_normal(96000) * 0.1
    sf.write(str(tmp_path / "cut.flac"), noise, 48000, subtype="PCM_16")
    data = (tmp_path / "cut.flac").read_bytes()
    (tmp_path / "cut.flac").write_bytes(data[: len(data) // 2])
    with pytest.raises(mixrender.SourceError) as e:
        mixrender.load(mix).render(block_size=4096)
    assert "cut.flac" in str(e.value) and "truncated or corrupt" in str(e.value)


def test_more_than_two_channels_is_refused_with_advice(
    write_mix: MixWriter, tmp_path: Path
) -> None:
    mix = write_mix(MIX.format(source="surround.wav"), ok__wav=(np.zeros(10), 48000))
    sf.write(str(tmp_path / "surround.wav"), np.zeros((100, 6)), 48000)
    message = check(mix)
    assert "6 channels" in message and "mono or stereo" in message


def test_a_source_that_is_a_folder(write_mix: MixWriter, tmp_path: Path) -> None:
    mix = write_mix(MIX.format(source="stems"), ok__wav=(np.zeros(10), 48000))
    (tmp_path / "stems").mkdir()
    assert "folder" in check(mix)


def test_bad_in_memory_sources(write_mix: MixWriter) -> None:
    mix = write_mix(MIX.format(source="x.wav"), ok__wav=(np.zeros(10), 48000))
    with pytest.raises(mixrender.SourceError, match="3 channels"):
        mixrender.load(mix, sources={"x.wav": (np.zeros((10, 3)), 48000)}).check()
    with pytest.raises(mixrender.MixFileError, match="unknown source"):
        mixrender.load(mix, sources={"nope.wav": (np.zeros(10), 48000)})
