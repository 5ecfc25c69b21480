"""One job, rendered in whichever process runs it (a pool worker or a Dask worker), and the run
of a batch that both back ends share: the results, the counts, the progress events, and the
jobs prepared for the back ends (each with its cache key, or finished from the cache)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from ..errors import MixError, RenderError
from ..lock import lock_path, write_lock
from ..mix import load
from ..mixfile import MixFile, load_mixfile
from ..plan import build_plan, plan_bytes
from ..render import check_confined, check_output_paths, render_inputs
from ..safepath import Confinement, check_outputs, remove_temporaries
from ..sources import probe_irs, probe_sources
from .cache import (
    _cache_lookup,
    _cache_paths,
    _cache_store,
    _copy_atomic,
    _Hashes,
    _inputs,
    _lock_is_current,
    _Planned,
    _report_from,
    cache_key,
)
from .jobs import BatchEvent, BatchProgress, Job, JobResult, _failed, _Spec

if TYPE_CHECKING:
    from ..render import BlockRender


def render_job(spec: _Spec) -> JobResult:
    """Renders one job, in whichever process runs it: a pool worker or a Dask worker.

    A MixError is the mix's own fault: it comes back as a failed result, so that neither the
    pool nor Dask retries it. Anything else propagates, so that the job is retried. One engine
    thread: the batch's parallelism is its jobs.
    """
    out = Path(spec.output)
    _remove_temporaries(out)  # a previous attempt's, if its worker was lost
    start = time.perf_counter()
    try:
        mix = load(spec.mix, allow_roots=spec.allow_roots)
        if spec.cache is not None and spec.key is not None:
            entries = _cache_paths(Path(spec.cache), spec.key, out.suffix)
            _check_job_paths(
                mix.file,
                [("output", out), ("lock file", lock_path(mix.path))]
                + [("cache entry", p) for p in entries],
                Confinement(spec.allow_roots),
            )
        report = mix.render(out, threads=1, lock=spec.lock)
    except MixError as e:
        return _failed(spec, str(e), time.perf_counter() - start, spec.attempt)
    if spec.cache is not None and spec.key is not None and _unchanged(spec, mix.file.text):
        with contextlib.suppress(OSError):  # the cache is an optimisation: never fail a job on it
            _cache_store(Path(spec.cache), spec.key, out, report)
    seconds = time.perf_counter() - start
    return JobResult(
        spec.mix, spec.output, "rendered", seconds, report.audio_sha256, None, spec.attempt
    )


def _check_job_paths(
    mix: MixFile, outputs: list[tuple[str, Path]], confinement: Confinement
) -> None:
    """Raises a MixError when an output is outside the allowed roots, is an input of the
    render, or is another output."""
    check_output_paths(outputs, confinement)
    check_outputs(render_inputs(mix), outputs)


def _unchanged(spec: _Spec, text: str) -> bool:
    """Whether the mix and its inputs are still those the job's key was computed from."""
    if hashlib.sha256(text.encode()).hexdigest() != spec.mix_sha256:
        return False
    for path, size, mtime_ns in spec.inputs:
        try:
            st = os.stat(path)
        except OSError:
            return False
        if (st.st_size, st.st_mtime_ns) != (size, mtime_ns):
            return False
    return True


def _remove_temporaries(path: Path, pid: int | None = None) -> None:
    """Removes the temporary files of `path`: those of the lost process `pid`, or with
    `pid=None` those of every process that is gone (another batch writing into the same
    folder keeps its own)."""
    remove_temporaries(path.parent, of=path.name, pid=pid, dead_only=pid is None)


def _remove_job_temporaries(spec: _Spec, pid: int | None) -> None:
    """Everything a job's worker may have been writing: the output, the lock, the cache entry."""
    _remove_temporaries(Path(spec.output))
    if pid is None:
        return
    _remove_temporaries(lock_path(Path(spec.mix)), pid)
    if spec.cache is not None and spec.key is not None:
        for path in _cache_paths(Path(spec.cache), spec.key, Path(spec.output).suffix):
            _remove_temporaries(path, pid)


class _Batch:
    """The results so far, the counts and the progress events; prepares jobs for the back ends."""

    def __init__(
        self,
        jobs: list[Job],
        cache: Path | None,
        progress: BatchProgress | None,
        lock: bool = True,
        allow_roots: tuple[str, ...] = (),
    ) -> None:
        self.allow_roots = allow_roots
        self.confinement = Confinement(allow_roots)
        self.jobs = jobs
        self.cache = cache
        self.lock = lock
        self.progress = progress
        self.results: dict[int, JobResult] = {}
        self.counts = {"rendered": 0, "cached": 0, "failed": 0}
        self.start = time.perf_counter()
        self.hashes = _Hashes()

    def emit(self, kind: Literal["started", "retrying", "finished"], index: int, **kw: Any) -> None:
        if self.progress is None:
            return
        job = self.jobs[index]
        self.progress(
            BatchEvent(
                kind=kind,
                mix=str(job.mix),
                output=str(job.output),
                worker_pid=kw.get("worker_pid"),
                attempt=kw.get("attempt"),
                result=kw.get("result"),
                message=kw.get("message"),
                total=len(self.jobs),
                rendered=self.counts["rendered"],
                cached=self.counts["cached"],
                failed=self.counts["failed"],
                elapsed_s=time.perf_counter() - self.start,
            )
        )

    def finish(self, index: int, result: JobResult) -> None:
        self.results[index] = result
        self.counts[result.status] += 1
        self.emit("finished", index, result=result)

    def prepared(self) -> Iterator[tuple[int, _Spec]]:
        """The jobs that need a render, each with its key; finishes the others on the way
        (cached, broken, or writing an output another job of the batch writes)."""
        owners: dict[Path, Path] = {}
        mixes = {os.path.realpath(job.mix): job.mix for job in self.jobs}
        for index, job in enumerate(self.jobs):
            owner = owners.setdefault(job.output, job.mix)
            if owner != job.mix:
                error = f"{job.output}: also the output of {owner}; give each job its own output"
                self.finish(index, _failed(job, error, 0.0, 0))
                continue
            other = mixes.get(os.path.realpath(job.output))
            if other is not None:
                error = f"{job.output}: the output would overwrite the mix file {other}"
                self.finish(index, _failed(job, error, 0.0, 0))
                continue
            if self.cache is None:
                yield (
                    index,
                    _Spec(
                        str(job.mix),
                        str(job.output),
                        1,
                        lock=self.lock,
                        allow_roots=self.allow_roots,
                    ),
                )
                continue
            start = time.perf_counter()
            try:
                keyed = self._keyed(job)
            except MixError as e:  # the mix is wrong: no worker needs to find that out again
                self.finish(index, _failed(job, str(e), time.perf_counter() - start, 1))
                continue
            except Exception:  # the cache is an optimisation: render, and let the job tell
                keyed = _Spec(
                    str(job.mix), str(job.output), 1, lock=self.lock, allow_roots=self.allow_roots
                )
            if isinstance(keyed, _Spec):
                yield index, keyed
            else:
                self.finish(index, replace(keyed, seconds=time.perf_counter() - start))

    def _keyed(self, job: Job) -> _Spec | JobResult:
        """The job's spec with its cache key; or, when the key is cached, the job done."""
        assert self.cache is not None
        mix = load_mixfile(job.mix)
        check_confined(mix, self.confinement)  # before any look at a source
        infos = probe_sources(mix)
        irs = probe_irs(mix)  # a missing one fails the job here, with its insert and line
        planned = _Planned(plan_bytes(build_plan(mix, infos)), infos)
        stamps, digests = [], []
        for path in _inputs(mix, infos):
            try:
                stamp, digest = self.hashes(path)
            except OSError as e:
                raise RenderError(f"{path}: cannot read ({e.strerror or e})") from None
            stamps.append(stamp)
            digests.append(digest)
        key = cache_key(planned.plan, digests, job.output.suffix)
        stored = _cache_lookup(self.cache, key, job.output.suffix)
        report = _report_from(stored, job.mix, job.output) if stored is not None else None
        if report is None:
            text_sha = hashlib.sha256(mix.text.encode()).hexdigest()
            return _Spec(
                str(job.mix),
                str(job.output),
                1,
                str(self.cache),
                key,
                text_sha,
                tuple(stamps),
                lock=self.lock,
                allow_roots=self.allow_roots,
            )
        audio, _ = _cache_paths(self.cache, key, job.output.suffix)
        _check_job_paths(
            mix, [("output", job.output), ("lock file", lock_path(mix.path))], self.confinement
        )
        try:
            _copy_atomic(audio, job.output)
        except OSError as e:
            raise RenderError(f"{job.output}: cannot write the output ({e})") from None
        if self.lock and not _lock_is_current(mix, planned, digests, irs, report):
            # write_lock only reads `.plan` and `.infos` of the render it is given.
            write_lock(mix, cast("BlockRender", planned), report)
        return JobResult(str(job.mix), str(job.output), "cached", 0.0, report.audio_sha256, None, 1)
