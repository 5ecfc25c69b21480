"""Nothing a mix file or a command line says may destroy a file or escape its folder.

Every case is a render that once exited 0 having overwritten one of its own inputs, written
outside its output folder, let git write a file, told whether a path outside the allowed
roots exists, printed a traceback, or left temporary files behind. Each checks that the
command fails with one line, exit 1, and that no file of the folder changed.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import soundfile as sf
from typer.testing import CliRunner

import mixrender
from conftest import noise, tone
from mixrender.cli import app
from mixrender.diff import load_version
from mixrender.errors import MixError, MixFileError, RenderError, SourceError

runner = CliRunner()

MIX = """\
format = "mixrender/1"
[session]
sample_rate = 48000
tail_s = 0.0
[[track]]
name = "Song"
source = "{source}"
"""


def write_mix(path: Path, source: str = "song.wav", extra: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(MIX.format(source=source) + textwrap.dedent(extra))
    return path


def write_source(path: Path, seconds: float = 0.1, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), noise(seconds, seed=seed), 48000, subtype="PCM_16")
    return path


#: The package under test, for the commands run as child processes.
PACKAGE_ENV = {**os.environ, "PYTHONPATH": str(Path(mixrender.__file__).parent.parent)}


def snapshot(folder: Path) -> dict[str, bytes | str]:
    """Every file under `folder` (symlinks as their target), to compare before and after."""
    found: dict[str, bytes | str] = {}
    for p in sorted(folder.rglob("*")):
        rel = str(p.relative_to(folder))
        if p.is_symlink():
            found[rel] = "-> " + os.readlink(p)
        elif p.is_file():
            found[rel] = p.read_bytes()
        else:
            found[rel] = "dir"
    return found


def fails_in_one_line(args: list[str], *needles: str, code: int = 1) -> str:
    result = runner.invoke(app, args)
    text = result.output.strip()
    assert result.exit_code == code, text
    assert "Traceback" not in text and isinstance(result.exception, SystemExit), text
    assert len(text.splitlines()) == 1 and text.startswith("error:"), text
    for needle in needles:
        assert needle in text, text
    return text


def temporaries(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.tmp"))


@pytest.fixture
def song(tmp_path: Path) -> Path:
    """song.toml beside its source song.wav."""
    write_source(tmp_path / "song.wav")
    return write_mix(tmp_path / "song.toml")


# --- no output is an input --------------------------------------------------------------------


def test_o_naming_a_source_is_refused_and_nothing_is_written(song: Path, tmp_path: Path) -> None:
    before = snapshot(tmp_path)
    fails_in_one_line(["render", str(song), "-o", str(tmp_path / "song.wav")], "source", "Song")
    assert snapshot(tmp_path) == before


def test_the_default_output_beside_its_source_is_refused(song: Path, tmp_path: Path) -> None:
    before = snapshot(tmp_path)
    fails_in_one_line(["render", str(song)], "song.wav", "source of track 'Song'")
    assert snapshot(tmp_path) == before


def test_a_mix_named_like_its_render_or_its_lock_is_refused(tmp_path: Path) -> None:
    write_source(tmp_path / "stem.wav")
    as_wav = write_mix(tmp_path / "song.wav", "stem.wav")
    before = snapshot(tmp_path)
    fails_in_one_line(["render", str(as_wav)], "mix file")
    as_lock = write_mix(tmp_path / "other.lock", "stem.wav")
    before = snapshot(tmp_path)
    fails_in_one_line(["render", str(as_lock), "-o", str(tmp_path / "o.wav")], "lock file", "mix")
    assert snapshot(tmp_path) == before


def test_a_report_over_the_mix_or_the_output_is_refused(song: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "o.wav"
    before = snapshot(tmp_path)
    fails_in_one_line(["render", str(song), "-o", str(out), "--report", str(song)], "mix file")
    fails_in_one_line(
        ["render", str(song), "-o", str(out), "--report", str(out)], "report", "same file"
    )
    lock = str(tmp_path / "song.lock")
    fails_in_one_line(["render", str(song), "-o", str(out), "--report", lock], "lock", "same file")
    assert snapshot(tmp_path) == before


def test_stems_over_the_sources_they_come_from_are_refused(tmp_path: Path) -> None:
    write_source(tmp_path / "stems" / "Song.wav")
    mix = write_mix(tmp_path / "song.toml", "stems/Song.wav")
    before = snapshot(tmp_path)
    args = ["render", str(mix), "-o", str(tmp_path / "o.wav"), "--stems", str(tmp_path / "stems")]
    fails_in_one_line(args, "stem of 'Song'", "source of track 'Song'")
    assert snapshot(tmp_path) == before


def test_an_output_reaching_a_source_through_a_symlink_or_a_hard_link_is_refused(
    song: Path, tmp_path: Path
) -> None:
    (tmp_path / "link.wav").symlink_to(tmp_path / "song.wav")
    os.link(tmp_path / "song.wav", tmp_path / "hard.wav")
    (tmp_path / "linked").symlink_to(tmp_path, target_is_directory=True)
    before = snapshot(tmp_path)
    for out in ("link.wav", "hard.wav", "linked/song.wav"):
        fails_in_one_line(["render", str(song), "-o", str(tmp_path / out)], "source")
    assert snapshot(tmp_path) == before


def test_an_output_over_an_impulse_response_is_refused(tmp_path: Path) -> None:
    write_source(tmp_path / "song.wav")
    write_source(tmp_path / "hall.wav", 0.05, seed=1)
    extra = """
    [[track.insert]]
    type = "convolution"
    ir = "hall.wav"
    """
    mix = write_mix(tmp_path / "song.toml", extra=extra)
    before = snapshot(tmp_path)
    fails_in_one_line(["render", str(mix), "-o", str(tmp_path / "hall.wav")], "impulse response")
    with pytest.raises(RenderError, match="impulse response"):
        mixrender.load(mix).render(tmp_path / "hall.wav", rough=True)
    assert snapshot(tmp_path) == before


def test_the_api_refuses_too_and_a_legitimate_render_still_writes_all(
    song: Path, tmp_path: Path
) -> None:
    with pytest.raises(RenderError, match="source of track 'Song'"):
        mixrender.load(song).render(tmp_path / "song.wav")
    report = tmp_path / "r" / "report.json"
    rep = mixrender.load(song).render(tmp_path / "out.wav", report=report)
    assert (tmp_path / "out.wav").exists() and (tmp_path / "song.lock").exists()
    assert rep.audio_sha256 in report.read_text()
    assert temporaries(tmp_path) == []


# --- batch: manifests stay inside -o -----------------------------------------------------------


def test_a_manifest_output_outside_the_output_folder_is_refused(tmp_path: Path) -> None:
    write_source(tmp_path / "album" / "song.wav")
    write_mix(tmp_path / "album" / "song.toml")
    victim = tmp_path / "victim" / "keep.wav"
    victim.parent.mkdir()
    victim.write_bytes(b"precious")
    out = tmp_path / "out"
    (out / "sub").mkdir(parents=True)
    (out / "sub" / "away").symlink_to(victim.parent, target_is_directory=True)
    for target in (
        "../victim/keep.wav",
        str(victim),
        "sub/../../victim/keep.wav",
        "sub/away/k.wav",
    ):
        manifest = tmp_path / "album" / "jobs.toml"
        manifest.write_text(f'[[job]]\nmix = "song.toml"\nout = "{target}"\n')
        before = snapshot(tmp_path)
        fails_in_one_line(["batch", str(manifest), "-o", str(out)], "outside the output folder")
        with pytest.raises(MixFileError, match=r"jobs.toml:3: job\[1\] > out"):
            mixrender.batch(manifest, out, workers=1)
        assert snapshot(tmp_path) == before
    assert victim.read_bytes() == b"precious"


def test_an_absolute_manifest_output_inside_an_allowed_root_is_written(tmp_path: Path) -> None:
    write_source(tmp_path / "farm" / "song.wav")
    write_mix(tmp_path / "farm" / "song.toml")
    target = tmp_path / "farm" / "renders" / "song.wav"
    manifest = tmp_path / "farm" / "jobs.toml"
    manifest.write_text(f'[[job]]\nmix = "song.toml"\nout = "{target}"\n')
    (result,) = mixrender.batch(
        manifest, tmp_path / "farm" / "out", workers=1, allow_roots=[tmp_path / "farm"]
    )
    assert result.status == "rendered", result.error
    assert sf.info(str(target)).frames == 4800


def test_a_batch_report_over_a_job_s_mix_or_output_is_refused(tmp_path: Path) -> None:
    write_source(tmp_path / "song.wav")
    mix = write_mix(tmp_path / "song.toml")
    out = tmp_path / "out"
    before = snapshot(tmp_path)
    for report, needle in ((mix, "mix file"), (out / "song.wav", "output of")):
        args = ["batch", str(mix), "-o", str(out), "--report", str(report)]
        fails_in_one_line(args, "batch report", needle)
    assert snapshot(tmp_path) == before


# --- revisions are never options --------------------------------------------------------------


@pytest.fixture
def repo(song: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t"}
    env["GIT_COMMITTER_EMAIL"] = "t@t"
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "add", "song.toml", "song.wav"], cwd=tmp_path, check=True)
    subprocess.run(["git", "commit", "-qm", "song"], cwd=tmp_path, check=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_revision_starting_with_a_dash_never_reaches_git(repo: Path) -> None:
    written = repo / "written-by-git"
    spec = f"--output={written}:x:song.toml"
    # A version that cannot be read is trouble for `diff`, as for diff(1): exit 2.
    fails_in_one_line(["diff", "--", spec, "song.toml"], "starting with '-'", spec, code=2)
    with pytest.raises(MixError, match="starting with '-'"):
        load_version(spec)
    with pytest.raises(MixError, match="starting with '-'"):
        load_version("HEAD:--output=x")
    assert not written.exists()
    # ... while a revision does: the committed version differs from the file by one key.
    (repo / "song.toml").write_text((repo / "song.toml").read_text() + "gain_db = -3.0\n")
    result = runner.invoke(app, ["diff", "HEAD:song.toml", "song.toml"])
    assert result.exit_code == 1, result.output  # the versions differ
    assert "Song: gain_db 0.0 -> -3.0" in result.output


# --- allowed roots ----------------------------------------------------------------------------


def outside_cases(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """(source as the mix writes it, the outside file it names), three ways out of farm/."""
    outside = tmp_path / "outside" / "secret.wav"
    yield "../outside/secret.wav", outside
    yield str(outside), outside
    yield "link.wav", outside  # farm/link.wav -> outside/secret.wav


@pytest.mark.parametrize("way", [0, 1, 2], ids=["dotdot", "absolute", "symlink"])
def test_a_source_outside_the_allowed_root_fails_alike_whether_it_exists_or_not(
    tmp_path: Path, way: int
) -> None:
    farm = tmp_path / "farm"
    farm.mkdir()
    source, outside = list(outside_cases(tmp_path))[way]
    if source == "link.wav":
        (farm / "link.wav").symlink_to(outside)
    mix = write_mix(farm / "song.toml", source)
    args = ["render", str(mix), "-o", str(farm / "o.wav"), "--allow-root", str(farm)]
    missing = fails_in_one_line(args, "outside the allowed folders", "Song")
    with pytest.raises(SourceError, match="outside the allowed folders"):
        mixrender.load(mix, allow_roots=[farm])
    write_source(outside)
    present = fails_in_one_line(args, "outside the allowed folders")
    assert missing == present
    assert not (farm / "o.wav").exists() and not (farm / "song.lock").exists()
    # Without the root, the format allows it.
    assert runner.invoke(app, args[:4]).exit_code == 0


@pytest.mark.parametrize("way", [0, 1], ids=["dotdot", "absolute"])
def test_an_outside_source_is_refused_before_anything_looks_at_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, way: int
) -> None:
    farm = tmp_path / "farm"
    farm.mkdir()
    source, outside = list(outside_cases(tmp_path))[way]
    write_source(outside)
    mix = write_mix(farm / "song.toml", source)
    looked: list[str] = []
    for name in ("stat", "lstat", "open", "readlink", "access"):
        real = getattr(os, name)

        def spy(path: object, *args: object, _real: object = real, **kw: object) -> object:
            looked.append(os.fsdecode(path) if isinstance(path, str | bytes | os.PathLike) else "")
            return _real(path, *args, **kw)  # type: ignore[operator]

        monkeypatch.setattr(os, name, spy)
    with pytest.raises(SourceError, match="outside the allowed folders"):
        mixrender.load(mix, allow_roots=[farm]).render(farm / "o.wav")
    monkeypatch.undo()
    assert looked, "the spies saw nothing: they test nothing"
    assert not [p for p in looked if os.path.normpath(p).startswith(str(outside.parent))]


def test_outputs_outside_the_allowed_root_are_refused(song: Path, tmp_path: Path) -> None:
    farm = tmp_path
    elsewhere = tmp_path.parent / f"{tmp_path.name}-elsewhere"
    roots = ["--allow-root", str(farm)]
    before = snapshot(tmp_path)
    fails_in_one_line(["render", str(song), "-o", str(elsewhere / "o.wav"), *roots], "outside")
    out = str(farm / "o.wav")
    for option in ("--report", "--stems"):
        target = str(elsewhere / ("r.json" if option == "--report" else "stems"))
        fails_in_one_line(["render", str(song), "-o", out, option, target, *roots], "outside")
    assert snapshot(tmp_path) == before and not elsewhere.exists()
    result = runner.invoke(app, ["render", str(song), "-o", out, *roots])
    assert result.exit_code == 0, result.output


def test_a_batch_job_outside_the_allowed_root_fails_alone(tmp_path: Path) -> None:
    farm = tmp_path / "farm"
    write_source(farm / "song.wav")
    write_mix(farm / "good.toml")
    write_mix(farm / "bad.toml", "../outside/secret.wav")
    write_source(tmp_path / "outside" / "secret.wav")
    for cache in (False, None):  # the cache's keys read sources too: checked there as well
        out = farm / ("out-nocache" if cache is False else "out")
        good, bad = mixrender.batch(
            [farm / "good.toml", farm / "bad.toml"], out, allow_roots=[farm], cache=cache
        )
        assert good.status == "rendered", good.error
        assert bad.status == "failed" and "outside the allowed folders" in (bad.error or "")
        assert not (out / "bad.wav").exists()
    result = runner.invoke(
        app, ["batch", str(farm / "bad.toml"), "-o", str(farm / "o"), "--allow-root", str(farm)]
    )
    assert result.exit_code == 1 and "outside the allowed folders" in result.output
    assert "Traceback" not in result.output


# --- one line, exit 1, nothing left -------------------------------------------------------------


def test_o_naming_a_folder_or_under_a_file_is_one_line(song: Path, tmp_path: Path) -> None:
    (tmp_path / "folder.wav").mkdir()
    fails_in_one_line(["render", str(song), "-o", str(tmp_path / "folder.wav")], "is a folder")
    under = tmp_path / "song.toml" / "x" / "o.wav"
    fails_in_one_line(["render", str(song), "-o", str(under)], "a file stands where a folder")
    report = str(tmp_path / "song.toml" / "r.json")
    out = str(tmp_path / "o.wav")
    fails_in_one_line(["render", str(song), "-o", out, "--report", report], "report")
    assert not (tmp_path / "o.wav").exists() and temporaries(tmp_path) == []


def _mount_tmpfs(where: Path, options: str) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], check=False)
    return done.returncode == 0


@pytest.fixture
def readonly(tmp_path: Path) -> Iterator[Path]:
    """A read-only folder: a read-only tmpfs as root (who writes anywhere), else mode 555."""
    where = tmp_path / "ro"
    if _mount_tmpfs(where, "ro,size=64k"):
        yield where
        subprocess.run(["umount", str(where)], check=False)
        return
    where.mkdir()
    where.chmod(0o555)
    yield where
    where.chmod(0o755)


def test_o_in_a_read_only_folder_is_one_line(song: Path, readonly: Path, tmp_path: Path) -> None:
    fails_in_one_line(["render", str(song), "-o", str(readonly / "o.wav")], "cannot write")
    fails_in_one_line(["render", str(song), "-o", str(readonly / "sub" / "o.flac")], "cannot")
    assert list(readonly.iterdir()) == []
    assert not (tmp_path / "song.lock").exists()


@pytest.fixture
def tiny(tmp_path: Path) -> Iterator[Path]:
    where = tmp_path / "tiny"
    if not _mount_tmpfs(where, "size=64k"):
        pytest.skip("a tiny tmpfs needs root")
    yield where
    subprocess.run(["umount", str(where)], check=False)


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".aiff"])
def test_a_disk_that_fills_is_one_line_and_leaves_nothing(
    tmp_path: Path, tiny: Path, suffix: str
) -> None:
    write_source(tmp_path / "song.wav", 3.0)
    mix = write_mix(tmp_path / "song.toml", extra="[render]\nbit_depth = 24\n")
    text = fails_in_one_line(["render", str(mix), "-o", str(tiny / f"o{suffix}")], "failed")
    assert f"{tiny / f'o{suffix}'}: " in text and ".tmp" not in text  # names the output
    assert list(tiny.iterdir()) == []
    assert not (tmp_path / "song.lock").exists()


@pytest.mark.parametrize("suffix", [".flac", ".aiff"])
def test_enospc_while_soundfile_writes_is_one_line(
    song: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    from mixrender import writer

    def full(self: writer.AtomicWriter, block: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(writer.AtomicWriter, "_write", full)
    out = tmp_path / "out" / f"o{suffix}"
    args = ["render", str(song), "-o", str(out), "--block-size", "512"]
    fails_in_one_line(args, "No space left on device")
    assert list(out.parent.iterdir()) == [] and not (tmp_path / "song.lock").exists()


@pytest.mark.parametrize("what", ["lock file", "report"])
def test_a_lock_or_report_that_cannot_be_written_leaves_no_output_and_no_temporary(
    song: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, what: str
) -> None:
    import builtins

    from mixrender import render as render_module

    real_open = builtins.open
    target = "song.lock" if what == "lock file" else "r.json"

    def failing_open(file: object, mode: str = "r", *args: object, **kw: object) -> object:
        if "x" in mode and Path(str(file)).name.startswith(f".{target}."):
            f = real_open(file, mode, *args, **kw)  # type: ignore[call-overload]
            f.close()  # a 0-byte temporary file, as ENOSPC leaves one
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_open(file, mode, *args, **kw)  # type: ignore[call-overload]

    monkeypatch.setattr(render_module, "open", failing_open, raising=False)
    out = tmp_path / "out" / "o.wav"
    args = ["render", str(song), "-o", str(out), "--report", str(tmp_path / "r.json")]
    fails_in_one_line(args, f"cannot write the {what}", "No space left")
    assert not out.exists() and not (tmp_path / "song.lock").exists()
    assert not (tmp_path / "r.json").exists()
    assert temporaries(tmp_path) == []


# --- temporary files ----------------------------------------------------------------------------


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_temporary_names_are_unique_per_call() -> None:
    from mixrender.safepath import temp_path, temp_pid

    names = {temp_path(Path("/x/o.wav")).name for _ in range(100)}
    assert len(names) == 100
    assert all(temp_pid(n, "o.wav") == os.getpid() for n in names)


def test_stale_temporaries_of_gone_processes_are_cleaned_by_the_next_render(
    song: Path, tmp_path: Path
) -> None:
    from mixrender.safepath import _host_tag

    out = tmp_path / "out"
    out.mkdir()
    dead, alive, host = _dead_pid(), os.getppid(), _host_tag()
    other_host = "0" * 8 if host != "0" * 8 else "1" * 8
    stale = [
        out / f".o.wav.{dead}.{host}0123abcd.tmp",
        out / f".Song.wav.{dead}.{host}89abcdef.tmp",
    ]
    kept = [
        out / f".o.wav.{alive}.{host}0123abcd.tmp",  # a live process's
        out / f".o.wav.{dead}.{other_host}0123abcd.tmp",  # another host's: its pid is not ours
        out / "notes.tmp",
        out / f".x.{dead}.tmp",
    ]
    for p in stale + kept:
        p.write_bytes(b"partial")
    mixrender.load(song).render(out / "o.wav", stems=out)
    assert [p for p in stale if p.exists()] == []
    assert all(p.exists() for p in kept)


LONG = """\
format = "mixrender/1"
[session]
sample_rate = 48000
end = 600.0
[[track]]
name = "Tone"
source = "tone.wav"
[[track]]
name = "Noise"
source = "noise.wav"
"""


def test_a_killed_render_with_stems_leaves_temporaries_the_next_render_removes(
    tmp_path: Path,
) -> None:
    sf.write(str(tmp_path / "tone.wav"), tone(1.0), 48000, subtype="PCM_24")
    sf.write(str(tmp_path / "noise.wav"), noise(1.0, channels=2), 48000, subtype="FLOAT")
    mix = tmp_path / "long.toml"
    mix.write_text(LONG)
    out = tmp_path / "out"
    env = PACKAGE_ENV
    cmd = [sys.executable, "-m", "mixrender", "render", str(mix), "-o", str(out / "o.wav")]
    child = subprocess.Popen(
        [*cmd, "--stems", str(out / "stems")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while len(temporaries(out)) < 3:  # the output and both stems are being written
        assert time.monotonic() < deadline and child.poll() is None, "the render never started"
        time.sleep(0.005)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    left = temporaries(out)
    assert {p.parent.name for p in left} == {"out", "stems"}
    assert all(f".{child.pid}." in p.name for p in left)
    assert not (out / "o.wav").exists()

    short = tmp_path / "short.toml"
    short.write_text(LONG.replace("end = 600.0", "end = 0.1"))
    mixrender.load(short).render(out / "o.wav", stems=out / "stems")
    assert temporaries(out) == []


BATCH_MIX = """\
format = "mixrender/1"
[session]
sample_rate = 48000
end = 10.0
[[track]]
name = "Tone"
source = "../stems/tone.wav"
gain_db = {gain_db}
"""


def test_two_batches_into_one_folder_both_succeed(tmp_path: Path) -> None:
    album = tmp_path / "album"
    (album / "stems").mkdir(parents=True)
    (album / "songs").mkdir()
    sf.write(str(album / "stems" / "tone.wav"), tone(1.0), 48000, subtype="PCM_16")
    for i in range(10):
        (album / "songs" / f"s{i}.toml").write_text(BATCH_MIX.format(gain_db=-float(i)))
    out = tmp_path / "out"
    env = PACKAGE_ENV
    cmd = [sys.executable, "-m", "mixrender", "batch", str(album / "songs" / "*.toml")]
    runs = [
        subprocess.Popen(
            [*cmd, "-o", str(out), "--workers", "2", *extra],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for extra in (["--no-cache"], ["--no-cache"])
    ]
    outputs = [r.communicate(timeout=600)[0] for r in runs]
    for r, text in zip(runs, outputs, strict=True):
        assert r.returncode == 0, text
        assert "10 rendered" in text and "0 failed" in text, text
    assert temporaries(tmp_path) == []
    for i in (0, 9):
        reference = tmp_path / f"reference{i}.wav"
        mixrender.load(album / "songs" / f"s{i}.toml").render(reference, lock=False)
        assert (out / f"s{i}.wav").read_bytes() == reference.read_bytes()
