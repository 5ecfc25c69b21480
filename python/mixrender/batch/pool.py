"""The local pool: a few ``spawn`` processes, each fed one job at a time over its own pipe, so
that the supervisor always knows which job a worker holds. When a worker dies (killed, out of
memory) that exact job is re-queued, its temporary files removed and a new worker started; a
``ProcessPoolExecutor`` cannot do this (one dead worker breaks the pool and fails every pending
job). ``spawn`` rather than ``fork``, so that no engine thread pool or libsndfile state is
copied into a child in the middle of its use. Workers find the job function by its module path
(`render_job` in `mixrender.batch.run`)."""

from __future__ import annotations

import contextlib
import signal
from collections import deque
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .jobs import _failed, _Spec
from .run import _Batch, _remove_job_temporaries, render_job

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.context import SpawnContext
    from multiprocessing.process import BaseProcess


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
