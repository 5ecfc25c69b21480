"""The command line: exit codes, one-line errors, the summary."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from conftest import MixWriter, noise
from mixrender.cli import app

runner = CliRunner()

MIX = """
format = "mixrender/1"
[session]
sample_rate = 48000
[[track]]
name = "T"
source = "s.wav"
"""


def test_render_prints_a_summary_and_writes_beside_the_mix(
    write_mix: MixWriter, tmp_path: Path
) -> None:
    mix = write_mix(MIX, s__wav=(noise(0.5), 48000))
    result = runner.invoke(app, ["render", str(mix)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "mix.wav").exists()
    lines = result.output.splitlines()
    sha = [ln for ln in lines if ln.startswith("sha256: ")]
    assert len(sha) == 1 and len(sha[0].split()[1]) == 64
    assert "0:02.500" in result.output  # 0.5 s of source + the default 2 s tail
    assert "dBFS" in result.output and "clipped" in result.output


def test_render_options(write_mix: MixWriter, tmp_path: Path) -> None:
    mix = write_mix(MIX, s__wav=(noise(0.5), 48000))
    out = tmp_path / "sub" / "o.flac"
    args = ["render", str(mix), "-o", str(out), "--rough", "--block-size", "100", "--threads", "1"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert out.exists()


def test_a_mix_error_is_one_line_and_exit_1(write_mix: MixWriter) -> None:
    mix = write_mix(MIX.replace("sample_rate = 48000", "sample_rate = 48000\ngian = 1"))
    result = runner.invoke(app, ["render", str(mix)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "mix.toml:" in result.output and "gian" in result.output


def test_a_missing_source_is_exit_1_and_names_it(write_mix: MixWriter) -> None:
    mix = write_mix(MIX)
    result = runner.invoke(app, ["check", str(mix)])
    assert result.exit_code == 1
    assert "s.wav" in result.output and "not found" in result.output


def test_usage_errors_exit_2(write_mix: MixWriter) -> None:
    mix = write_mix(MIX, s__wav=(noise(0.1), 48000))
    assert runner.invoke(app, ["render", str(mix), "--block-size", "0"]).exit_code == 2
    assert runner.invoke(app, ["render", str(mix), "--threads", "zero"]).exit_code == 2
    assert runner.invoke(app, ["render"]).exit_code == 2
    assert runner.invoke(app, ["render", "/nonexistent/mix.toml"]).exit_code == 2
    assert runner.invoke(app, ["frobnicate"]).exit_code == 2


def test_check_validates_without_rendering(write_mix: MixWriter, tmp_path: Path) -> None:
    mix = write_mix(MIX, s__wav=(noise(0.1), 48000))
    result = runner.invoke(app, ["check", str(mix)])
    assert result.exit_code == 0, result.output
    assert "ok" in result.output
    assert not (tmp_path / "mix.wav").exists()


def test_python_dash_m_works(write_mix: MixWriter, tmp_path: Path) -> None:
    mix = write_mix(MIX, s__wav=(np.zeros(100), 48000))
    run = subprocess.run(
        [sys.executable, "-m", "mixrender", "check", str(mix)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "ok" in run.stdout


def test_a_render_of_wav_files_imports_neither_numpy_nor_soundfile(
    write_mix: MixWriter, tmp_path: Path
) -> None:
    # They are most of the start-up of a short render, and the engine reads and writes WAV
    # itself; a FLAC source, in contrast, is read through both.
    script = (
        "import runpy, sys\n"
        "sys.argv = ['mixrender', 'render', sys.argv[1], '-o', sys.argv[2]]\n"
        "try:\n"
        "    runpy.run_module('mixrender', run_name='__main__')\n"
        "except SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        "print(sorted({'numpy', 'soundfile'} & set(sys.modules)))\n"
    )
    for source in ("s.wav", "s.flac"):
        mix = write_mix(
            MIX.replace("s.wav", source),
            **{source.replace(".", "__"): (noise(0.5), 48000, "PCM_24")},
        )
        run = subprocess.run(
            [sys.executable, "-c", script, str(mix), str(tmp_path / "out.wav")],
            capture_output=True,
            text=True,
            check=False,
        )
        assert run.returncode == 0, run.stderr
        imported = run.stdout.strip().splitlines()[-1]
        assert imported == ("[]" if source == "s.wav" else "['numpy', 'soundfile']"), source


def test_messages_reach_the_terminal_with_their_brackets(write_mix: MixWriter) -> None:
    """Brackets in a message are text, not rich markup: `[session]` and `[[track]]` (and
    a track name like "[L] Vox") are printed as the message holds them."""
    musical = MIX.replace('source = "s.wav"', 'source = "s.wav"\noffset_s = "2:1"')
    result = runner.invoke(app, ["check", str(write_mix(musical))])
    assert result.exit_code == 1
    assert "needs tempo_bpm in [session]; set it or write seconds" in result.output
    single = MIX.replace("[[track]]", "[track]")
    result = runner.invoke(app, ["check", str(write_mix(single))])
    assert result.exit_code == 1
    assert "write each as [[track]] (double brackets)" in result.output
    named = MIX.replace('name = "T"', 'name = "[L] Vox"')
    result = runner.invoke(app, ["check", str(write_mix(named))])
    assert result.exit_code == 1
    assert 'track "[L] Vox" > source' in result.output


def test_the_error_line_prints_a_message_exactly() -> None:
    """What `_fail` prints is `error: ` and the message, byte for byte, on one line, whatever
    rich markup or brackets the message holds and however narrow the terminal."""
    import typer

    from mixrender import cli
    from mixrender.errors import MixError

    message = "song.toml:3: [session] > [[track]] [bold]x[/] [/] \\[red] " + "y" * 200
    with cli.err.capture() as captured:
        assert isinstance(cli._fail(MixError(message)), typer.Exit)
    assert captured.get() == f"error: {message}\n"
