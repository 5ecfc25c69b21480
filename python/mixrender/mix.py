"""The Mix: a loaded, validated mix file and what it renders (`mixrender.load` gives one).

Below the package's `__init__`, which re-exports `Mix` and `load`, so that the modules that
render a mix by path (`batch`) need not import the package while it initialises.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, Unpack, overload

from . import render as _render
from .errors import MixFileError
from .lock import Verification, lock_path, lock_text, verify
from .mixfile import MixFile, load_mixfile
from .plan import build_plan, plan_bytes
from .render import Progress, RenderReport
from .safepath import Confinement
from .sources import InMemorySource, probe_irs, probe_sources

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt


class RenderOptions(TypedDict, total=False):
    """The keyword arguments of :meth:`Mix.render` (its signature gives their defaults), with
    or without `out`."""

    rough: bool
    block_size: int | None
    threads: int | None
    stems: str | os.PathLike[str] | None
    report: str | os.PathLike[str] | None
    dtype: str
    progress: Progress | None
    lock: bool


@dataclass(frozen=True)
class Mix:
    """A loaded, validated mix file (and any sources given in memory)."""

    file: MixFile
    sources: Mapping[str, InMemorySource] = field(default_factory=dict)
    #: With roots, every source, impulse response and output must resolve inside one of them.
    allow_roots: tuple[str, ...] = ()

    @property
    def path(self) -> Path:
        return self.file.path

    def check(self) -> None:
        """Validates what a render needs beyond the file: every source and impulse-response
        header, the plan."""
        infos = probe_sources(self.file, self.sources)
        probe_irs(self.file)
        build_plan(self.file, infos)

    def plan(self, *, rough: bool = False) -> bytes:
        """The engine plan as canonical JSON bytes."""
        return plan_bytes(
            build_plan(self.file, probe_sources(self.file, self.sources), rough=rough)
        )

    @overload
    def render(
        self, out: None = None, **options: Unpack[RenderOptions]
    ) -> npt.NDArray[np.floating[Any]]: ...

    @overload
    def render(
        self, out: str | os.PathLike[str], **options: Unpack[RenderOptions]
    ) -> RenderReport: ...

    def render(
        self,
        out: str | os.PathLike[str] | None = None,
        *,
        rough: bool = False,
        block_size: int | None = None,
        threads: int | None = None,
        stems: str | os.PathLike[str] | None = None,
        report: str | os.PathLike[str] | None = None,
        dtype: str = "float32",
        progress: Progress | None = None,
        lock: bool = True,
    ) -> RenderReport | npt.NDArray[np.floating[Any]]:
        """Renders the mix.

        With `out`, writes the file (format by extension: .wav, .flac, .aif/.aiff) through a
        temporary file renamed into place, writes the lock file beside the mix (unless
        `lock=False`), and returns the RenderReport. Without, returns the clipped, undithered
        master as a new `(frames, 2)` array of `dtype` ("float32" or "float64"). With `stems`,
        every direct input of the master is also written to that folder, in the same pass.

        No output may be an input (the mix, a source, an impulse response) or another output;
        with `allow_roots` (given to `load`), every one must be inside those roots. All are
        written to temporary files and renamed into place once all are complete.
        """
        target = Path(out) if out is not None else None
        report_path = Path(report) if report is not None else None
        write_lock_file = lock and not rough and target is not None
        outputs: list[tuple[str, Path]] = []
        if report_path is not None:
            outputs.append(("report", report_path))
        if write_lock_file:
            outputs.append(("lock file", lock_path(self.file.path)))

        def extras(rep: RenderReport, job: _render.BlockRender) -> list[_render.TextOutput]:
            texts: list[_render.TextOutput] = []
            if report_path is not None:
                texts.append(("report", report_path, rep.json_text()))
            if write_lock_file:
                digests = job.source_digests()
                texts.append(
                    (
                        "lock file",
                        lock_path(self.file.path),
                        lock_text(self.file, job, rep, digests),
                    )
                )
            return texts

        rep, audio, _ = _render.render(
            self.file,
            target,
            sources=dict(self.sources),
            rough=rough,
            block_size=block_size,
            threads=threads,
            dtype=dtype,
            stems=Path(stems) if stems is not None else None,
            progress=progress,
            outputs=outputs,
            extras=extras,
            confinement=Confinement(self.allow_roots),
        )
        if audio is not None:
            return audio
        return rep

    def verify(self, *, threads: int | None = None) -> Verification:
        """Re-renders and compares with the lock file written by the last render."""
        return verify(self.file, threads=threads)


def load(
    path: str | os.PathLike[str],
    *,
    sources: Mapping[str, InMemorySource] | None = None,
    allow_roots: Iterable[str | os.PathLike[str]] | None = None,
) -> Mix:
    """Loads and validates a mix file. `sources` maps a track's `source` string to
    `(array, sample_rate)`, replacing that file: a `(frames,)` or `(frames, channels)` array
    of 1 or 2 channels and an integer rate in 8000..384000 Hz.

    float32 and float64 arrays are used as they are (not copied; float16 is widened exactly).
    Integer arrays are scaled as soundfile reads integer files of the same width, into a
    float type that holds every value exactly: int8 by 2^-7, uint8 as (x - 128) * 2^-7,
    int16 by 2^-15, int32 by 2^-31. Other dtypes (bool, complex, object, int64, uint16,
    uint32, uint64: no audio file holds them) raise SourceError when the mix is checked or
    rendered.

    With `allow_roots` (folders), every source and impulse response must resolve inside one
    of them (symlinks included), else SourceError, which does not tell whether the outside
    file exists; the mix's renders then write only inside them too."""
    roots = tuple(os.fspath(r) for r in allow_roots or ())
    mix = Mix(load_mixfile(path), dict(sources or {}), roots)
    _render.check_confined(mix.file, Confinement(roots), mix.sources)
    if sources:
        known = {t.source for t in mix.file.tracks}
        unknown = sorted(set(sources) - known)
        if unknown:
            raise MixFileError(
                mix.path,
                None,
                "",
                f"in-memory sources for unknown source strings: "
                f"{', '.join(map(repr, unknown))}; use a track's `source` value as key",
            )
    return mix
