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
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import _engine
from .errors import RenderError, SourceError
from .mixfile import MixFile
from .model import from_values
from .plan import build_plan, loudness_at_input, plan_bytes
from .safepath import (
    Confinement,
    check_outputs,
    make_parent,
    remove_stale,
    temp_path,
    unlink_quietly,
)
from .sources import (
    InMemorySource,
    IrInfo,
    SourceInfo,
    _ir_sites,
    impulse_responses,
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
    loudness_gain_at: str | None
    """Where the loudness gain went: "master input" (before a master limiter), "master
    output" (after the master's gain), or None when the mix asks for no loudness."""
    seconds: float
    stems: dict[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def json_text(self) -> str:
        """The report as one JSON object (sorted keys)."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def write_json(self, path: Path) -> None:
        """Writes the report as one JSON object (sorted keys), atomically."""
        publish_texts([write_text_temp("report", path, self.json_text())])


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
        octave_bands: bool = True,
        digests: bool = True,
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
        ir_paths = [str(info.path) for info in self.ir_infos]
        self.engine = _engine.Renderer(self.plan, self.block, threads, irs, stems, ir_paths)
        #: Per track, whether the engine reads the source file itself.
        self.engine_reads = [
            info.path is not None
            and info.engine_readable
            and self.engine.open_file(
                i, info.path, info.frames, info.channels, info.sample_rate, digests
            )
            for i, info in enumerate(self.infos)
        ]
        # The engine names the files it reads in its errors; these it is handed.
        self.engine.name_sources(
            [
                (track.name, str(info.path))
                for track, info, own in zip(mix.tracks, self.infos, self.engine_reads, strict=True)
                if info.path is not None and not own
            ]
        )
        if meter:
            self.engine.enable_meter(mix.session.sample_rate, clipped, octave_bands)
        if levels:
            self.engine.enable_levels()
        self.frames: int = self.engine.frames
        self.digests = digests

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
        it after the last block (not for a render made with `digests=False`, whose files
        are read without hashing)."""
        if not self.digests:
            raise ValueError("this render reads its sources without hashing them")
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


#: The loudness search with a master limiter: it stops once a pass measures within this of
#: the target...
LOUDNESS_STOP_LU = 0.05
#: ... takes its closest pass if that is within this, and refuses the render otherwise.
LOUDNESS_TOLERANCE_LU = 0.1
#: Metering passes at most (each a render of the whole mix without writing).
LOUDNESS_MAX_PASSES = 8
#: How much more than the plain gain (target minus the mix's loudness as it is) the search may
#: drive into the limiter: the loudness the limiter may take away. Past it the limiter
#: saturates (it turns more gain into distortion, hardly into loudness).
LOUDNESS_MAX_PUSH_DB = 12.0
#: A true peak this little over the ceiling counts as at it (it reads as the ceiling to the
#: 0.01 dB every figure is shown with): a true-peak limiter holds the interpolated peaks of its
#: input, and its gain, moving within the interpolator's reach, leaves the output's own a few
#: 1e-5 dB over on real material (-0.99998 dBTP from a limiter at -1).
PEAK_SLACK_DB = 0.005


def loudness_gain_at(mix: MixFile, *, rough: bool = False) -> str | None:
    """Where a render puts the loudness gain, as its report says; None when not normalising."""
    if rough or mix.render.loudness_lufs is None:
        return None
    return "master input" if loudness_at_input(mix) else "master output"


def _measure(
    mix: MixFile,
    gain_db: float,
    sources: dict[str, InMemorySource] | None,
    block_size: int | None,
    threads: int | None,
    progress: Progress | None,
) -> tuple[float, float]:
    """One metering pass with `gain_db` of loudness gain: the master's integrated loudness and
    true peak (unclipped), or RenderError when it is silent."""
    job = BlockRender(
        mix,
        sources=sources,
        block_size=block_size,
        threads=threads,
        clipped=False,
        loudness_gain_db=gain_db,
    )
    job.run(progress)
    m = job.meters()
    loudness, peak = m["integrated_lufs"], m["true_peak_dbtp"]
    if loudness is None or peak is None:
        raise RenderError(
            f"{mix.path}: [render] loudness_lufs = {mix.render.loudness_lufs}: the master is "
            "silent (or shorter than 400 ms), so its loudness cannot be set"
        )
    return float(loudness), float(peak)


def loudness_gain(
    mix: MixFile,
    *,
    sources: dict[str, InMemorySource] | None = None,
    block_size: int | None = None,
    threads: int | None = None,
    progress: Progress | None = None,
) -> float | None:
    """The one gain that brings the master to `[render] loudness_lufs`; None when the mix does
    not ask.

    Without a limiter on the master, a first pass meters the master after its inserts and
    gain, and the gain (applied after them) is the target minus that loudness. With one, the
    gain goes to the master's input and is searched (`_limited_gain`).

    Raises RenderError, with both figures, when the target cannot be reached under
    `true_peak_ceiling_db`, or when the master is silent.
    """
    target = mix.render.loudness_lufs
    if target is None:
        return None
    if loudness_at_input(mix):
        return _limited_gain(mix, target, sources, block_size, threads, progress)
    loudness, peak = _measure(mix, 0.0, sources, block_size, threads, progress)
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
            "(true_peak = true), which the normalisation gain then drives"
        )
    return gain


def _limited_gain(
    mix: MixFile,
    target: float,
    sources: dict[str, InMemorySource] | None,
    block_size: int | None,
    threads: int | None,
    progress: Progress | None,
) -> float:
    """The gain at the master's input (before its limiter) that brings the master within
    LOUDNESS_TOLERANCE_LU of `target`, by a fixed search on the measured loudness.

    A first pass at 0 dB, then the plain gain (target minus that loudness), then secant steps
    through the last two passes, bisection within the bracket where a secant step would leave
    it, every gain at most LOUDNESS_MAX_PUSH_DB above the plain one; it stops within
    LOUDNESS_STOP_LU or after LOUDNESS_MAX_PASSES passes. The arithmetic is + - * / on the
    engine's meters, so the steps are the same on every run and machine. The closest pass wins;
    its true peak must be at or under the ceiling.
    """
    ceiling = mix.render.true_peak_ceiling_db
    passes: list[tuple[float, float, float]] = []  # (gain, loudness, true peak), in order

    def measure(gain: float) -> tuple[float, float]:
        loudness, peak = _measure(mix, gain, sources, block_size, threads, progress)
        passes.append((gain, loudness, peak))
        return loudness, peak

    loudness0, _ = measure(0.0)
    plain = target - loudness0
    top = plain + LOUDNESS_MAX_PUSH_DB
    gain = plain
    while len(passes) < LOUDNESS_MAX_PASSES:
        loudness, _ = measure(gain)
        if abs(loudness - target) <= LOUDNESS_STOP_LU:
            break
        below = [(g, lu) for g, lu, _ in passes if lu < target]
        above = [(g, lu) for g, lu, _ in passes if lu > target]
        lo = max(below)[0] if below else None
        hi = min(above)[0] if above else None
        (g0, l0, _), (g1, l1, _) = passes[-2], passes[-1]
        step = None if l1 == l0 else g1 + (target - l1) * (g1 - g0) / (l1 - l0)
        if lo is not None and hi is not None:
            if step is None or not lo < step < hi:
                step = (lo + hi) / 2
        elif hi is None:  # every pass is under the target: up, but not past the top
            if lo == top:
                break  # the limiter saturates
            if step is None or step <= g1:
                step = g1 + (target - l1)  # a limiter's slope is at most 1 LU per dB
            step = min(step, top)
        elif step is None or step >= g1:  # every pass is over the target: down
            step = g1 + (target - l1)
        if step in (g for g, _, _ in passes):
            break  # nothing new to learn
        gain = step
    best = min(passes, key=lambda p: abs(p[1] - target))  # the first such pass on a tie
    gain, loudness, peak = best
    limiters = [i for i in mix.master.inserts if i.type == "limiter"]
    ceilings = ", ".join(
        f'"{i.name}" {float(i.params["ceiling_db"]):.2f} dBTP'
        for i in limiters
        if isinstance(i.params.get("ceiling_db"), int | float)
    )
    if abs(loudness - target) > LOUDNESS_TOLERANCE_LU and any(lu > target for _, lu, _ in passes):
        raise RenderError(  # a loudness that jumps across the target: the gating, or a limiter
            f"{mix.path}: [render] loudness_lufs = {target}: the loudness search did not settle "
            f"in {len(passes)} passes: the closest measures {loudness:.2f} LUFS at {gain:+.2f} dB "
            f"into the master ({', '.join(f'{g:+.2f} dB: {lu:.2f}' for g, lu, _ in passes)}). "
            "Lower the target, or make the master's loudness follow its gain more smoothly "
            "(a gentler limiter: a longer release_ms)"
        )
    if abs(loudness - target) > LOUDNESS_TOLERANCE_LU:
        reached = max(passes, key=lambda p: p[1])
        raise RenderError(
            f"{mix.path}: [render] loudness_lufs = {target}: the master's limiter "
            f"({ceilings}) cannot bring the mix there: the loudest of {len(passes)} passes "
            f"measures {reached[1]:.2f} LUFS ({reached[0]:+.2f} dB into the master, "
            f"{reached[0] - plain:.1f} dB more than the {plain:+.2f} dB a plain gain would "
            f"need; at most {LOUDNESS_MAX_PUSH_DB:.0f} dB more is driven into the limiter). "
            "Lower the target, or make the mix denser before the limiter (e.g. a compressor "
            "on the master ahead of it)"
        )
    if peak > ceiling + PEAK_SLACK_DB:
        raise RenderError(
            f"{mix.path}: [render] loudness_lufs = {target}: at {loudness:.2f} LUFS "
            f"({gain:+.2f} dB into the master) the true peak measures {peak:.2f} dBTP, over "
            f"the ceiling of {ceiling:.2f} dBTP (true_peak_ceiling_db). The master's limiter "
            f"({ceilings}) must hold the peaks under it: set its ceiling_db at or under "
            f"{ceiling:.2f} with true_peak = true, after every other master insert, and no "
            "master gain_db above 0 dB"
        )
    return gain


#: A file written beside the audio, as `(what, path, text)`: the lock, the JSON report.
TextOutput = tuple[str, Path, str]
#: Called once the audio is complete, before any output is renamed into place.
Extras = Callable[["RenderReport", "BlockRender"], Sequence[TextOutput]]


def write_text_temp(what: str, path: Path, text: str) -> tuple[Path, Path]:
    """Writes `text` to a temporary file beside `path`; `(temporary, path)`, for
    `publish_texts`. Raises RenderError naming the file and what it is."""
    if path.is_dir():
        raise RenderError(f"{path}: is a folder; name the {what} file")
    make_parent(path, what)
    tmp = temp_path(path)
    try:
        with open(tmp, "x", encoding="utf-8") as f:
            f.write(text)
    except OSError as e:
        unlink_quietly(tmp)
        raise RenderError(f"{path}: cannot write the {what} ({e.strerror or e})") from None
    except BaseException:
        unlink_quietly(tmp)
        raise
    return tmp, path


def same_text(path: Path, text: str) -> bool:
    """Whether `path` already holds exactly `text` (then it is left alone, mtime and all)."""
    try:
        return path.read_bytes() == text.encode("utf-8")
    except OSError:
        return False


def publish_texts(temps: Sequence[tuple[Path, Path]]) -> None:
    """Renames finished temporary files into place; on a failure removes the rest."""
    for i, (tmp, path) in enumerate(temps):
        try:
            os.replace(tmp, path)
        except OSError as e:
            for rest, _ in temps[i:]:
                unlink_quietly(rest)
            raise RenderError(f"{path}: cannot write it ({e.strerror or e})") from None


def render_inputs(
    mix: MixFile, sources: dict[str, InMemorySource] | None = None
) -> list[tuple[str, Path]]:
    """Every file a render of `mix` reads, as `(what, path)`: the mix, the sources (but
    those given in memory), the impulse responses."""
    found: list[tuple[str, Path]] = [("mix file", mix.path)]
    for track in mix.tracks:
        if track.source_path is not None and (track.source or "") not in (sources or {}):
            found.append((f"source of track {track.name!r}", track.source_path))
    found += [("impulse response", p) for p in impulse_responses(mix)]
    return found


def check_confined(
    mix: MixFile,
    confinement: Confinement | None,
    sources: Mapping[str, InMemorySource] | None = None,
) -> None:
    """Raises SourceError for a source (but those given in memory) or impulse response
    outside the allowed roots, before anything looks at the file: the message is the same
    whether it exists or not."""
    if confinement is None or not confinement.active:
        return
    for track in mix.tracks:
        if (track.source or "") in (sources or {}):
            continue
        if track.source_path is not None and not confinement.allows(track.source_path):
            raise SourceError(
                mix.path,
                track.line,
                f"{track.label} > source",
                track.source or "",
                "outside the allowed folders (--allow-root)",
            )
    for path, (written, line, where) in _ir_sites(mix).items():
        if not confinement.allows(path):
            raise SourceError(
                mix.path, line, where, written, "outside the allowed folders (--allow-root)"
            )


def check_output_paths(
    outputs: Sequence[tuple[str, Path]], confinement: Confinement | None
) -> None:
    if confinement is None or not confinement.active:
        return
    for what, path in outputs:
        if not confinement.allows(path):
            raise RenderError(confinement.message(f"{path}: the {what}"))


def _safe_name(name: str) -> str:
    return re.sub(r"[^\w\-. ]", "_", name).strip(" .") or "stem"


def _stem_files(names: Sequence[str], extension: str) -> dict[str, str]:
    """Each stem's file name in the stems folder, by the stem's name."""
    paths: dict[str, str] = {}
    for name in names:
        file = f"{_safe_name(name)}{extension}"
        if file.lower() in (p.lower() for p in paths.values()):
            other = next(k for k, v in paths.items() if v.lower() == file.lower())
            raise RenderError(f'stems "{other}" and "{name}" would both be written to {file}')
        paths[name] = file
    return paths


def _stem_writers(
    job: BlockRender, folder: Path, extension: str, bit_depth: int
) -> dict[str, AtomicWriter]:
    names = job.engine.stem_names()
    paths = _stem_files(names, extension)
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
    outputs: Sequence[tuple[str, Path]] = (),
    extras: Extras | None = None,
    confinement: Confinement | None = None,
) -> tuple[RenderReport, npt.NDArray[Any] | None, BlockRender]:
    """Renders `mix` to the file `out`, or with `out=None` to an array returned with the report.

    With `stems`, every direct input of the master is written to that folder in the same
    pass, named after its track or bus, in the output's format (WAV without `out`).

    `outputs` are the other files the caller writes (`(what, path)`: the lock, the report):
    before anything is written, no output may be an input (the mix, a source, an impulse
    response) or another output, and with `confinement` every one must be inside its roots.
    `extras` gives those files' text once the audio is complete; every file is written to a
    temporary file first and renamed into place only when all are complete, so that a
    failure leaves none of them, and no temporary file.
    """
    if dtype not in ("float32", "float64"):
        raise ValueError(f'dtype must be "float32" or "float64", not {dtype!r}')
    bit_depth = mix.render.bit_depth if out is not None else 32
    if out is not None:
        output_format(out, bit_depth)  # refuse a bad extension before any work
        if out.is_dir():
            raise RenderError(f"{out}: is a folder; name the output file")
    check_confined(mix, confinement, sources)
    inputs = render_inputs(mix, sources)
    planned: list[tuple[str, Path]] = [("output", out)] if out is not None else []
    planned += list(outputs)
    check_output_paths(planned, confinement)
    check_outputs(inputs, planned)
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
    if stems is not None:
        extension = out.suffix if out is not None else ".wav"
        planned += [
            (f"stem of {name!r}", stems / file)
            for name, file in _stem_files(job.engine.stem_names(), extension).items()
        ]
        check_output_paths(planned, confinement)
        check_outputs(inputs, planned)
    remove_stale(path.parent for _, path in planned)
    frames = job.frames
    result: npt.NDArray[Any] | None = None
    buf: npt.NDArray[Any] | None = None
    writers: dict[str, AtomicWriter] = {}
    stem_hashes: dict[str, str] | None = None
    writer: AtomicWriter | None = None
    texts: list[tuple[Path, Path]] = []
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
            writer.finish()
        for w in writers.values():
            w.finish()
        if writers:
            stem_hashes = {name: w.hexdigest() for name, w in writers.items()}
        if writer is not None:
            audio_sha256 = writer.hexdigest()
        else:
            assert result is not None
            hasher = hashlib.sha256()  # the hash a 32-bit float file of the same render has
            hash_block(hasher, result.astype("float32", copy=False))
            audio_sha256 = hasher.hexdigest()
        report = _report(mix, job, out, bit_depth, audio_sha256, stem_hashes, rough=rough)
        for what, path, text in extras(report, job) if extras is not None else ():
            if not same_text(path, text):
                texts.append(write_text_temp(what, path, text))
        # Everything is complete in its temporary file: only renames remain.
        if writer is not None:
            writer.publish()
        for w in writers.values():
            w.publish()
        publish_texts(texts)
    except BaseException as e:
        for w in writers.values():
            w.abort()
        if writer is not None:
            writer.abort()
        for tmp, _ in texts:
            unlink_quietly(tmp)
        temps = [(w.tmp, w.path) for w in (writer, *writers.values()) if w is not None]
        if isinstance(e, RenderError):  # the engine names the file it writes: name the output
            for tmp, path in temps:
                if str(tmp) in str(e):
                    raise RenderError(str(e).replace(str(tmp), str(path))) from None
        raise
    return report, result, job


def _report(
    mix: MixFile,
    job: BlockRender,
    out: Path | None,
    bit_depth: int,
    audio_sha256: str,
    stem_hashes: dict[str, str] | None,
    *,
    rough: bool,
) -> RenderReport:
    frames = job.frames
    peak, clipped = job.peak_and_clips()
    return from_values(
        RenderReport,
        job.meters(),  # the figures of the meter, each under the name of its field
        mix=str(mix.path),
        output=str(out) if out is not None else None,
        frames=frames,
        sample_rate=mix.session.sample_rate,
        bit_depth=bit_depth,
        audio_sha256=audio_sha256,
        clipped_samples=clipped,
        peak_before_clip_dbfs=peak,
        loudness_gain_db=job.loudness_gain_db,
        loudness_gain_at=loudness_gain_at(mix, rough=rough),
        seconds=frames / mix.session.sample_rate,
        stems=stem_hashes,
    )
