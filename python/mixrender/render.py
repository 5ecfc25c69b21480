"""The block loop: sources in, engine, output out, one block at a time.

Memory is bounded by the tracks times the block size, never by the song's length.
The engine holds the GIL released while it works on a block; Python only reads the
sources' next frames, hands the arrays over, and writes the result.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from . import _engine
from .errors import MixError, RenderError
from .mixfile import MixFile
from .plan import build_plan, plan_bytes
from .sources import InMemorySource, open_readers, probe_sources
from .writer import DTYPES, AtomicWriter, hash_block

DEFAULT_BLOCK = 4096
MAX_BLOCK = 1 << 16

#: Called after every block with (frames done, frames in all).
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class RenderReport:
    """What a finished render tells: where it went, how long, how loud at its peak."""

    mix: str
    output: str | None
    frames: int
    sample_rate: int
    bit_depth: int
    audio_sha256: str
    sample_peak_dbfs: float | None
    clipped_samples: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _dbfs(peak: float) -> float | None:
    return 20.0 * float(np.log10(peak)) if peak > 0 else None


def default_threads() -> int:
    return (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    )


def render(
    mix: MixFile,
    out: Path | None,
    *,
    sources: dict[str, InMemorySource] | None = None,
    rough: bool = False,
    block_size: int | None = None,
    threads: int | None = None,
    dtype: str = "float32",
    progress: Progress | None = None,
) -> tuple[RenderReport, npt.NDArray[Any] | None]:
    """Renders `mix` to the file `out`, or with `out=None` to an array returned with the report."""
    block = DEFAULT_BLOCK if block_size is None else block_size
    if not 1 <= block <= MAX_BLOCK:
        raise ValueError(f"block_size must be 1 .. {MAX_BLOCK}, not {block}")
    threads = default_threads() if threads is None else threads
    if threads < 1:
        raise ValueError(f"threads must be at least 1, not {threads}")
    if dtype not in ("float32", "float64"):
        raise ValueError(f'dtype must be "float32" or "float64", not {dtype!r}')

    infos = probe_sources(mix, sources)
    plan = build_plan(mix, infos, rough=rough)
    renderer = _engine.Renderer(plan_bytes(plan), block, threads)
    frames: int = renderer.frames
    bit_depth = mix.render.bit_depth if out is not None else 32
    result: npt.NDArray[Any] | None = None
    writer: AtomicWriter | None = None
    hasher: Any = hashlib.sha256()
    if out is None:
        result = np.zeros((frames, 2), dtype=dtype)
    else:
        writer = AtomicWriter(out, mix.session.sample_rate, bit_depth)
        hasher = writer.sha256
    buf = np.zeros((block, 2), dtype=DTYPES[bit_depth])
    readers = open_readers(mix, infos)
    try:
        pos = 0
        while pos < frames:
            n = min(block, frames - pos)
            wanted = renderer.wanted(n)
            renderer.process([r.read(k) for r, k in zip(readers, wanted, strict=True)], n)
            if result is not None:
                renderer.write(result[pos : pos + n])
            else:
                renderer.write(buf[:n])
                assert writer is not None
                writer.write(buf[:n])
            pos += n
            if progress is not None:
                progress(pos, frames)
        if result is not None:  # the hash a 32-bit float file of the same render would have
            hash_block(hasher, result.astype(np.float32, copy=False))
        if writer is not None:
            writer.commit()
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    finally:
        for r in readers:
            r.close()
    (peak_l, peak_r), (clip_l, clip_r) = renderer.stats()
    report = RenderReport(
        mix=str(mix.path),
        output=str(out) if out is not None else None,
        frames=frames,
        sample_rate=mix.session.sample_rate,
        bit_depth=bit_depth,
        audio_sha256=hasher.hexdigest(),
        sample_peak_dbfs=_dbfs(max(peak_l, peak_r)),
        clipped_samples=int(clip_l + clip_r),
        seconds=frames / mix.session.sample_rate,
    )
    return report, result


__all__ = ["DEFAULT_BLOCK", "MixError", "RenderError", "RenderReport", "render"]
