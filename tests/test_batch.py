"""Batch renders: independent jobs, the local pool and Dask agree, the cache, lost workers.

The mixes are a fraction of a second long, so that the time goes to what is being tested
(worker processes, retries, the cache), not to rendering. A lost worker is made by killing it
with SIGKILL once its render's temporary file exists: the kill lands mid-render every time.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import soundfile as sf
from typer.testing import CliRunner

import mixrender
from conftest import noise, tone
from mixrender.batch import BatchEvent, Job, JobResult, expand_jobs
from mixrender.cli import app
from mixrender.errors import MixFileError

runner = CliRunner()

MIX = """\
format = "mixrender/1"
[session]
sample_rate = 48000
end = {end}
[render]
bit_depth = 16
[[track]]
name = "Tone"
source = "../stems/tone.wav"
gain_db = {gain_db}
pan = {pan}
[[track]]
name = "Noise"
source = "../stems/noise.wav"
gain_db = -12.0
"""


def write(path: Path, *, gain_db: float = -3.0, pan: float = 0.0, end: float = 0.25) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(MIX.format(gain_db=gain_db, pan=pan, end=end))
    return path


@pytest.fixture
def album(tmp_path: Path) -> Path:
    """album/{rev1,rev2}/song.toml, rev2/bonus.toml and rev2/broken.toml (a missing source)."""
    root = tmp_path / "album"
    (root / "stems").mkdir(parents=True)
    sf.write(str(root / "stems" / "tone.wav"), tone(0.25), 48000, subtype="PCM_24")
    sf.write(str(root / "stems" / "noise.wav"), noise(0.25, channels=2), 48000, subtype="FLOAT")
    write(root / "rev1" / "song.toml", gain_db=-3.0)
    write(root / "rev2" / "song.toml", gain_db=-1.5, pan=0.3)
    write(root / "rev2" / "bonus.toml", gain_db=-6.0, pan=-0.5)
    broken = write(root / "rev2" / "broken.toml")
    broken.write_text(broken.read_text().replace("noise.wav", "nowhere.wav"))
    return root


def temporaries(*folders: Path) -> list[Path]:
    return [p for folder in folders for p in folder.rglob("*.tmp")]


def by_mix(results: list[JobResult]) -> dict[str, JobResult]:
    return {Path(r.mix).parent.name + "/" + Path(r.mix).name: r for r in results}


def test_outputs_keep_the_mixes_paths_relative_to_their_common_folder(
    album: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    jobs = expand_jobs([str(album / "rev*" / "song.toml"), album / "rev1" / "song.toml"], out)
    assert jobs == [  # the same mix by a glob and by its path is one job
        Job(album / "rev1" / "song.toml", out / "rev1" / "song.wav"),
        Job(album / "rev2" / "song.toml", out / "rev2" / "song.wav"),
    ]
    assert expand_jobs(str(album / "**" / "bonus.toml"), out) == [
        Job(album / "rev2" / "bonus.toml", out / "bonus.wav")
    ]
    with pytest.raises(ValueError, match="no mix file matches"):
        expand_jobs(str(album / "*.nothing"), out)
    with pytest.raises(ValueError, match="is a folder"):
        expand_jobs(album, out)


def test_a_manifest_names_each_output_and_its_mistakes_by_line(album: Path, tmp_path: Path) -> None:
    manifest = album / "jobs.toml"
    manifest.write_text(
        '[[job]]\nmix = "rev1/song.toml"\nout = "masters/one.flac"\n\n'
        f'[[job]]\nmix = "rev2/song.toml"\nout = "{tmp_path / "abs.wav"}"\n'
    )
    out = tmp_path / "out"
    # An absolute `out` outside -o only inside an allowed root (tests/test_safety.py).
    assert expand_jobs(manifest, out, allow_roots=[tmp_path]) == [
        Job(album / "rev1" / "song.toml", out / "masters" / "one.flac"),
        Job(album / "rev2" / "song.toml", tmp_path / "abs.wav"),
    ]
    with pytest.raises(MixFileError) as e:
        expand_jobs(manifest, out)
    assert e.value.line == 7 and e.value.path == "job[2] > out"
    manifest.write_text(
        '[[job]]\nmix = "a.toml"\nout = "a"\n\n[[job]]\nmix = "b.toml"\nuot = "b"\n'
    )
    with pytest.raises(MixFileError) as e:
        expand_jobs(manifest, out)
    assert e.value.line == 7 and e.value.path == "job[2] > uot"


def test_a_broken_mix_fails_alone_with_its_error_and_exit_1(album: Path, tmp_path: Path) -> None:
    out, report = tmp_path / "out", tmp_path / "report.json"
    args = ["batch", str(album / "*" / "*.toml"), "-o", str(out), "--workers", "2"]
    result = runner.invoke(app, [*args, "--report", str(report)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "3 rendered, 0 cached, 1 failed" in result.output
    for name in ("rev1/song.wav", "rev2/song.wav", "rev2/bonus.wav"):
        assert sf.info(str(out / name)).frames == 12000  # 0.25 s at 48 kHz, whole
    assert not (out / "rev2" / "broken.wav").exists()
    assert (album / "rev1" / "song.lock").exists()  # lock files, as by `render`
    doc = json.loads(report.read_text())
    assert doc["summary"]["failed"] == 1 and doc["summary"]["rendered"] == 3
    failed = [j for j in doc["jobs"] if j["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["mix"].endswith("broken.toml")
    assert "nowhere.wav" in failed[0]["error"] and "file not found" in failed[0]["error"]
    ok = [j for j in doc["jobs"] if j["status"] == "rendered"]
    assert all(len(j["audio_sha256"]) == 64 and j["error"] is None for j in ok)


def test_a_mix_error_in_a_worker_is_not_retried(album: Path, tmp_path: Path) -> None:
    bad = album / "rev2" / "bonus.toml"
    bad.write_text(bad.read_text().replace("pan = -0.5", "pna = -0.5"))
    events: list[BatchEvent] = []
    mixes = [album / "rev1" / "song.toml", bad]
    results = mixrender.batch(
        mixes, tmp_path / "out", workers=1, cache=False, progress=events.append
    )
    assert [r.status for r in results] == ["rendered", "failed"]
    assert results[1].attempts == 1 and "did you mean" in (results[1].error or "")
    assert not any(e.kind == "retrying" for e in events)
    assert [e.kind for e in events].count("started") == 2  # the worker found the error


def test_a_dask_cluster_gives_the_hashes_of_the_local_pool(album: Path, tmp_path: Path) -> None:
    from dask.distributed import LocalCluster

    mixes = [str(album / "*" / "*.toml")]
    local = mixrender.batch(mixes, tmp_path / "local", workers=2, cache=False)
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        farm = mixrender.batch(mixes, tmp_path / "farm", scheduler=cluster.scheduler_address)
    assert [r.status for r in farm] == [r.status for r in local]
    assert [r.audio_sha256 for r in farm] == [r.audio_sha256 for r in local]
    assert sum(r.status == "rendered" for r in farm) == 3
    for r in local:
        if r.ok:
            twin = tmp_path / "farm" / Path(r.output).relative_to(tmp_path / "local")
            assert twin.read_bytes() == Path(r.output).read_bytes()
    broken = by_mix(farm)["rev2/broken.toml"]
    assert broken.attempts == 1 and "nowhere.wav" in (broken.error or "")


def test_a_finished_batch_is_all_cached_and_a_changed_mix_renders_alone(
    album: Path, tmp_path: Path
) -> None:
    mixes = [str(album / "rev*" / "*.toml")]
    out = tmp_path / "out"
    first = by_mix(mixrender.batch(mixes, out, workers=2))
    lock = album / "rev1" / "song.lock"
    lock_stamp = lock.stat().st_mtime_ns
    events: list[BatchEvent] = []
    again = by_mix(mixrender.batch(mixes, out, workers=2, progress=events.append))
    assert {k: r.status for k, r in again.items() if r.ok} == dict.fromkeys(
        ["rev1/song.toml", "rev2/song.toml", "rev2/bonus.toml"], "cached"
    )
    assert not any(e.kind == "started" for e in events)  # not one worker was needed
    assert all(again[k].audio_sha256 == first[k].audio_sha256 for k in first)
    assert lock.stat().st_mtime_ns == lock_stamp  # the lock already said it all

    write(album / "rev2" / "song.toml", gain_db=-2.0, pan=0.3)  # one changed number
    (out / "rev1" / "song.wav").unlink()  # a lost output comes back from the cache
    third = by_mix(mixrender.batch(mixes, out, workers=2))
    assert third["rev2/song.toml"].status == "rendered"
    assert third["rev2/song.toml"].audio_sha256 != first["rev2/song.toml"].audio_sha256
    assert third["rev1/song.toml"].status == third["rev2/bonus.toml"].status == "cached"
    assert sf.info(str(out / "rev1" / "song.wav")).frames == 12000
    assert mixrender.load(album / "rev1" / "song.toml").verify().identical


def kill_when_rendering(
    victims: dict[str, int], kills: list[tuple[str, int]]
) -> Callable[[BatchEvent], None]:
    """A progress callback that SIGKILLs the worker of a job named in `victims` (mix name to
    number of attempts to kill) once its output's temporary file exists: mid-render."""

    def on_event(event: BatchEvent) -> None:
        name = Path(event.mix).name
        if event.kind != "started" or victims.get(name, 0) < (event.attempt or 0):
            return
        assert event.worker_pid is not None
        out = Path(event.output)
        pattern = f".{out.name}.{event.worker_pid}.*.tmp"
        deadline = time.monotonic() + 60
        while not list(out.parent.glob(pattern)):
            assert time.monotonic() < deadline, "the render never started"
            time.sleep(0.001)
        os.kill(event.worker_pid, signal.SIGKILL)
        kills.append((name, event.worker_pid))

    return on_event


def test_a_killed_worker_loses_nothing_and_leaves_no_partial_file(
    album: Path, tmp_path: Path
) -> None:
    # 180 s each: a few tenths of a second to render, ages for a poll every millisecond.
    long = write(album / "long" / "survivor.toml", end=180.0)
    doomed = write(album / "long" / "doomed.toml", end=180.0, gain_db=-9.0)
    short = album / "rev1" / "song.toml"
    out = tmp_path / "out"
    kills: list[tuple[str, int]] = []
    events: list[BatchEvent] = []
    kill = kill_when_rendering({"survivor.toml": 1, "doomed.toml": 2}, kills)

    def progress(event: BatchEvent) -> None:
        events.append(event)
        kill(event)

    results = mixrender.batch(
        [long, doomed, short], out, workers=2, retries=1, cache=False, progress=progress
    )
    survivor, lost, fine = results

    assert [name for name, _ in kills].count("survivor.toml") == 1
    assert survivor.status == "rendered" and survivor.attempts == 2
    reference = mixrender.load(long).render(tmp_path / "reference.wav", threads=1, lock=False)
    assert survivor.audio_sha256 == reference.audio_sha256
    assert Path(survivor.output).read_bytes() == (tmp_path / "reference.wav").read_bytes()

    assert lost.status == "failed" and lost.attempts == 2
    assert "lost (killed by SIGKILL)" in (lost.error or "") and "2 attempts" in (lost.error or "")
    assert not Path(lost.output).exists()
    assert fine.status == "rendered" and fine.attempts == 1

    retries = [e for e in events if e.kind == "retrying"]
    assert {Path(e.mix).name for e in retries} == {"survivor.toml", "doomed.toml"}
    assert temporaries(out, album) == []


def test_batch_usage_errors_exit_2(album: Path, tmp_path: Path) -> None:
    out = str(tmp_path / "out")
    result = runner.invoke(app, ["batch", str(album / "*.nothing"), "-o", out])
    assert result.exit_code == 2 and "no mix file matches" in result.output
    mix = str(album / "rev1" / "song.toml")
    result = runner.invoke(app, ["batch", mix, "-o", out, "--cache", out, "--no-cache"])
    assert result.exit_code == 2
    result = runner.invoke(app, ["batch", mix, "-o", out, "--workers", "0"])
    assert result.exit_code == 2


def test_two_jobs_writing_one_output_fail_the_second(album: Path, tmp_path: Path) -> None:
    manifest = album / "jobs.toml"
    manifest.write_text(
        '[[job]]\nmix = "rev1/song.toml"\nout = "same.wav"\n\n'
        '[[job]]\nmix = "rev2/song.toml"\nout = "same.wav"\n'
    )
    first, second = mixrender.batch(manifest, tmp_path / "out", workers=1)
    assert first.status == "rendered" and first.output == str(tmp_path / "out" / "same.wav")
    assert second.status == "failed" and "also the output of" in (second.error or "")
    assert second.attempts == 0
