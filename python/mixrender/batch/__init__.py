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

The package's modules, one idea each (imports point down this list): `jobs` (what a batch is
given and gives back), `cache`, `run` (one job, and the run both back ends share), `pool`
(the local supervised pool), `dask` (the Dask back end), `report`; this `__init__` holds the
entry point, `batch`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path

from ..render import default_threads
from ..safepath import check_outputs
from .cache import cache_key
from .dask import _run_dask
from .jobs import BatchError, BatchEvent, BatchProgress, Job, JobResult, Status, expand_jobs
from .pool import _LocalPool
from .report import summary, write_report
from .run import _Batch, render_job

__all__ = [
    "BatchError",
    "BatchEvent",
    "BatchProgress",
    "Job",
    "JobResult",
    "Status",
    "batch",
    "cache_key",
    "expand_jobs",
    "render_job",
    "summary",
    "write_report",
]


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
