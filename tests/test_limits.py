"""A mix is untrusted input: limits, regular files only, one line per failure (docs/limits.md).

Files that would block (a FIFO) or never end (`/dev/zero`) are refused at once, before any
open: every such test runs the command in a child with a timeout, so that a hang fails the
test instead of blocking the suite. Each limit is checked at its boundary: the largest value
allowed loads, one more is an error naming the file, the line and the limit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import tomllib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

import mixrender
from conftest import MixWriter, noise
from mixrender import schema
from mixrender.cli import app
from mixrender.errors import MixError, MixFileError, SourceError
from mixrender.mixfile import parse_mixfile

runner = CliRunner()

HEAD = 'format = "mixrender/1"\n[session]\nsample_rate = 48000\n'
MIX = HEAD + '[[track]]\nname = "Vox"\nsource = "s.wav"\n'
IR_MIX = MIX + (
    'sends = [{ to = "Plate", level_db = 0.0 }]\n'
    '[[bus]]\nname = "Plate"\n  [[bus.insert]]\n  type = "convolution"\n  ir = "ir.wav"\n'
)

#: Seconds a refused file may take; a FIFO that blocked would never return.
TIMEOUT = 60


def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m mixrender ARGS` in a child, killed (and the test failed) after TIMEOUT."""
    return subprocess.run(
        [sys.executable, "-m", "mixrender", *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        timeout=TIMEOUT,
        cwd=cwd,
    )


def one_line_error(result: subprocess.CompletedProcess[str], *needles: str, code: int = 1) -> str:
    """The failure is exit `code` (1; `diff` says 2 for trouble, as diff(1) does) and one
    line on stderr, naming what it should."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def zero_link(path: Path) -> Path:
    path.symlink_to("/dev/zero")
    return path


# --- regular files only ------------------------------------------------------------------------


def test_a_fifo_as_the_mix_is_refused_at_once(tmp_path: Path) -> None:
    mix = fifo(tmp_path / "mix.toml")
    for command in ("check", "render", "verify"):
        one_line_error(run(command, mix), "mix.toml", "FIFO")
    one_line_error(run("diff", mix, mix), "mix.toml", "FIFO", code=2)
    one_line_error(run("analyze", mix), "mix.toml", "FIFO")


def test_a_symlink_to_dev_zero_as_the_mix_is_a_device(tmp_path: Path) -> None:
    mix = zero_link(tmp_path / "mix.toml")
    one_line_error(run("check", mix), "mix.toml", "character device")
    one_line_error(run("render", mix), "mix.toml", "character device")


@pytest.mark.parametrize("make", [fifo, zero_link], ids=["fifo", "dev-zero"])
def test_a_source_that_is_no_regular_file_is_refused(
    write_mix: MixWriter, tmp_path: Path, make: object
) -> None:
    mix = write_mix(MIX)
    make(tmp_path / "s.wav")  # type: ignore[operator]
    for command in ("check", "render"):
        one_line_error(run(command, mix), "mix.toml:4", 'track "Vox" > source', "s.wav")
    with pytest.raises(SourceError, match="not a regular file"):
        mixrender.load(mix).check()


def test_a_fifo_as_an_impulse_response_is_refused(write_mix: MixWriter, tmp_path: Path) -> None:
    mix = write_mix(IR_MIX, s__wav=(noise(0.1), 48000))
    fifo(tmp_path / "ir.wav")
    for command in ("check", "render"):
        one_line_error(run(command, mix), 'insert "convolution" > ir', "ir.wav", "FIFO")


def test_a_fifo_as_the_lock_is_refused(write_mix: MixWriter, tmp_path: Path) -> None:
    mix = write_mix(MIX, s__wav=(noise(0.1), 48000))
    fifo(tmp_path / "mix.lock")
    one_line_error(run("verify", mix), "mix.lock", "FIFO")


def test_analyze_and_init_refuse_a_fifo(tmp_path: Path) -> None:
    one_line_error(run("analyze", fifo(tmp_path / "a.wav")), "a.wav", "FIFO")
    stems = tmp_path / "stems"
    stems.mkdir()
    sf.write(str(stems / "bass.wav"), noise(0.1), 48000)
    fifo(stems / "vox.wav")
    one_line_error(run("init", stems, "-o", tmp_path / "rough.toml"), "vox.wav", "FIFO")


def test_a_batch_fails_the_jobs_of_fifos_and_devices_and_renders_the_others(
    write_mix: MixWriter, tmp_path: Path
) -> None:
    write_mix(MIX, name="good.toml", s__wav=(noise(0.1), 48000))
    fifo(tmp_path / "pipe.toml")
    manifest = tmp_path / "jobs.toml"
    manifest.write_text(
        '[[job]]\nmix = "good.toml"\nout = "good.wav"\n'
        '[[job]]\nmix = "pipe.toml"\nout = "pipe.wav"\n'
        '[[job]]\nmix = "/dev/zero"\nout = "zero.wav"\n'
    )
    out = tmp_path / "out"
    result = run("batch", manifest, "-o", out, "--workers", "1")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    failed = [line for line in result.stdout.splitlines() if line.startswith("failed:")]
    assert len(failed) == 2, result.stdout
    assert "pipe.toml" in failed[0] and "FIFO" in failed[0]
    assert "/dev/zero" in failed[1] and "character device" in failed[1]
    assert sf.info(str(out / "good.wav")).frames == 4800 + 96000  # the source, then tail_s
    # A FIFO given as the batch's own argument (a manifest or a mix) is one failed job too.
    result = run("batch", tmp_path / "pipe.toml", "-o", tmp_path / "out2", "--workers", "1")
    assert result.returncode == 1 and "FIFO" in result.stdout, result.stdout + result.stderr


# --- limits ------------------------------------------------------------------------------------


def strips(tracks: int, buses: int) -> str:
    text = HEAD + "".join(f'[[track]]\nname = "t{i}"\nsource = "s.wav"\n' for i in range(tracks))
    for i in range(buses):  # a chain: each bus feeds the next
        out = f"b{i + 1}" if i + 1 < buses else "master"
        text += f'[[bus]]\nname = "b{i}"\noutput = "{out}"\n'
    return text


def test_tracks_and_buses_together_are_at_most_2048(tmp_path: Path) -> None:
    assert schema.MAX_STRIPS == 2048
    loaded = parse_mixfile(strips(1024, 1024), tmp_path / "mix.toml")
    assert len(loaded.tracks) + len(loaded.buses) == 2048
    with pytest.raises(MixFileError) as e:
        parse_mixfile(strips(1024, 1025), tmp_path / "mix.toml")
    assert e.value.path == "bus[1025]", str(e.value)
    assert e.value.line == 3 + 3 * 1024 + 3 * 1024 + 1  # its [[bus]] header
    assert "1024 tracks and 1025 buses" in str(e.value) and "at most 2048" in str(e.value)
    with pytest.raises(MixFileError, match="2049 tracks and 0 buses") as e:
        parse_mixfile(strips(2049, 0), tmp_path / "mix.toml")
    assert e.value.path == "track[2049]" and e.value.line == 3 + 3 * 2048 + 1


def lane(points: int, line: bool = False) -> str:
    sep = ",\n" if line else ","
    body = sep.join(f"[{i / 1000!r}, {-(i % 7)}]" for i in range(points))
    return MIX + f"[track.automation]\ngain_db = [{body}]\n"


def test_a_lane_has_at_most_a_million_points(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert schema.MAX_LANE_POINTS == 1_000_000
    monkeypatch.setattr(schema, "MAX_LANE_POINTS", 100)  # the boundary, without 10^6 points
    assert len(parse_mixfile(lane(100), tmp_path / "m.toml").tracks[0].automation) == 1
    with pytest.raises(MixFileError) as e:
        parse_mixfile(lane(101), tmp_path / "m.toml")
    assert e.value.line == 8 and e.value.path == 'track "Vox" > automation > gain_db'
    assert "101 points" in str(e.value) and "at most 100" in str(e.value)


def cpu_seconds_to_load(text: str, path: Path) -> float:
    start = time.process_time()
    parse_mixfile(text, path)
    return time.process_time() - start


def test_loading_a_lane_is_linear_in_its_points(tmp_path: Path) -> None:
    small, large = lane(20_000, line=True), lane(200_000, line=True)
    cpu_seconds_to_load(small, tmp_path / "warm.toml")
    ratio = cpu_seconds_to_load(large, tmp_path / "l.toml") / cpu_seconds_to_load(
        small, tmp_path / "s.toml"
    )
    assert ratio < 25, ratio  # 10x the points: ~10x the time (quadratic would be 100x)


def test_a_lane_of_a_million_points_checks_in_seconds(write_mix: MixWriter) -> None:
    mix = write_mix(lane(1_000_000), s__wav=(noise(0.1), 48000))
    start = time.process_time()
    loaded = mixrender.load(mix)
    loaded.check()
    seconds = time.process_time() - start
    points = loaded.file.tracks[0].automation["gain_db"].points
    assert len(points) == 1_000_000 and points[-1].seconds == 999.999
    assert points[-1].line == 8  # all on the lane's line
    assert seconds < 30, seconds  # ~8 s of CPU here; minutes before


def test_points_keep_their_own_lines(tmp_path: Path) -> None:
    points = parse_mixfile(lane(5, line=True), tmp_path / "m.toml").tracks[0].automation
    assert [p.line for p in points["gain_db"].points] == [8, 9, 10, 11, 12]
    bad = lane(5, line=True).replace("[0.003, -3]", "[0.003, 99]")
    with pytest.raises(MixFileError, match="value 99 for gain_db") as e:
        parse_mixfile(bad, tmp_path / "m.toml")
    assert e.value.line == 11


def test_the_output_lasts_at_most_4_hours(write_mix: MixWriter, tmp_path: Path) -> None:
    assert schema.MAX_OUTPUT_S == 4 * 3600
    end = HEAD.replace("48000", "384000") + "end = {}\n"
    assert parse_mixfile(end.format("14400"), tmp_path / "m.toml").session.end == 14400.0
    with pytest.raises(MixFileError) as e:
        parse_mixfile(end.format("86400"), tmp_path / "m.toml")
    assert e.value.line == 4 and e.value.path == "session > end"
    assert "24:00:00" in str(e.value) and "at most 4:00:00 (14400 s)" in str(e.value)
    # "auto": the last source's end, found at check time from the header.
    late = MIX + "offset_s = 14399.0\n"
    mix = write_mix(late, s__wav=(noise(0.1), 48000))
    with pytest.raises(MixFileError, match=r"14401\.100 s long .*at most 14400 s") as e2:
        mixrender.load(mix).check()
    assert e2.value.path == "session > end" and e2.value.line == 2
    one_line_error(run("check", mix), "at most 14400 s")


def nested(depth: int) -> str:
    return HEAD + "x = " + "[" * depth + "]" * depth + "\n"


def test_toml_nesting_is_at_most_64_and_never_a_recursion_error(tmp_path: Path) -> None:
    assert schema.MAX_NESTING == 64
    with pytest.raises(MixFileError, match='unknown key "x"'):  # 64 deep: read, then judged
        parse_mixfile(nested(64), tmp_path / "m.toml")
    for depth in (65, 400, 5000):
        with pytest.raises(MixFileError, match="nested more than 64 deep") as e:
            parse_mixfile(nested(depth), tmp_path / "m.toml")
        assert e.value.line == 4
    inline = HEAD + "\n\ny = " + "{a = " * 70 + "1" + "}" * 70 + "\n"
    with pytest.raises(MixFileError, match="nested more than 64 deep") as e:
        parse_mixfile(inline, tmp_path / "m.toml")
    assert e.value.line == 6
    dotted = HEAD + "a." * 70 + "b = 1\n"
    with pytest.raises(MixFileError, match="nested more than 64 deep"):
        parse_mixfile(dotted, tmp_path / "m.toml")
    # Brackets inside strings and comments are text, not nesting.
    text = HEAD + 'name = "' + "[" * 100 + "'''\"\n# " + "{" * 100 + "\n"
    assert parse_mixfile(text, tmp_path / "m.toml").session.name == "[" * 100 + "'''"
    path = tmp_path / "deep.toml"
    path.write_text(nested(1000))
    one_line_error(run("check", path), "deep.toml:4", "nested more than 64 deep")


def test_threads_are_clamped_to_the_cores_and_blocks_are_at_least_64(
    write_mix: MixWriter, tmp_path: Path
) -> None:
    mix = write_mix(MIX, s__wav=(noise(0.2), 48000))
    cores = os.cpu_count() or 1
    out = tmp_path / "many.wav"
    result = run("render", mix, "-o", out, "--threads", "100000")
    assert result.returncode == 0, result.stderr
    assert f"--threads 100000 is more than the {cores} cores; using {cores}" in result.stderr
    one = runner.invoke(
        app, ["render", str(mix), "-o", str(tmp_path / "one.wav"), "--threads", "1"]
    )
    assert one.exit_code == 0, one.output
    assert (tmp_path / "one.wav").read_bytes() == out.read_bytes()
    small = runner.invoke(app, ["render", str(mix), "--block-size", "63"])
    assert small.exit_code == 2 and "64<=x<=65536" in small.output
    ok = runner.invoke(
        app, ["render", str(mix), "-o", str(tmp_path / "b.wav"), "--block-size", "64"]
    )
    assert ok.exit_code == 0, ok.output
    assert (tmp_path / "b.wav").read_bytes() == out.read_bytes()
    help_text = runner.invoke(app, ["render", "--help"]).output
    assert "clamped" in help_text and "65536" in help_text


# --- corrupt audio: one line ---------------------------------------------------------------------


def corrupt_files(folder: Path) -> dict[str, Path]:
    """Tiny audio files broken in the ways a campaign breaks them."""
    folder.mkdir(exist_ok=True)
    x = 0.3 * np.sin(np.arange(48000) / 10.0)
    good = folder / "good.flac"
    sf.write(str(good), x, 48000)
    data = good.read_bytes()
    mangled = bytearray(data)
    for i in range(200, len(mangled), 97):
        mangled[i] ^= 0xA5
    files = {
        "cut.flac": data[: len(data) // 2],
        "mangled.flac": bytes(mangled),
        "header-only.flac": data[:42],
        "garbage.flac": bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8)),
        "empty.flac": b"",
        "garbage.wav": b"RIFF\x10\x00\x00\x00WAVEfmt " + b"\xff" * 64,
    }
    good.unlink()
    out = {}
    for name, content in files.items():
        (folder / name).write_bytes(content)
        out[name] = folder / name
    return out


def test_analyze_on_corrupt_audio_is_one_line(tmp_path: Path) -> None:
    for name, path in corrupt_files(tmp_path / "bad").items():
        result = runner.invoke(app, ["analyze", str(path)])
        assert result.exit_code == 1, (name, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit), name
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and name in lines[0] and lines[0].startswith("error:"), lines


def test_a_file_of_no_known_format_is_one_line_on_stderr_too(tmp_path: Path) -> None:
    """libsndfile probing random bytes lets libmpg123 print a warning on descriptor 2."""
    garbage = corrupt_files(tmp_path / "bad")["garbage.flac"]
    one_line_error(run("analyze", garbage), "garbage.flac", "cannot be read as audio")
    stems = tmp_path / "stems"
    stems.mkdir()
    garbage.rename(stems / "garbage.flac")
    one_line_error(run("init", stems, "-o", tmp_path / "r.toml"), "garbage.flac")


def test_init_on_corrupt_audio_is_one_line(tmp_path: Path) -> None:
    for name, path in corrupt_files(tmp_path / "bad").items():
        stems = tmp_path / f"stems-{name}"
        stems.mkdir()
        path.rename(stems / name)
        result = runner.invoke(app, ["init", str(stems), "-o", str(tmp_path / f"{name}.toml")])
        assert result.exit_code == 1, (name, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit), name
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and name in lines[0], lines


# --- verify with a lock of the wrong shape -------------------------------------------------------

#: (what is done to the lock's text, words the error says)
LOCK_DAMAGE: Sequence[tuple[str, str, str]] = [
    ("not TOML", "= = =", "cannot read the lock file"),
    ("empty", "", "plan_sha256 is missing"),
    ("no plan_sha256", "drop:plan_sha256", "plan_sha256 is missing"),
    ("no audio_sha256", "drop:audio_sha256", "audio_sha256 is missing"),
    ("no plan", "drop:plan", "plan is missing"),
    ("plan_sha256 a number", "set:plan_sha256 = 5", "plan_sha256 is an integer, not a string"),
    ("audio_sha256 a list", "set:audio_sha256 = [1]", "audio_sha256 is a list, not a string"),
    ("plan a table", "set:plan = { a = 1 }", "plan is a table, not a string"),
    ("plan not JSON", 'set:plan = "{not json"', "plan is not the JSON object"),
    ("plan a JSON list", 'set:plan = "[1, 2]"', "plan is not the JSON object"),
    ("version a number", "set:mixrender_version = 1", "mixrender_version is an integer"),
    ("output a boolean", "set:output = true", "output is true/false, not a string"),
    ("frames a string", 'set:frames = "many"', "frames is a string, not an integer"),
    ("source a table", "source-table", "source is a table, not a list"),
    ("source a list of numbers", "source-numbers", "source[1] is an integer, not a table"),
    ("source without sha256", "source:sha256", "source[1] > sha256 is missing"),
    ("source sha256 a number", "source=sha256 = 7", "source[1] > sha256 is an integer"),
    ("source track a number", "source=track = 7", "source[1] > track is an integer"),
    ("source without track", "source:track", "source[1] > track is missing"),
    ("source ir a string", 'source=ir = "yes"', "source[1] > ir is a string, not true/false"),
    ("ir without path", "source=ir = true\n#:path", "source[1] > path is missing"),
]


def one_line_plan(text: str) -> str:
    """The lock with its multi-line plan as a one-line string, so that lines can be edited."""
    plan = tomllib.loads(text)["plan"]
    start = text.index("plan = '''")
    end = text.index("'''", start + len("plan = '''")) + 3
    return text[:start] + "plan = " + json.dumps(plan) + text[end:]


def damage(text: str, how: str) -> str:
    head, _, sources = one_line_plan(text).partition("[[source]]")
    lines = head.splitlines()
    if how.startswith("drop:"):
        key = how[5:]
        return (
            "\n".join(x for x in lines if not x.startswith(f"{key} =")) + "\n[[source]]" + sources
        )
    if how.startswith("set:"):
        key = how[4:].split(" =")[0]
        kept = [x for x in lines if not x.startswith(f"{key} =")]
        return "\n".join([how[4:], *kept]) + "\n[[source]]" + sources
    if how == "source-table":
        return head + "[source]" + sources
    if how == "source-numbers":
        return head + "source = [1, 2]\n"
    entry = sources.splitlines()
    if how.startswith("source:"):
        key = how[7:]
        entry = [x for x in entry if not x.startswith(f"{key} =")]
    elif how.startswith("source="):
        assignment, _, drop = how[7:].partition("\n#:")
        key = assignment.split(" =")[0]
        entry = [x for x in entry if not x.startswith((f"{key} =", f"{drop} =" if drop else "\0"))]
        entry.insert(1, assignment)
    return head + "[[source]]" + "\n".join(entry) + "\n"


def test_verify_with_a_lock_of_the_wrong_shape_is_one_line(write_mix: MixWriter) -> None:
    mix = write_mix(MIX, s__wav=(noise(0.1), 48000))
    assert runner.invoke(app, ["render", str(mix)]).exit_code == 0
    lock = mix.with_suffix(".lock")
    good = lock.read_text()
    assert runner.invoke(app, ["verify", str(mix)]).exit_code == 0
    assert len(LOCK_DAMAGE) >= 13
    for name, how, says in LOCK_DAMAGE:
        lock.write_text(how if how in ("= = =", "") else damage(good, how))
        result = runner.invoke(app, ["verify", str(mix)])
        assert result.exit_code == 1, (name, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit), name
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1, (name, lines)
        assert "mix.lock" in lines[0] and says in lines[0], (name, lines[0])
        with pytest.raises(MixError):
            mixrender.load(mix).verify()


def test_a_hand_edited_plan_reads_as_a_changed_plan(write_mix: MixWriter) -> None:
    mix = write_mix(MIX, s__wav=(noise(0.1), 48000))
    mixrender.load(mix).render(mix.with_suffix(".wav"))
    lock = mix.with_suffix(".lock")
    text = "\n".join(
        'plan = "{\\"strips\\": [{\\"name\\": 1}]}"'
        if x.startswith("plan =")
        else f'plan_sha256 = "{"0" * 64}"'
        if x.startswith("plan_sha256 =")
        else x
        for x in one_line_plan(lock.read_text()).splitlines()
    )
    lock.write_text(text + "\n")
    result = mixrender.load(mix).verify()
    assert not result.identical
    assert len(result.differences) == 1
    assert "not in the form a render writes" in result.differences[0]


def test_many_strips_are_called_in_smaller_blocks_with_the_same_bits(
    write_mix: MixWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mixrender import render

    track = '[[track]]\nname = "t{}"\nsource = "s.wav"\npan = {}\noutput = "b{}"\n'
    text = HEAD + "".join(track.format(i, (i % 9 - 4) / 4, i % 3) for i in range(40))
    text += "".join(f'[[bus]]\nname = "b{i}"\ngain_db = {-i}.0\n' for i in range(3))
    text += '[[track.insert]]\ntype = "compressor"\nsidechain = "t0"\n'  # not pipelined
    mix = mixrender.load(write_mix(text, s__wav=(noise(0.3), 48000)))
    monkeypatch.setattr(render, "STRIP_FRAMES", 1 << 40)
    whole = render.BlockRender(mix.file).block
    reference = mix.render(dtype="float64")
    monkeypatch.setattr(render, "STRIP_FRAMES", 43 * 100)  # 43 strips: calls of 64 frames
    assert (whole, render.BlockRender(mix.file).block) == (render.DEFAULT_BLOCK, 64)
    assert np.array_equal(mix.render(dtype="float64"), reference)
