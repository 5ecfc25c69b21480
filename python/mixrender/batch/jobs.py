"""The jobs of a batch: the mixes it is given (paths, globs, manifests) expanded into one job
per output, what a worker is sent for one attempt of a job, and what comes back (a result per
job, progress events)."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from glob import glob
from pathlib import Path
from typing import Any, Literal

from ..errors import MixError, MixFileError
from ..files import read_regular
from ..locate import Locator
from ..safepath import Confinement

Status = Literal["rendered", "cached", "failed"]


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


def _failed(spec: _Spec | Job, error: str, seconds: float, attempts: int) -> JobResult:
    return JobResult(str(spec.mix), str(spec.output), "failed", seconds, None, error, attempts)
