"""Source errors: each names the mix file, the line, the track and the source, and says why."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import mixrender
from conftest import MixWriter
from mixrender.lock import read_lock
from mixrender.render import DECODED_BLOCK, DEFAULT_BLOCK, BlockRender

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
    # Found before the render starts: the last frames STREAMINFO promises cannot be read.
    assert "cut.flac" in str(e.value) and "the header promises 96000 frames" in str(e.value)
    assert "the file is cut short" in str(e.value)


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


ENGINE_MIX = """
format = "mixrender/1"
[session]
sample_rate = 48000
end = 1.5

[[track]]
name = "A"
source = "a.{ext}"
pan = -0.3
  [[track.insert]]
  type = "compressor"
  threshold_db = -30.0

[[track]]
name = "B"
source = "b.{ext}"
"""


@pytest.mark.parametrize(
    ("ext", "subtype", "engine_reads"),
    [
        ("wav", "PCM_16", True),
        ("wav", "PCM_24", True),
        ("wav", "PCM_32", True),
        ("wav", "FLOAT", True),
        ("wav", "DOUBLE", False),
        ("flac", "PCM_24", False),
    ],
)
def test_the_engine_reads_wav_files_to_the_same_samples_as_soundfile(
    write_mix: MixWriter, tmp_path: Path, ext: str, subtype: str, engine_reads: bool
) -> None:
    rng = np.random.default_rng(3)
    # A stereo source at the session rate, a mono one at another (the resampled path), both
    # shorter and longer than the render.
    a, b = rng.uniform(-0.9, 0.9, (96000, 2)), rng.uniform(-0.9, 0.9, 30000)
    mix = write_mix(
        ENGINE_MIX.format(ext=ext),
        **{f"a__{ext}": (a, 48000, subtype), f"b__{ext}": (b, 44100, subtype)},
    )
    loaded = mixrender.load(mix)
    job = BlockRender(loaded.file)
    assert job.engine_reads == [engine_reads, engine_reads]
    # Files soundfile decodes, ahead on a thread, are read in shorter calls.
    assert job.block == (DEFAULT_BLOCK if engine_reads else DECODED_BLOCK)
    from_files = loaded.render(block_size=1000)
    # soundfile's own reading of the same files, handed in as arrays.
    arrays = {
        name: (sf.read(str(tmp_path / name), dtype="float64", always_2d=True)[0], rate)
        for name, rate in ((f"a.{ext}", 48000), (f"b.{ext}", 44100))
    }
    in_memory = mixrender.load(mix, sources=arrays).render(block_size=777)
    assert np.array_equal(from_files, in_memory)
    assert np.abs(from_files).max() > 0.1


def test_the_lock_holds_each_whole_file_hash_the_engine_took(
    write_mix: MixWriter, tmp_path: Path
) -> None:
    rng = np.random.default_rng(4)
    # The render (1.5 s) stops before the end of source A (4 s): its hash still covers it.
    mix = write_mix(
        ENGINE_MIX.format(ext="wav"),
        a__wav=(rng.uniform(-0.5, 0.5, (192000, 2)), 48000, "PCM_24"),
        b__wav=(rng.uniform(-0.5, 0.5, 1000), 44100, "PCM_16"),
    )
    mixrender.load(mix).render(tmp_path / "out.wav")
    lock = read_lock(mix)
    for entry in lock["source"]:
        whole = hashlib.sha256((tmp_path / entry["path"]).read_bytes()).hexdigest()
        assert entry["sha256"] == whole, entry["path"]
    assert mixrender.load(mix).verify().identical


def test_sources_read_without_their_digests_give_the_same_samples(write_mix: MixWriter) -> None:
    # `digests=False` (translate's render) skips the hashing, not a sample; it has no
    # digests to give.
    rng = np.random.default_rng(5)
    mix = write_mix(
        ENGINE_MIX.format(ext="wav"),
        a__wav=(rng.uniform(-0.5, 0.5, (96000, 2)), 48000, "PCM_24"),
        b__wav=(rng.uniform(-0.5, 0.5, 30000), 44100, "PCM_16"),
    )
    out = []
    for digests in (True, False):
        job = BlockRender(mixrender.load(mix).file, digests=digests, block_size=4096)
        assert job.engine_reads == [True, True]
        y = np.zeros((job.frames, 2))
        for pos, n in job.blocks():
            job.engine.write(y[pos : pos + n])
        out.append(y)
        if digests:
            assert all(d is not None for d in job.source_digests())
        else:
            with pytest.raises(ValueError, match="without hashing"):
                job.source_digests()
    assert np.array_equal(out[0], out[1])
    assert np.abs(out[0]).max() > 0.1


def test_a_wav_file_cut_short_during_the_render_is_named(
    write_mix: MixWriter, tmp_path: Path
) -> None:
    mix = write_mix(
        ENGINE_MIX.format(ext="wav"),
        a__wav=(np.full((96000, 2), 0.25), 48000, "PCM_24"),
        b__wav=(np.zeros(1000), 44100, "PCM_16"),
    )
    job = BlockRender(mixrender.load(mix).file, block_size=4096)
    assert job.engine_reads == [True, True]
    with open(tmp_path / "a.wav", "r+b") as f:
        f.truncate(20000)
    with pytest.raises(mixrender.SourceError) as e:
        for _ in job.blocks():
            pass
    message = str(e.value)
    assert 'track "A"' in message and "a.wav" in message and "changed or damaged" in message


@pytest.mark.parametrize(
    ("given", "ext", "subtype", "rate", "bad", "at"),
    [
        ("file", "wav", "FLOAT", 48000, np.nan, 30000),  # read by the engine
        ("file", "wav", "DOUBLE", 48000, np.inf, 30000),  # read through soundfile
        ("file", "aiff", "FLOAT", 48000, np.nan, 50),  # read through soundfile
        ("file", "w64", "FLOAT", 48000, np.nan, 50),  # read through soundfile
        ("file", "wav", "FLOAT", 44100, -np.inf, 30000),  # read by the engine, resampled
        ("file", "w64", "DOUBLE", 44100, np.nan, 30000),  # read through soundfile, resampled
        ("file", "aiff", "FLOAT", 32000, np.nan, 50),  # read through soundfile, resampled
        ("array", "wav", None, 48000, np.nan, 30000),
        ("array", "wav", None, 44100, np.nan, 30001),
    ],
)
def test_a_source_sample_that_is_not_finite_stops_the_render_and_says_where(
    write_mix: MixWriter,
    tmp_path: Path,
    given: str,
    ext: str,
    subtype: str | None,
    rate: int,
    bad: float,
    at: int,
) -> None:
    # Track A (stereo) plays from frame 0; its sample `at` cannot be mixed: every filter after
    # it would carry it on, silently. The message names the file (when there is one) and the
    # frame of the mix that plays the sample: for a resampled source, the output frame
    # nearest the sample's time.
    a = np.full((96000, 2), 0.25)
    a[at, 1] = bad
    b = np.zeros(1000)
    files: dict[str, tuple[object, ...]] = {f"b__{ext}": (b, 44100, "PCM_16")}
    if given == "file":
        files[f"a__{ext}"] = (a, rate, subtype)
        loaded = mixrender.load(write_mix(ENGINE_MIX.format(ext=ext), **files))
    else:
        mix = write_mix(ENGINE_MIX.format(ext=ext), **files)
        loaded = mixrender.load(mix, sources={f"a.{ext}": (a.astype(np.float32), rate)})
    out = tmp_path / "out.wav"
    with pytest.raises(mixrender.SourceError) as e:
        loaded.render(out)
    assert isinstance(e.value, mixrender.MixrenderError) and e.value.path == 'track "A"'
    message = str(e.value)
    assert 'track "A"' in message and "NaN or infinity" in message, message
    played = (2 * at * 48000 + rate) // (2 * rate)  # round(at * 48000 / rate)
    assert f"played at frame {played} of the mix" in message, message
    assert (f"a.{ext}" in message) == (given == "file"), message
    if given == "file":
        assert str(tmp_path / f"a.{ext}") in message, message
    assert "\n" not in message.strip()
    assert not out.exists() and not list(tmp_path.glob(".out.wav.*")), list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("fmt", "subtype", "engine_reads"),
    [
        ("WAV", "PCM_16", True),
        ("WAV", "PCM_24", True),
        ("WAV", "PCM_32", True),
        ("WAV", "FLOAT", True),
        ("WAVEX", "PCM_24", True),
        ("WAV", "PCM_U8", False),
        ("WAV", "DOUBLE", False),
        ("RF64", "PCM_24", False),
        ("FLAC", "PCM_16", False),
    ],
)
def test_the_engines_header_probe_agrees_with_soundfile(
    tmp_path: Path, fmt: str, subtype: str, engine_reads: bool
) -> None:
    from mixrender import _engine

    path = tmp_path / "s.wav"
    sf.write(str(path), np.zeros((1001, 2)), 44100, subtype=subtype, format=fmt)
    info = sf.info(str(path))
    probed = _engine.probe_wav(path)
    if engine_reads:
        assert probed == (info.frames, info.channels, info.samplerate, info.subtype)
    else:
        assert probed is None
    # A cut file: the engine's probe says so where it reads the file, else soundfile's path
    # (`integrity`) does.
    path.write_bytes(path.read_bytes()[:-5])
    if engine_reads:
        frame = 2 * {"PCM_16": 2, "PCM_24": 3}.get(subtype, 4)
        holds = 1001 - -(-5 // frame)  # the frames whole after 5 bytes are cut
        with pytest.raises(ValueError, match=f"promises 1001 frames but the file holds {holds};"):
            _engine.probe_wav(path)
    else:
        assert _engine.probe_wav(path) is None


PATH_MIX = """
format = "mixrender/1"
[session]
sample_rate = 48000
[[track]]
name = "T"
source = "{source}"
  [[track.insert]]
  type = "convolution"
  ir = "{ir}"
"""

_LONG = "x" * 300 + ".wav"


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        (_LONG, "its name is too long for the file system"),
        ("loop_a.wav", "is a symlink loop"),
        ("ok.wav/inside.wav", "a part of its path is a file, not a folder"),
        ("dangling.wav", "a symlink to a file that does not exist"),
        ("locked.wav", "permission denied"),
        ("nowhere.wav", "file not found"),
    ],
)
@pytest.mark.parametrize("key", ["source", "ir"])
def test_a_path_that_leads_to_no_file_is_one_source_error_naming_the_track_and_the_path(
    write_mix: MixWriter,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    written: str,
    reason: str,
    key: str,
) -> None:
    import os

    (tmp_path / "loop_a.wav").symlink_to("loop_b.wav")
    (tmp_path / "loop_b.wav").symlink_to("loop_a.wav")
    (tmp_path / "dangling.wav").symlink_to("gone.wav")
    ok = np.zeros(4800)
    ok[0] = 0.5
    paths = {"source": "ok.wav", "ir": "ok.wav", key: written}
    mix = write_mix(PATH_MIX.format(**paths), ok__wav=(ok, 48000), locked__wav=(ok, 48000))
    # The tests may run as root, whom no permission stops: the refusal is simulated.
    locked = str(tmp_path / "locked.wav")
    real_stat = os.stat

    def stat(path: object, *args: object, **kwargs: object) -> os.stat_result:
        if os.fspath(path) == locked:  # type: ignore[call-overload]
            raise PermissionError(13, "Permission denied", locked)
        return real_stat(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "stat", stat)
    with pytest.raises(mixrender.SourceError) as e:
        mixrender.load(mix).render(dtype="float32")
    message = str(e.value)
    assert reason in message, message
    where = 'track "T" > source' if key == "source" else 'insert "convolution" > ir'
    assert where in message and str(tmp_path / written) in message, message
    assert "\n" not in message and "Errno" not in message, message


def test_a_nul_byte_in_a_source_path_is_escaped_in_the_message(
    write_mix: MixWriter, tmp_path: Path
) -> None:
    mix = write_mix(
        PATH_MIX.format(source="a\\u0000b.wav", ir="ok.wav"), ok__wav=(np.zeros(10), 48000)
    )
    with pytest.raises(mixrender.SourceError) as e:
        mixrender.load(mix).render(dtype="float32")
    message = str(e.value)
    assert "\x00" not in message, repr(message)
    assert "a\\x00b.wav" in message and "NUL byte" in message and 'track "T"' in message, message


@pytest.mark.parametrize("source", [_LONG, "a\\u0000b.wav"])
def test_the_cli_says_one_line_for_a_path_that_cannot_name_a_file(
    write_mix: MixWriter, tmp_path: Path, source: str
) -> None:
    import subprocess
    import sys

    mix = write_mix(PATH_MIX.format(source=source, ir="ok.wav"), ok__wav=(np.zeros(10), 48000))
    for args in (["render", str(mix), "-o", str(tmp_path / "o.wav")], ["check", str(mix)]):
        run = subprocess.run(
            [sys.executable, "-m", "mixrender", *args],
            capture_output=True,
            text=True,
            check=False,
            env={
                "PYTHONPATH": str(Path(mixrender.__file__).parent.parent),
                "PATH": "/usr/bin:/bin",
            },
        )
        assert run.returncode != 0
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), run.stderr
        assert 'track "T" > source' in lines[0] and "\x00" not in lines[0], run.stderr


def test_an_aiff_rate_beyond_a_doubles_range_is_a_damaged_header(
    write_mix: MixWriter, tmp_path: Path
) -> None:
    # The fuzzer's case: an AIFF whose COMM chunk's 80-bit rate has an exponent of 0x5d95.
    (tmp_path / "damaged.aiff").write_bytes(
        bytes.fromhex(
            "464f524d0000016a41494646434f4d4d0000001200010000a5752c095d95c424c20cfcdc2c00"
        )
    )
    mix = write_mix(PATH_MIX.format(source="damaged.aiff", ir="damaged.aiff"))
    with pytest.raises(mixrender.SourceError) as e:
        mixrender.load(mix).render(dtype="float32")
    message = str(e.value)
    assert "damaged.aiff" in message and "sample rate inf Hz" in message, message
