"""Batch renders: many mixes in one call, on a local pool of worker processes or a Dask cluster.

A catalogue re-rendered after an engine upgrade, every revision of an album overnight, ten
thousand mixes for a data set: runs nobody watches, so nothing may be lost when one job fails.

- **Jobs are independent.** A mix that is wrong (any :class:`MixError`: a bad key, a missing
  source, an output that cannot be written) fails its own job with its own message and is not
  retried, since it would fail the same way again. A failure that may pass (a worker process
  lost, an unexpected exception such as a network file system hiccup) is retried up to
  ``retries`` times.
- **The local pool is supervised.** A few ``spawn`` processes are each fed one job at a time
  over their own pipe, so the supervisor always knows which job a worker holds. When a worker
  dies (killed, out of memory) that exact job is re-queued and a new worker started. A
  ``ProcessPoolExecutor`` cannot do this: one dead worker breaks the pool and fails every
  pending job. ``spawn`` rather than ``fork``, so that no engine thread pool or libsndfile
  state is copied into a child in the middle of its use.
- **Outputs appear whole or not at all.** A render writes a temporary file beside its output
  and renames it into place when done. The temporary files of a lost worker are removed by
  whoever notices the loss, so none is left behind.
- **A content-addressed cache** skips renders that would come out identical. The key is the
  SHA-256 of the mixrender version, the output's format, the canonical plan bytes and the
  bytes of every source and impulse response: exactly what determines the output's bits.
  Sources are hashed once per batch for the keys (remembered by path, size and mtime).
- **Dask is imported only when a scheduler is given**, so the render path never pays for it.
  The Dask back end submits the same job function; Dask re-runs the jobs of a lost worker
  and retries exceptions, while a mix error comes back as a result and is not retried.

Each mix's lock file is written beside it, as by ``mixrender render``, for cached jobs too.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import time
import tomllib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, fields, replace
from glob import glob
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from ._version import __version__
from .errors import MixError, MixFileError, RenderError
from .files import read_regular
from .locate import Locator
from .lock import lock_path, read_lock, sha256_file, write_lock
from .mix import load
from .mixfile import MixFile, load_mixfile
from .plan import build_plan, plan_bytes
from .render import (
    RenderReport,
    check_confined,
    check_output_paths,
    default_threads,
    render_inputs,
)
from .safepath import Confinement, check_outputs, remove_temporaries, temp_path, unlink_quietly
from .sources import IrInfo, SourceInfo, impulse_responses, probe_irs, probe_sources

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.context import SpawnContext
    from multiprocessing.process import BaseProcess

    from .render import BlockRender

Status = Literal["rendered", "cached", "failed"]

#: Bumped when the cache's layout or key changes, so that old entries are never misread.
_CACHE_LAYOUT = b"mixrender-batch-cache/1"
_GLOB_CHARS = frozenset("*?[")


class BatchError(MixError):
    """The batch as a whole cannot run (a wrong manifest, an unreachable scheduler)."""


@dataclass(frozen=True)
class Job:
    """One mix to render and the file its output goes to (both absolute)."""

    mix: Path
    output: Path


@dataclass(frozen=True)
class JobResult:
    """What became of one job. `seconds` is the wall time spent on it (the render, or the copy
    from the cache); `attempts` counts the tries, retries included."""

    mix: str
    output: str
    status: Status
    seconds: float
    audio_sha256: str | None
    error: str | None
    attempts: int

    @property
    def ok(self) -> bool:
        return self.status != "failed"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class BatchEvent:
    """A progress report: a job started (local pool only), is retried, or finished, with the
    counts of the whole batch at that moment."""

    kind: Literal["started", "retrying", "finished"]
    mix: str
    output: str
    #: The worker process rendering the job ("started", local pool only).
    worker_pid: int | None
    #: Which try of the job starts, 1 first ("started"), or comes next ("retrying").
    attempt: int | None
    #: The job's result ("finished" only).
    result: JobResult | None
    #: Why the job is tried again ("retrying" only).
    message: str | None
    total: int
    rendered: int
    cached: int
    failed: int
    elapsed_s: float

    @property
    def finished(self) -> int:
        return self.rendered + self.cached + self.failed

    @property
    def jobs_per_minute(self) -> float:
        return 60.0 * self.finished / self.elapsed_s if self.elapsed_s > 0 else 0.0


BatchProgress = Callable[[BatchEvent], None]


@dataclass(frozen=True)
class _Spec:
    """What a worker is sent for one attempt of one job: plain data, cheap to pickle."""

    mix: str
    output: str
    attempt: int
    #: The cache folder and the job's key, or None when the cache is off.
    cache: str | None = None
    key: str | None = None
    #: What the key was computed from, so that the worker stores its render under that key
    #: only when the mix text and the inputs (path, size, mtime_ns) are still the same.
    mix_sha256: str | None = None
    inputs: tuple[tuple[str, int, int], ...] = ()
    #: Whether the job writes the lock file beside its mix (`--no-lock` turns it off).
    lock: bool = True
    #: The folders every source, impulse response and output must be inside (none: anywhere).
    allow_roots: tuple[str, ...] = ()


# --- jobs -----------------------------------------------------------------------------------------


def expand_jobs(
    mixes: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    allow_roots: Iterable[str | os.PathLike[str]] | None = None,
) -> list[Job]:
    """The jobs for `mixes`: paths, globs (``**`` recurses) or manifest files, in the order given.

    Plain mixes keep their paths relative to their common folder, as ``.wav``, under `out_dir`,
    so that ``album/rev1/song.toml`` and ``album/rev2/song.toml`` cannot overwrite each other.
    A manifest (TOML with ``[[job]]`` tables of ``mix`` and ``out``) names each output itself:
    ``mix`` is relative to the manifest's folder and ``out`` to `out_dir`; an ``out`` must stay
    inside `out_dir` (symlinks resolved), unless it is absolute and inside one of `allow_roots`.
    A glob that matches nothing or a folder is a usage error (ValueError); a path that does not
    exist is kept, so that its job fails with the loader's message like any broken mix.
    """
    if isinstance(mixes, str | os.PathLike):
        mixes = [mixes]
    out = Path(out_dir).absolute()
    entries: list[Path | Job] = []
    for item in mixes:
        text = os.fspath(item)
        path = Path(text)
        if not path.exists() and _GLOB_CHARS & set(text):
            found = sorted(p for p in glob(text, recursive=True) if Path(p).is_file())
            if not found:
                raise ValueError(f"no mix file matches {text!r}")
            entries += [Path(p).absolute() for p in found]
        elif path.is_dir():
            raise ValueError(f"{text} is a folder; give its mixes, e.g. '{text}/**/*.toml'")
        elif (manifest := _read_manifest(path, out, Confinement(allow_roots))) is not None:
            entries += manifest
        else:
            entries.append(path.absolute())
    plain = [e for e in entries if isinstance(e, Path)]
    common = Path(os.path.commonpath([p.parent for p in plain])) if plain else out
    jobs: list[Job] = []
    seen: set[Job] = set()
    for e in entries:
        job = e if isinstance(e, Job) else Job(e, out / e.relative_to(common).with_suffix(".wav"))
        if job not in seen:  # the same mix given twice (a path and a glob) is one job
            seen.add(job)
            jobs.append(job)
    return jobs


def _read_manifest(path: Path, out: Path, roots: Confinement) -> list[Job] | None:
    """The manifest's jobs, or None when `path` is not a manifest (a mix, or unreadable)."""
    try:
        text = read_regular(path).decode("utf-8")  # never blocks on a FIFO
        doc = tomllib.loads(text)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError):
        return None  # not a manifest: as a mix, it fails with the loader's precise message
    if "job" not in doc or "format" in doc:
        return None
    where = Locator(text)

    def fail(keypath: tuple[str | int, ...], label: str, message: str) -> MixFileError:
        return MixFileError(path.absolute(), where.nearest(keypath), label, message)

    extra = sorted(set(doc) - {"job"})
    if extra:
        raise fail((extra[0],), extra[0], "unknown key in a batch manifest; it holds [[job]] only")
    entries = doc["job"]
    if not isinstance(entries, list) or not entries:
        raise fail(("job",), "job", "write each job as a [[job]] table with `mix` and `out`")
    jobs = []
    for i, entry in enumerate(entries):
        label = f"job[{i + 1}]"
        if not isinstance(entry, dict):
            raise fail(("job", i), label, "write each job as a [[job]] table with `mix` and `out`")
        unknown = sorted(set(entry) - {"mix", "out"})
        if unknown:
            key = unknown[0]
            raise fail(("job", i, key), f"{label} > {key}", "unknown key; a job has `mix`, `out`")
        for key in ("mix", "out"):
            value = entry.get(key)
            if not isinstance(value, str) or not value.strip():
                raise fail(("job", i, key), f"{label} > {key}", f"`{key}` must be a path")
        target = Path(os.path.normpath(out / entry["out"]))
        inside = Confinement([out])
        if not (
            inside.allows(target)
            or (Path(entry["out"]).is_absolute() and roots.active and roots.allows(target))
        ):
            raise fail(
                ("job", i, "out"),
                f"{label} > out",
                f"{entry['out']!r} is outside the output folder {out}; an output stays inside "
                "-o (an absolute path only inside an --allow-root)",
            )
        jobs.append(Job((path.parent / entry["mix"]).absolute(), target))
    return jobs


# --- the cache ------------------------------------------------------------------------------------


class _Hashes:
    """SHA-256 of input files, each read once per batch run. Remembered by path, size and
    modification time, so that a file rewritten during the batch is read again."""

    def __init__(self) -> None:
        self._known: dict[tuple[str, int, int], str] = {}

    def __call__(self, path: Path) -> tuple[tuple[str, int, int], str]:
        st = path.stat()
        stamp = (str(path), st.st_size, st.st_mtime_ns)
        digest = self._known.get(stamp)
        if digest is None:
            digest = self._known[stamp] = sha256_file(path)
        return stamp, digest


def _inputs(mix: MixFile, infos: Sequence[SourceInfo]) -> list[Path]:
    """Every file the render reads: the sources in track order, then the impulse responses in
    the order the engine receives them (the order of the lock's `[[source]]` entries too)."""
    return [info.path for info in infos if info.path is not None] + impulse_responses(mix)


def cache_key(plan: bytes, input_hashes: Sequence[str], suffix: str) -> str:
    """The key of a render: what decides every bit of its output file. Each part is length
    prefixed, so that no two different lists of parts give the same stream of bytes."""
    h = hashlib.sha256()
    parts = [_CACHE_LAYOUT, __version__.encode(), suffix.lower().encode(), plan]
    for part in parts + [d.encode() for d in input_hashes]:
        h.update(len(part).to_bytes(8, "little"))
        h.update(part)
    return h.hexdigest()


def _cache_paths(cache: Path, key: str, suffix: str) -> tuple[Path, Path]:
    folder = cache / key[:2]
    return folder / f"{key}{suffix.lower()}", folder / f"{key}.json"


def _cache_lookup(cache: Path, key: str, suffix: str) -> dict[str, Any] | None:
    """The stored report of `key`, or None. The JSON is written after the audio, so its
    presence means the entry is complete; a size check catches a file damaged since."""
    audio, meta = _cache_paths(cache, key, suffix)
    try:
        entry = json.loads(meta.read_text())
        if audio.stat().st_size != entry["bytes"] or entry["key"] != key:
            return None
        return cast(dict[str, Any], entry["report"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _cache_store(cache: Path, key: str, output: Path, report: RenderReport) -> None:
    """Copies a fresh render into the cache: the audio, then the JSON that completes it."""
    audio, meta = _cache_paths(cache, key, output.suffix)
    audio.parent.mkdir(parents=True, exist_ok=True)
    entry = {
        "key": key,
        "mixrender_version": __version__,
        "bytes": output.stat().st_size,
        "report": report.to_dict(),
    }
    _copy_atomic(output, audio)
    _write_atomic(meta, json.dumps(entry, indent=1, sort_keys=True))


def _copy_atomic(src: Path, dst: Path) -> None:
    tmp = temp_path(dst)
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, tmp)  # a copy, not a link: editing an output must not edit the cache
        os.replace(tmp, dst)
    finally:
        unlink_quietly(tmp)


def _write_atomic(path: Path, text: str) -> None:
    tmp = temp_path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        unlink_quietly(tmp)


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


@dataclass(frozen=True)
class _Planned:
    """The part of a BlockRender that write_lock reads (the plan and the source infos), for a
    cached job: building a real one would set up an engine only to write a lock."""

    plan: bytes
    infos: list[SourceInfo]


def _lock_is_current(
    mix: MixFile,
    planned: _Planned,
    digests: Sequence[str],
    irs: Sequence[IrInfo],
    report: RenderReport,
) -> bool:
    """Whether the lock beside the mix already says what write_lock would write now, so that a
    re-run of a finished batch neither rewrites every lock nor reads every source again."""
    try:
        lock = read_lock(mix.path)
    except MixError:
        return False
    entries = lock.get("source", [])  # the sources in track order, then the impulse responses
    return (
        "output" not in lock  # a lock of the earlier layout is re-written
        and lock.get("mixrender_version") == __version__
        and lock.get("format") == mix.format
        and lock.get("audio_sha256") == report.audio_sha256
        and lock.get("plan_sha256") == hashlib.sha256(planned.plan).hexdigest()
        and [s.get("sha256") for s in entries] == list(digests)
        and [s.get("track") for s in entries if not s.get("ir")] == [t.name for t in mix.tracks]
        and [s.get("path") for s in entries if s.get("ir")] == [i.written for i in irs]
    )


def _report_from(stored: dict[str, Any], mix: Path, output: Path) -> RenderReport | None:
    names = {f.name for f in fields(RenderReport)}
    known = {k: v for k, v in stored.items() if k in names}
    try:
        return RenderReport(**{**known, "mix": str(mix), "output": str(output)})
    except TypeError:  # a field this version needs is missing: treat as not cached
        return None


# --- one job --------------------------------------------------------------------------------------


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


def _failed(spec: _Spec | Job, error: str, seconds: float, attempts: int) -> JobResult:
    return JobResult(str(spec.mix), str(spec.output), "failed", seconds, None, error, attempts)


# --- the batch: shared by both back ends ----------------------------------------------------------


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


# --- the local pool -------------------------------------------------------------------------------


def _worker_main(conn: Connection) -> None:
    """A pool worker: renders the jobs sent over `conn` one by one until it is sent None.

    Ctrl-C is ignored here: the supervisor decides when workers stop, and cleans up after them.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        try:
            spec = conn.recv()
        except EOFError:
            return
        if spec is None:
            return
        try:
            message: tuple[str, Any] = ("done", render_job(spec))
        except Exception as e:  # may pass (a file system hiccup): the supervisor retries it
            message = ("error", f"{type(e).__name__}: {e}")
        conn.send(message)


class _Worker:
    """One worker process, its end of the pipe, and the job it holds (if any)."""

    def __init__(self, ctx: SpawnContext) -> None:
        import multiprocessing

        self.conn, child = multiprocessing.Pipe()
        self.process: BaseProcess = ctx.Process(
            target=_worker_main, args=(child,), name="mixrender-batch", daemon=True
        )
        self.process.start()
        child.close()  # so that the worker's death reads as end-of-file here
        self.job: tuple[int, _Spec] | None = None

    @property
    def pid(self) -> int:
        assert self.process.pid is not None
        return self.process.pid


def _lost(process: BaseProcess) -> str:
    code = process.exitcode
    if code is not None and code < 0:
        with contextlib.suppress(ValueError):
            return f"the worker rendering it was lost (killed by {signal.Signals(-code).name})"
    return f"the worker rendering it was lost (exit code {code})"


class _LocalPool:
    """Supervised spawn workers: each holds one job; a dead worker's job is re-queued."""

    def __init__(self, batch: _Batch, workers: int, retries: int) -> None:
        self.batch = batch
        self.workers = workers
        self.retries = retries
        import multiprocessing  # here: a render that is no batch need not import it

        self.ctx = multiprocessing.get_context("spawn")
        self.pool: list[_Worker] = []
        self.pending: deque[tuple[int, _Spec]] = deque()

    def run(self) -> None:
        from multiprocessing.connection import wait

        specs = self.batch.prepared()
        exhausted = False
        try:
            while True:
                self._dispatch()
                # Keep a job ready for each worker. While there are more to prepare (which
                # hashes sources), only poll the workers; otherwise sleep until one reports.
                timeout: float | None = None
                if not exhausted and len(self.pending) < self.workers:
                    nxt = next(specs, None)
                    exhausted = nxt is None
                    if nxt is not None:
                        self.pending.append(nxt)
                    timeout = 0.0
                busy = [w for w in self.pool if w.job is not None]
                if exhausted and not busy and not self.pending:
                    return
                if not busy:
                    continue
                waitables: list[Any] = [w.conn for w in busy]
                waitables += [w.process.sentinel for w in self.pool]
                ready = wait(waitables, timeout=timeout)
                for w in list(self.pool):
                    if w.conn in ready or w.process.sentinel in ready:
                        self._service(w)
        finally:
            self._shutdown()

    def _dispatch(self) -> None:
        idle = [w for w in self.pool if w.job is None]
        while len(self.pool) < self.workers and len(idle) < len(self.pending):
            w = _Worker(self.ctx)
            self.pool.append(w)
            idle.append(w)
        for w in idle:
            if not self.pending:
                break
            index, spec = self.pending.popleft()
            w.job = (index, spec)
            with contextlib.suppress(OSError):  # a worker dead already: its sentinel tells
                w.conn.send(spec)
            self.batch.emit("started", index, worker_pid=w.pid, attempt=spec.attempt)

    def _service(self, w: _Worker) -> None:
        """Takes a worker's message; notices its death and re-queues the job it held."""
        if w.job is not None and w.conn.poll():
            index, spec = w.job
            try:
                kind, payload = w.conn.recv()
            except (EOFError, OSError):
                pass  # it died while sending: handled as lost below
            else:
                w.job = None
                if kind == "done":
                    self.batch.finish(index, payload)
                else:
                    self._retry(index, spec, str(payload), None)
        if w.process.is_alive():
            return
        w.process.join()
        self.pool.remove(w)
        w.conn.close()
        if w.job is not None:
            index, spec = w.job
            self._retry(index, spec, _lost(w.process), w.pid)

    def _retry(self, index: int, spec: _Spec, why: str, pid: int | None) -> None:
        _remove_job_temporaries(spec, pid)
        if spec.attempt <= self.retries:
            self.pending.appendleft((index, replace(spec, attempt=spec.attempt + 1)))
            self.batch.emit("retrying", index, message=why, attempt=spec.attempt + 1)
        else:
            tries = "attempt" if spec.attempt == 1 else f"{spec.attempt} attempts"
            self.batch.finish(index, _failed(spec, f"{why} (after {tries})", 0.0, spec.attempt))

    def _shutdown(self) -> None:
        """Stops every worker; one still holding a job (the batch was interrupted) is killed and
        its temporary files removed, so that an interrupted batch leaves no partial output."""
        for w in self.pool:
            if w.job is None:
                with contextlib.suppress(OSError):
                    w.conn.send(None)
            else:
                w.process.kill()
        for w in self.pool:
            w.process.join(timeout=10)
            if w.process.is_alive():
                w.process.kill()
                w.process.join()
            if w.job is not None:
                _remove_job_temporaries(w.job[1], w.pid)
            w.conn.close()
        self.pool.clear()


# --- Dask -----------------------------------------------------------------------------------------


def _run_dask(batch: _Batch, scheduler: str, retries: int) -> None:
    """Submits the jobs to an existing Dask cluster whose workers see the same file system.

    Dask re-runs the tasks of a lost worker by itself and retries a raised exception `retries`
    times; a mix error is returned by render_job, not raised, so it is never retried. Dask does
    not tell the client how often a task ran, so `attempts` is 1 for a job that came back and
    1 + `retries` for one that raised every time.
    """
    try:
        from dask.distributed import Client, as_completed
    except ImportError:
        raise BatchError(
            "--scheduler needs Dask's distributed scheduler: pip install 'dask[distributed]'"
        ) from None
    try:
        client = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError, ValueError) as e:
        raise BatchError(f"cannot reach the Dask scheduler at {scheduler}: {e}") from None
    with client:
        submitted: dict[Any, tuple[int, _Spec]] = {}
        done = as_completed()
        for index, spec in batch.prepared():
            future = client.submit(render_job, spec, pure=False, retries=retries)
            submitted[future.key] = (index, spec)
            done.add(future)
        for future in done:
            index, spec = submitted[future.key]
            try:
                result = future.result()
            except Exception as e:  # the last of Dask's retries raised, or its workers were lost
                _remove_job_temporaries(spec, None)
                result = _failed(spec, f"{type(e).__name__}: {e}", 0.0, 1 + retries)
            batch.finish(index, result)
            future.release()


# --- the entry point ------------------------------------------------------------------------------


def batch(
    mixes: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    retries: int = 2,
    cache: str | os.PathLike[str] | bool | None = None,
    report: str | os.PathLike[str] | None = None,
    progress: BatchProgress | None = None,
    lock: bool = True,
    allow_roots: Iterable[str | os.PathLike[str]] | None = None,
) -> list[JobResult]:
    """Renders every mix in `mixes` into `out_dir` and returns one JobResult per job, in order.

    `mixes` are paths, globs or manifests (see `expand_jobs`). Jobs run on `workers` local
    processes (default: the cores), or on the Dask cluster at `scheduler` (``tcp://host:8786``).
    A job failing in a way that may pass is tried up to `retries` more times; a broken mix
    fails at once with its message. `cache` is the cache folder (default ``out_dir/.cache``;
    False turns it off). `report` writes every result as JSON. `progress` is called with a
    BatchEvent as jobs start, are retried and finish. `lock=False` writes no lock file. With
    `allow_roots`, every source, impulse response and output of a job must resolve inside one
    of those folders, else the job fails (without telling whether an outside file exists).
    Raises ValueError for a usage error (nothing matches, a bad count) and BatchError when
    the batch as a whole cannot run; a job's failure is never raised, it is in its result.
    """
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    if retries < 0:
        raise ValueError(f"retries must be 0 or more, not {retries}")
    roots = tuple(os.fspath(r) for r in allow_roots or ())
    jobs = expand_jobs(mixes, out_dir, allow_roots=roots)
    if not jobs:
        raise ValueError("no mix files given")
    if report is not None:  # before any job runs: the report is written over nothing of theirs
        others = [("mix file", j.mix) for j in jobs] + [
            (f"output of {j.mix}", j.output) for j in jobs
        ]
        check_outputs(others, [("batch report", Path(report))])
    if cache is False:
        folder = None
    elif cache is None or cache is True:
        folder = Path(out_dir).absolute() / ".cache"
    else:
        folder = Path(cache).absolute()
    run = _Batch(jobs, folder, progress, lock, roots)
    if scheduler is not None:
        _run_dask(run, scheduler, retries)
    else:
        _LocalPool(run, workers or default_threads(), retries).run()
    results = [run.results[i] for i in range(len(jobs))]
    if report is not None:
        write_report(report, results, time.perf_counter() - run.start)
    return results


def summary(results: Sequence[JobResult], seconds: float) -> dict[str, Any]:
    """Counts by status, the wall time and the rate, as the report and the CLI show them."""
    counts = {s: sum(r.status == s for r in results) for s in ("rendered", "cached", "failed")}
    rate = 60.0 * len(results) / seconds if seconds > 0 else 0.0
    return {"jobs": len(results), **counts, "seconds": seconds, "jobs_per_minute": rate}


def write_report(
    path: str | os.PathLike[str], results: Sequence[JobResult], seconds: float
) -> None:
    """Writes the batch report: the summary and every job's result, as one JSON object."""
    doc = {
        "mixrender_version": __version__,
        "summary": summary(results, seconds),
        "jobs": [r.to_dict() for r in results],
    }
    try:
        _write_atomic(Path(path).absolute(), json.dumps(doc, indent=2) + "\n")
    except OSError as e:
        raise BatchError(f"{path}: cannot write the report ({e})") from None
