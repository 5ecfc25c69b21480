"""Sources that contradict their own header (cut short, sizes past the end, impossible sample
rates) are refused by `check` and by `render`; whole files are not; integer arrays in memory
are scaled as soundfile scales integer files."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import typer.testing
from typer.testing import CliRunner

import mixrender
from conftest import REPO, SHARED
from mixrender.cli import app
from mixrender.sources import _probe_header, _Unusable

runner = CliRunner()


@pytest.fixture(autouse=True)
def _cli_built_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """typer's runner builds the command line anew on every call (35 ms): once is enough."""
    cli = typer.main.get_command(app)
    monkeypatch.setattr(typer.testing, "_get_command", lambda _app: cli)


MIX = """format = "mixrender/1"
[session]
sample_rate = 48000
tail_s = 0.0
[[track]]
name = "T"
source = "{source}"
"""

FRAMES = 300
RATE = 48000  # Opus writes nothing else

EXT = {"WAV": "wav", "WAVEX": "wav", "RF64": "wav", "AIFF": "aiff", "OGG": "ogg", "MP3": "mp3"}

#: Formats mixrender refuses as sources, whole or not: it cannot tell whether such a file is
#: complete (their headers are not parsed), and they convert losslessly to WAV or FLAC.
REFUSED = {
    "AVR", "HTK", "IRCAM", "MAT4", "MAT5", "MPC2K", "NIST", "PAF", "PVF", "SD2", "SDS", "SVX",
    "VOC", "WVE", "XI",
}  # fmt: skip
#: RAW has no header at all: nothing to contradict, and libsndfile cannot open it without
#: being told its rate and encoding, so mixrender refuses it too (sf.info fails).
HEADERLESS = {"RAW"}
#: Pairs `check_format` allows that this libsndfile build cannot write (nothing to cut).
UNWRITABLE = {
    ("AIFF", "DWVW_12"),
    ("MP3", "MPEG_LAYER_I"),
    ("MP3", "MPEG_LAYER_II"),
    ("WAV", "MPEG_LAYER_III"),
}
#: Encodings stored as whole bytes per frame: the frames present are exact.
PLAIN = {"PCM_S8", "PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE", "ULAW", "ALAW"}
#: Containers whose header states a data size that the plain frames follow from.
SIZED = {"WAV", "WAVEX", "RF64", "W64", "AIFF", "CAF", "AU"}


def _pairs() -> list[tuple[str, str]]:
    return [
        (fmt, sub)
        for fmt in sorted(sf.available_formats())
        for sub in sorted(sf.available_subtypes(fmt))
        if sf.check_format(fmt, sub)
    ]


def _audio_start(fmt: str, data: bytes) -> int:
    """Where the coded audio starts, found from the container's markers (independently of
    mixrender's parser)."""
    if fmt in ("WAV", "WAVEX", "RF64"):
        return data.index(b"data", 12) + 8
    if fmt == "W64":
        return data.index(b"data\xf3\xac\xd3\x11") + 24
    if fmt == "AIFF":
        return data.index(b"SSND") + 16
    if fmt == "CAF":
        return data.index(b"data\x00\x00", 8) + 16
    if fmt == "AU":
        return int(struct.unpack(">I", data[4:8])[0])
    if fmt == "FLAC":
        pos = 4
        while True:
            last, length = data[pos] & 0x80, int.from_bytes(data[pos + 1 : pos + 4], "big")
            pos += 4 + length
            if last:
                return pos
    if fmt == "OGG":
        pos = 0
        while True:  # the first page with audio: a granule position past 0
            nseg = data[pos + 26]
            if int.from_bytes(data[pos + 6 : pos + 14], "little", signed=True) > 0:
                return pos
            pos += 27 + nseg + sum(data[pos + 27 : pos + 27 + nseg])
    if fmt == "MP3":
        pos = data.index(b"Info") if b"Info" in data else data.index(b"Xing")
        return data.index(b"\xff", pos)  # the next frame after the Info frame
    raise AssertionError(fmt)


def _frame_bytes(sub: str) -> int:
    return {"PCM_16": 2, "PCM_24": 3, "PCM_32": 4, "FLOAT": 4, "DOUBLE": 8}.get(sub, 1)


def _refused(tmp_path: Path, mix: Path, source: str) -> list[str]:
    """Runs `check` and `render` on the CLI; both must fail with one line naming the
    source, exit 1, no traceback, no output left. Returns the two messages."""
    messages = []
    for args in (["check", str(mix)], ["render", str(mix), "-o", str(tmp_path / "out.wav")]):
        result = runner.invoke(app, args)
        text = result.output.strip()
        assert result.exit_code == 1, (args, text)
        assert "Traceback" not in text and len(text.splitlines()) == 1, text
        assert text.startswith("error: ") and source in text, text
        messages.append(text)
    left = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(("out", ".out")))
    assert left == [], left
    return messages


def test_every_writable_format_cut_short_is_refused(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    x = np.clip(0.2 * rng.standard_normal((FRAMES, 1)), -0.9, 0.9)
    refused, unwritable, cases = set(), set(), 0
    for fmt, sub in _pairs():
        if fmt in HEADERLESS:
            continue
        source = f"s_{fmt}_{sub}.{EXT.get(fmt, fmt.lower())}"
        path = tmp_path / source
        try:
            sf.write(str(path), x, RATE, format=fmt, subtype=sub)
        except (RuntimeError, ValueError):  # soundfile's errors derive from RuntimeError
            unwritable.add((fmt, sub))
            path.unlink(missing_ok=True)
            continue
        whole = path.read_bytes()
        mix = tmp_path / "mix.toml"
        mix.write_text(MIX.format(source=source))
        if fmt in REFUSED:
            (message, _) = _refused(tmp_path, mix, source)
            assert "convert it to WAV or FLAC" in message, message
            refused.add(fmt)
            continue
        assert runner.invoke(app, ["check", str(mix)]).exit_code == 0, (fmt, sub)
        start = _audio_start(fmt, whole)
        assert 0 < start < len(whole), (fmt, sub, start, len(whole))
        data_bytes = len(whole) - start
        for keep in (start // 2, start, start + data_bytes // 2):
            path.write_bytes(whole[:keep])
            check, render = _refused(tmp_path, mix, source)
            cases += 1
            assert check.split(": ", 1)[1] == render.split(": ", 1)[1]
            if keep == start // 2:
                continue  # cut inside the header: refused, in whatever words fit
            assert "cut short (an interrupted copy?): copy it again" in check, (fmt, sub, check)
            if fmt in SIZED and sub in PLAIN:
                promised = re.search(r"promises (\d+) frames but the file holds (\d+);", check)
                assert promised is not None, check
                frame = _frame_bytes(sub)
                assert int(promised[1]) == FRAMES, check
                assert int(promised[2]) == (keep - start) // frame, (fmt, sub, keep, check)
        path.unlink()
    assert refused == REFUSED
    assert unwritable == UNWRITABLE
    assert cases >= 200  # every other pair, three cuts each


def _probe(path: Path) -> str:
    try:
        _probe_header(path)
    except _Unusable as e:
        return str(e)
    return "ok"


def _wav(path: Path, subtype: str = "PCM_16", fmt: str = "WAV", frames: int = FRAMES) -> bytes:
    x = np.linspace(-0.5, 0.5, frames)
    sf.write(str(path), x, RATE, subtype=subtype, format=fmt)
    return path.read_bytes()


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_U8", "DOUBLE"])  # engine, soundfile, both
def test_a_wav_data_chunk_larger_than_the_file(tmp_path: Path, subtype: str) -> None:
    path = tmp_path / "s.wav"
    data = bytearray(_wav(path, subtype))
    at = data.index(b"data") + 4
    frame = _frame_bytes(subtype)
    data[at : at + 4] = struct.pack("<I", 1000 * frame)
    path.write_bytes(bytes(data))
    message = _probe(path)
    assert message.startswith("the header promises 1000 frames but the file holds 300;"), message


def _aiff(path: Path) -> bytearray:
    sf.write(str(path), np.linspace(-0.5, 0.5, FRAMES), RATE, subtype="PCM_16", format="AIFF")
    return bytearray(path.read_bytes())


def test_an_aiff_comm_frame_count_beyond_the_end(tmp_path: Path) -> None:
    path = tmp_path / "s.aiff"
    data = _aiff(path)
    at = data.index(b"COMM") + 10
    assert struct.unpack(">I", data[at : at + 4])[0] == FRAMES
    data[at : at + 4] = struct.pack(">I", 5000)
    path.write_bytes(bytes(data))
    message = _probe(path)
    assert message.startswith("the header promises 5000 frames but the file holds 300;"), message


def test_an_aiff_ssnd_size_beyond_the_end(tmp_path: Path) -> None:
    path = tmp_path / "s.aiff"
    data = _aiff(path)
    at = data.index(b"SSND") + 4
    data[at : at + 4] = struct.pack(">I", 8 + 2 * 900)
    path.write_bytes(bytes(data))
    message = _probe(path)
    assert message.startswith("the header promises 900 frames but the file holds 300;"), message


def test_an_rf64_with_a_bogus_ds64(tmp_path: Path) -> None:
    path = tmp_path / "s.wav"
    data = bytearray(_wav(path, "PCM_24", "RF64"))
    ds64 = data.index(b"ds64") + 8
    riff, size, frames = struct.unpack("<QQQ", data[ds64 : ds64 + 24])
    assert (size, frames) == (3 * FRAMES, FRAMES)
    data[ds64 : ds64 + 24] = struct.pack("<QQQ", riff, 3 * 4_000_000, 4_000_000)
    path.write_bytes(bytes(data))
    message = _probe(path)
    assert "promises 4000000 frames but the file holds 300;" in message, message
    # An RF64 whose data size defers to a ds64 chunk that is not there.
    data = bytearray(_wav(path, "PCM_24", "RF64"))
    data[data.index(b"ds64") : data.index(b"ds64") + 4] = b"JUNK"
    path.write_bytes(bytes(data))
    assert "has no ds64 chunk" in _probe(path)


@pytest.mark.parametrize(
    ("rate", "ok"),
    [(0, False), (1, False), (7999, False), (8000, True), (384000, True), (384001, False),
     (2147483647, False)],
)  # fmt: skip
@pytest.mark.parametrize(
    ("fmt", "subtype"), [("WAV", "PCM_16"), ("WAV", "PCM_U8"), ("AU", "PCM_16")]
)
def test_header_sample_rates_outside_8k_384k_are_refused(
    tmp_path: Path, rate: int, ok: bool, fmt: str, subtype: str
) -> None:
    path = tmp_path / f"s.{fmt.lower()}"
    data = bytearray(_wav(path, subtype, fmt))
    if fmt == "WAV":
        block = _frame_bytes(subtype)
        data[24:32] = struct.pack("<II", rate, (rate * block) & 0xFFFFFFFF)
    else:
        data[16:20] = struct.pack(">I", rate)
    path.write_bytes(bytes(data))
    message = _probe(path)
    if ok:
        assert message == "ok"
    else:
        assert f"sample rate {rate} Hz is outside 8000..384000 Hz" in message, message
    if rate in (0, 2147483647):  # was a ZeroDivisionError, and an abort on a huge allocation
        mix = tmp_path / "mix.toml"
        mix.write_text(MIX.format(source=path.name))
        for line in _refused(tmp_path, mix, path.name):
            assert f"sample rate {rate} Hz is outside 8000..384000 Hz" in line, line


def test_an_aiff_rate_past_any_float_is_refused_not_an_overflow(tmp_path: Path) -> None:
    # The fuzzing harness's case: an 80-bit rate whose exponent no float holds (was an
    # OverflowError with a traceback).
    path = tmp_path / "s.aiff"
    path.write_bytes(
        bytes.fromhex(
            "464f524d0000002e41494646434f4d4d000000120002000000000010500eac44000000000000"
        )
    )
    assert "Hz is outside 8000..384000 Hz" in _probe(path)


@pytest.mark.parametrize(
    ("fmt", "endian"), [("WAV", "BIG"), ("AIFF", "LITTLE"), ("CAF", "LITTLE"), ("AU", "LITTLE")]
)
def test_the_other_byte_order_is_checked_too(tmp_path: Path, fmt: str, endian: str) -> None:
    path = tmp_path / f"s.{fmt.lower()}"
    sf.write(str(path), np.linspace(-0.5, 0.5, FRAMES), RATE, "PCM_16", endian, fmt)
    assert _probe(path) == "ok"
    path.write_bytes(path.read_bytes()[:-101])
    assert _probe(path).startswith("the header promises 300 frames but the file holds 249;")


def test_whole_files_with_trailing_chunks_and_junk_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "s.wav"
    for subtype in ("PCM_16", "PCM_U8", "DOUBLE"):
        whole = _wav(path, subtype)
        path.write_bytes(whole + b"LIST\x04\x00\x00\x00INFOtrailing junk")
        assert _probe(path) == "ok", subtype
    aiff = bytes(_aiff(tmp_path / "s.aiff"))
    (tmp_path / "s.aiff").write_bytes(aiff + b"ANNO\x00\x00\x00\x04note")
    assert _probe(tmp_path / "s.aiff") == "ok"
    flac = tmp_path / "s.flac"
    sf.write(str(flac), np.zeros(5000), RATE, subtype="PCM_16")
    flac.write_bytes(flac.read_bytes() + b"TAG" + bytes(125))
    assert _probe(flac) == "ok"
    # A FLAC file behind an ID3v2 tag (libsndfile reads it but cannot seek in it), whole
    # and cut.
    tag = b"ID3\x04\x00\x00\x00\x00\x00\x14" + bytes(20)
    sf.write(str(flac), np.linspace(-0.5, 0.5, 5000) ** 3, RATE, subtype="PCM_16")
    whole = flac.read_bytes()
    flac.write_bytes(tag + whole)
    assert _probe(flac) == "ok"
    flac.write_bytes(tag + whole[:-50])
    assert "the header promises 5000 frames but the file holds " in _probe(flac)
    # A data chunk marked "until the end of the file" (a streaming writer's) promises nothing.
    data = bytearray(_wav(path, "PCM_U8"))
    at = data.index(b"data") + 4
    data[at : at + 4] = b"\xff\xff\xff\xff"
    path.write_bytes(bytes(data))
    assert _probe(path) == "ok"


def test_the_demo_stems_and_the_corpus_probe_cleanly() -> None:
    files = sorted((REPO / "mixes" / "demo" / "stems").glob("*.flac"))
    files += sorted((SHARED / "corpus").glob("*/*.*"))
    files = [p for p in files if p.suffix.lower() not in (".md", ".txt")]
    assert len(files) >= 5
    for path in files:
        assert _probe(path) == "ok", path
    result = runner.invoke(app, ["check", str(REPO / "mixes" / "demo" / "demo.toml")])
    assert result.exit_code == 0, result.output


def test_an_impulse_response_cut_short_is_refused(tmp_path: Path) -> None:
    (tmp_path / "s.wav").write_bytes(_wav(tmp_path / "s.wav"))
    ir = tmp_path / "ir.wav"
    whole = _wav(ir, "PCM_24", "WAVEX")
    ir.write_bytes(whole[: len(whole) - 100])
    mix = tmp_path / "mix.toml"
    mix.write_text(
        MIX.format(source="s.wav") + '[[track.insert]]\ntype = "convolution"\nir = "ir.wav"\n'
    )
    (check, _render) = _refused(tmp_path, mix, "ir.wav")
    assert "the header promises 300 frames but the file holds 266;" in check, check


# --- arrays in memory -------------------------------------------------------------------


def _array_mix(tmp_path: Path) -> Path:
    (tmp_path / "s.wav").write_bytes(_wav(tmp_path / "s.wav"))
    mix = tmp_path / "mix.toml"
    mix.write_text(MIX.format(source="s.wav"))
    return mix


@pytest.mark.parametrize(
    ("subtype", "dtype"),
    [("PCM_16", "int16"), ("PCM_32", "int32"), ("PCM_U8", "uint8"), ("PCM_S8", "int8")],
)
def test_integer_arrays_render_as_soundfile_reads_the_same_integer_file(
    tmp_path: Path, subtype: str, dtype: str
) -> None:
    mix = _array_mix(tmp_path)
    rng = np.random.default_rng(5)
    info = np.iinfo(dtype)
    ints = rng.integers(info.min, info.max, size=(2000, 2), endpoint=True, dtype=dtype)
    # The same samples in a file of that width (AIFF holds signed 8-bit, WAV unsigned), as
    # soundfile reads it, as float64.
    fmt = "AIFF" if subtype == "PCM_S8" else "WAV"
    file = tmp_path / f"ints.{fmt.lower()}"
    if dtype in ("int16", "int32"):
        sf.write(str(file), ints, RATE, subtype=subtype, format=fmt)
    else:  # soundfile writes no 8-bit arrays: through int16, exactly (x * 256)
        wide = ints.astype(np.int16) - (128 if dtype == "uint8" else 0)
        sf.write(str(file), (wide * 256).astype(np.int16), RATE, subtype=subtype, format=fmt)
    floats, rate = sf.read(str(file), dtype="float64", always_2d=True)
    assert floats.shape == ints.shape and rate == RATE
    by_float = mixrender.load(mix, sources={"s.wav": (floats, RATE)}).render(dtype="float64")
    by_int = mixrender.load(mix, sources={"s.wav": (ints, RATE)}).render(dtype="float64")
    assert np.array_equal(by_float, by_int)
    assert np.abs(by_int).max() <= 1.0  # not the raw numbers (+67 dBFS for int16)
    assert np.abs(by_int).max() > 0.5


@pytest.mark.parametrize(
    ("array", "words"),
    [
        (np.zeros(100, dtype=bool), "dtype bool"),
        (np.zeros(100, dtype=np.complex128), "dtype complex128"),
        (np.array([0.0] * 100, dtype=object), "dtype object"),
        (np.zeros(100, dtype=np.int64), "dtype int64, which no audio file holds"),
        (np.zeros(100, dtype=np.uint16), "dtype uint16, which no audio file holds"),
    ],
)
def test_refused_dtypes_say_which_are_accepted(
    tmp_path: Path, array: np.ndarray, words: str
) -> None:
    mix = _array_mix(tmp_path)
    with pytest.raises(mixrender.SourceError) as e:
        mixrender.load(mix, sources={"s.wav": (array, RATE)}).check()
    message = str(e.value)
    assert words in message and "float32 or float64" in message and "int16" in message, message
    assert "\n" not in message


@pytest.mark.parametrize("rate", [0, 1, 7999, 384001, 2147483647, True, 48000.0])
def test_in_memory_sample_rates_outside_8k_384k_are_refused(tmp_path: Path, rate: object) -> None:
    mix = _array_mix(tmp_path)
    with pytest.raises(mixrender.SourceError, match="sample rate"):
        mixrender.load(mix, sources={"s.wav": (np.zeros(100), rate)}).check()  # type: ignore[dict-item]
    for ok in (8000, 384000):
        mixrender.load(mix, sources={"s.wav": (np.zeros(100), ok)}).check()
