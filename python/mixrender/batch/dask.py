"""The Dask back end: the same job function submitted to an existing cluster. Dask is imported
only here, when a scheduler is given, so that the render path never pays for it."""

from __future__ import annotations

from typing import Any

from .jobs import BatchError, _failed, _Spec
from .run import _Batch, _remove_job_temporaries, render_job


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
