"""The block loop: sources in, engine, output out, one block at a time.

Memory is bounded by the tracks times the block size, never by the song's length.
The engine holds the GIL released while it works on a block; Python only reads the
sources' next frames, hands the arrays over, and writes the result.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import _engine
from .errors import RenderError
from .mixfile import MixFile
from .plan import build_plan, plan_bytes
from .sources import (
    InMemorySource,
    IrInfo,
    SourceInfo,
    open_readers,
    probe_irs,
    probe_sources,
    read_ir,
)
from .writer import DTYPES, AtomicWriter, hash_block, output_format

if TYPE_CHECKING:
    # Imported where used: a render from WAV files to a WAV file needs no numpy array.
    import numpy.typing as npt

#: Frames per call into the engine. The engine runs a call in sub-blocks of 4096 frames,
#: its strips holding no more, so a long call costs little memory and saves per-call work:
#: the Python loop, and the pipeline's start and end, where one stage runs alone.
DEFAULT_BLOCK = 1 << 16
#: ... except when a track's file is decoded through soundfile (any other format than WAV):
#: its I/O thread decodes 16384 frames ahead of the engine, and a longer call waits for it
#: (24 FLAC tracks rendered slower with calls of 65536 frames, and took 9 MB more).
DECODED_BLOCK = 16384
#: ... except when stems are written, or a track is keyed by another strip: then every
#: strip holds a whole call, and a stem render calls with this many frames by default.
STEMS_BLOCK = 4096
MAX_BLOCK = 1 << 16
#: Frames of all strips' buffers together that a call may ask for: a mix of many strips is
#: called in smaller blocks (the same bits, as for any block size), so that its buffers,
#: sized from the call in every strip, stay bounded (docs/limits.md): 2048 strips get 1024.
STRIP_FRAMES = 1 << 21

#: Called after every block with (frames done, frames in all).
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class RenderReport:
    """What a finished render tells: where it went, how long, how loud, its peaks.

    The meters read the output as written (clipped, before dither), in the same pass as the
    render; `peak_before_clip_dbfs` is the master's peak before the clip. Levels of silence
    are None.
    """

    mix: str
    output: str | None
    frames: int
    sample_rate: int
    bit_depth: int
    audio_sha256: str
    sample_peak_dbfs: float | None
    true_peak_dbtp: float | None
    integrated_lufs: float | None
    loudness_range_lu: float | None
    max_momentary_lufs: float | None
    max_short_term_lufs: float | None
    rms_dbfs: float | None
    crest_db: float | None
    correlation: float | None
    dc_offset: float | None
    octave_bands_db: dict[str, float | None]
    clipped_samples: int
    peak_before_clip_dbfs: float | None
    loudness_gain_db: float
    seconds: float
    stems: dict[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def write_json(self, path: Path) -> None:
        """Writes the report as one JSON object (sorted keys), atomically."""
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")
        os.replace(tmp, path)


def _dbfs(peak: float) -> float | None:
    return 20.0 * math.log10(peak) if peak > 0 else None


def _floor_pow2(n: int) -> int:
    return 1 << (max(1, n).bit_length() - 1)


def default_threads() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class BlockRender:
    """One render's engine and readers; iterate `blocks()` and take each block's audio."""

    def __init__(
        self,
        mix: MixFile,
        *,
        sources: dict[str, InMemorySource] | None = None,
        rough: bool = False,
        block_size: int | None = None,
        threads: int | None = None,
        meter: bool = True,
        clipped: bool = True,
        loudness_gain_db: float | None = None,
        levels: bool = False,
        stems: bool = False,
    ) -> None:
        if block_size is not None and not 1 <= block_size <= MAX_BLOCK:
            raise ValueError(f"block_size must be 1 .. {MAX_BLOCK}, not {block_size}")
        threads = default_threads() if threads is None else threads
        if threads < 1:
            raise ValueError(f"threads must be at least 1, not {threads}")
        threads = min(threads, os.cpu_count() or 1)  # more only add switching (same bits)
        self.mix = mix
        self.infos: list[SourceInfo] = probe_sources(mix, sources)
        decoded = any(i.path is not None and not i.engine_readable for i in self.infos)
        default = DECODED_BLOCK if decoded else DEFAULT_BLOCK
        self.block = default if block_size is None else block_size
        strips = len(mix.tracks) + len(mix.buses)
        self.block = max(1, min(self.block, _floor_pow2(STRIP_FRAMES // max(1, strips))))
        # A rough render bypasses every insert, so it reads no impulse response.
        self.ir_infos: list[IrInfo] = [] if rough else probe_irs(mix)
        self.loudness_gain_db = loudness_gain_db or 0.0
        plan = build_plan(mix, self.infos, rough=rough, loudness_gain_db=self.loudness_gain_db)
        self.plan = plan_bytes(plan)
        # Read whole (they are short) and copied into the engine, which resamples any at
        # another rate than the session's; the arrays are dropped once the engine holds them.
        irs = [read_ir(info) for info in self.ir_infos]
        self.engine = _engine.Renderer(self.plan, self.block, threads, irs, stems)
        #: Per track, whether the engine reads the source file itself.
        self.engine_reads = [
            info.path is not None
            and info.engine_readable
            and self.engine.open_file(i, info.path, info.frames, info.channels, info.sample_rate)
            for i, info in enumerate(self.infos)
        ]
        if meter:
            self.engine.enable_meter(mix.session.sample_rate, clipped)
        if levels:
            self.engine.enable_levels()
        self.frames: int = self.engine.frames

    def blocks(self, progress: Progress | None = None) -> Iterator[tuple[int, int]]:
        """Renders block after block, yielding `(position, frames)` once each is ready."""
        # One I/O thread decodes the sources the engine does not read ahead of it (libsndfile
        # and the engine both release the GIL), so reading overlaps the work on the block
        # before.
        io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mixrender-io")
        readers = open_readers(self.mix, self.infos, io, self.engine_reads)
        try:
            pos = 0
            while pos < self.frames:
                n = min(self.block, self.frames - pos)
                wanted = self.engine.wanted(n)
                blocks = [
                    r.read(k) if r is not None else None
                    for r, k in zip(readers, wanted, strict=True)
                ]
                self.engine.process(blocks, n)
                yield pos, n
                pos += n
                if progress is not None:
                    progress(pos, self.frames)
        finally:
            for r in readers:
                if r is not None:
                    r.close()
            io.shutdown(wait=True)

    def source_digests(self) -> list[str | None]:
        """Per track, the SHA-256 of the file the engine read (None where it did not): call
        it after the last block."""
        return self.engine.source_digests()

    def peak_and_clips(self) -> tuple[float | None, int]:
        (peak_l, peak_r), (clip_l, clip_r) = self.engine.stats()
        return _dbfs(max(peak_l, peak_r)), int(clip_l + clip_r)

    def run(self, progress: Progress | None = None) -> None:
        """Renders every block and keeps nothing but the meters."""
        for _ in self.blocks(progress):
            pass

    def meters(self) -> dict[str, Any]:
        report = self.engine.meter_report()
        assert report is not None, "the meter was not enabled"
        return report


def loudness_gain(
    mix: MixFile,
    *,
    sources: dict[str, InMemorySource] | None = None,
    block_size: int | None = None,
    threads: int | None = None,
    progress: Progress | None = None,
) -> float | None:
    """The one gain that brings the master to `[render] loudness_lufs`, from a first pass
    that meters the master after its inserts and gain; None when the mix does not ask.

    Raises RenderError, with both figures, when that gain would put the true peak over
    `true_peak_ceiling_db`, or when the master is silent.
    """
    target = mix.render.loudness_lufs
    if target is None:
        return None
    first = BlockRender(mix, sources=sources, block_size=block_size, threads=threads, clipped=False)
    first.run(progress)
    m = first.meters()
    loudness, peak = m["integrated_lufs"], m["true_peak_dbtp"]
    if loudness is None or peak is None:
        raise RenderError(
            f"{mix.path}: [render] loudness_lufs = {target}: the master is silent (or shorter "
            "than 400 ms), so its loudness cannot be set"
        )
    gain = float(target - loudness)
    ceiling = mix.render.true_peak_ceiling_db
    if peak + gain > ceiling:
        allowed = ceiling - target
        raise RenderError(
            f"{mix.path}: [render] loudness_lufs = {target}: the master measures "
            f"{loudness:.2f} LUFS with a true peak of {peak:.2f} dBTP; the {gain:+.2f} dB it "
            f"needs would put the true peak at {peak + gain:.2f} dBTP, over the ceiling of "
            f"{ceiling:.2f} dBTP. Its peak-to-loudness ratio is {peak - loudness:.1f} dB and "
            f"the target allows {allowed:.1f} dB: lower the target, or bring the peaks down by "
            f"{peak - loudness - allowed:.1f} dB with a limiter on the master "
            "(true_peak = true), which the normalisation gain follows"
        )
    return gain


def _safe_name(name: str) -> str:
    return re.sub(r"[^\w\-. ]", "_", name).strip(" .") or "stem"


def _stem_writers(
    job: BlockRender, folder: Path, extension: str, bit_depth: int
) -> dict[str, AtomicWriter]:
    names = job.engine.stem_names()
    paths: dict[str, str] = {}
    for name in names:
        file = f"{_safe_name(name)}{extension}"
        if file.lower() in (p.lower() for p in paths.values()):
            other = next(k for k, v in paths.items() if v.lower() == file.lower())
            raise RenderError(f'stems "{other}" and "{name}" would both be written to {file}')
        paths[name] = file
    writers: dict[str, AtomicWriter] = {}
    try:
        for name in names:
            writers[name] = AtomicWriter(
                folder / paths[name], job.mix.session.sample_rate, bit_depth
            )
    except BaseException:
        for w in writers.values():
            w.abort()
        raise
    return writers


def render(
    mix: MixFile,
    out: Path | None,
    *,
    sources: dict[str, InMemorySource] | None = None,
    rough: bool = False,
    block_size: int | None = None,
    threads: int | None = None,
    dtype: str = "float32",
    stems: Path | None = None,
    progress: Progress | None = None,
) -> tuple[RenderReport, npt.NDArray[Any] | None, BlockRender]:
    """Renders `mix` to the file `out`, or with `out=None` to an array returned with the report.

    With `stems`, every direct input of the master is written to that folder in the same
    pass, named after its track or bus, in the output's format (WAV without `out`).
    """
    if dtype not in ("float32", "float64"):
        raise ValueError(f'dtype must be "float32" or "float64", not {dtype!r}')
    bit_depth = mix.render.bit_depth if out is not None else 32
    if out is not None:
        output_format(out, bit_depth)  # refuse a bad extension before any work
    gain = (
        None
        if rough
        else loudness_gain(mix, sources=sources, block_size=block_size, threads=threads)
    )
    job = BlockRender(
        mix,
        sources=sources,
        rough=rough,
        block_size=STEMS_BLOCK if block_size is None and stems is not None else block_size,
        threads=threads,
        loudness_gain_db=gain,
        stems=stems is not None,
    )
    frames = job.frames
    result: npt.NDArray[Any] | None = None
    buf: npt.NDArray[Any] | None = None
    writers: dict[str, AtomicWriter] = {}
    stem_hashes: dict[str, str] | None = None
    writer: AtomicWriter | None = None
    try:
        if out is not None:
            writer = AtomicWriter(out, mix.session.sample_rate, bit_depth, job.engine, frames)
        if stems is not None:
            extension = out.suffix if out is not None else ".wav"
            writers = _stem_writers(job, stems, extension, bit_depth)
        # Arrays only where Python moves the samples: into memory, to stems, or to a file the
        # engine does not write itself.
        if out is None or writers or (writer is not None and not writer.engine_writes):
            import numpy as np

            result = np.zeros((frames, 2), dtype=dtype) if out is None else None
            buf = np.zeros((job.block, 2), dtype=DTYPES[bit_depth])
        for pos, n in job.blocks(progress):
            if result is not None:
                job.engine.write(result[pos : pos + n])
            elif writer is not None and not writer.engine_writes:
                assert buf is not None
                job.engine.write(buf[:n])
                writer.write(buf[:n])
            for k, w in enumerate(writers.values()):
                assert buf is not None
                job.engine.write_stem(k, buf[:n])
                w.write(buf[:n])
        if writer is not None:
            writer.commit()
        for w in writers.values():
            w.commit()
        if writers:
            stem_hashes = {name: w.hexdigest() for name, w in writers.items()}
    except BaseException:
        for w in writers.values():
            w.abort()
        if writer is not None:
            writer.abort()
        raise
    if writer is not None:
        audio_sha256 = writer.hexdigest()
    else:
        assert result is not None
        hasher = hashlib.sha256()  # the hash a 32-bit float file of the same render would have
        hash_block(hasher, result.astype("float32", copy=False))
        audio_sha256 = hasher.hexdigest()
    peak, clipped = job.peak_and_clips()
    m = job.meters()
    report = RenderReport(
        mix=str(mix.path),
        output=str(out) if out is not None else None,
        frames=frames,
        sample_rate=mix.session.sample_rate,
        bit_depth=bit_depth,
        audio_sha256=audio_sha256,
        sample_peak_dbfs=m["sample_peak_dbfs"],
        true_peak_dbtp=m["true_peak_dbtp"],
        integrated_lufs=m["integrated_lufs"],
        loudness_range_lu=m["loudness_range_lu"],
        max_momentary_lufs=m["max_momentary_lufs"],
        max_short_term_lufs=m["max_short_term_lufs"],
        rms_dbfs=m["rms_dbfs"],
        crest_db=m["crest_db"],
        correlation=m["correlation"],
        dc_offset=m["dc_offset"],
        octave_bands_db=m["octave_bands_db"],
        clipped_samples=clipped,
        peak_before_clip_dbfs=peak,
        loudness_gain_db=job.loudness_gain_db,
        seconds=frames / mix.session.sample_rate,
        stems=stem_hashes,
    )
    return report, result, job
