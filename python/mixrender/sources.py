"""Sources: probing their headers at load, and reading them block by block at render.

WAV files of 16-, 24- or 32-bit integers or 32-bit floats are probed and read by the engine
itself, each on the worker that plays its track (decoding in parallel, hashing the bytes for
the lock on the way); a render of such files imports neither soundfile nor numpy. Other
files are probed and read here with soundfile (libsndfile) into preallocated blocks, never
whole, decoded ahead on an I/O thread. Both give the same samples. Sources given in memory
(numpy arrays, the path dataset generators use) are read the same way, so that a render
cannot tell them apart.

Impulse responses (the `ir` of `convolution` inserts) are the exception: they are short,
the engine needs all of one before it can partition it, and so they are read whole, once
per render (`read_ir`), and refused beyond `MAX_IR_SECONDS`.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections import deque
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from . import _engine, integrity
from .errors import SourceError
from .files import not_regular
from .mixfile import MixFile
from .model import Insert, Strip

if TYPE_CHECKING:
    # numpy and soundfile are imported where used: a render of WAV files needs neither.
    import numpy as np
    import numpy.typing as npt

    #: What `Mix.load(sources=...)` accepts for a track: `(array, sample_rate)`.
    InMemorySource = tuple[npt.ArrayLike, int]
else:
    InMemorySource = tuple[Any, int]

_ADVICE_CHANNELS = (
    "mixrender mixes mono and stereo sources; split it into mono or stereo stems "
    "(for example `sox in.wav out_LR.wav remix 1 2`) and give each its own track"
)


@dataclass(frozen=True)
class SourceInfo:
    """What the plan needs to know of a source, read from its header (or its array)."""

    frames: int
    sample_rate: int
    channels: int
    #: The float type it is read as: float32 holds every 16- and 24-bit sample exactly.
    dtype: str
    path: Path | None
    array: npt.NDArray[np.floating[Any]] | None = None
    #: libsndfile's name for the file's sample encoding ("" in memory).
    subtype: str = ""
    #: Whether the engine's own probe described the file, so that the engine may read it
    #: (it checks the header again when it opens the file).
    engine_readable: bool = False


def _error(mix: MixFile, track: Strip, source: Path | str, reason: str) -> SourceError:
    return SourceError(mix.path, track.line, f"{track.label} > source", source, reason)


class _Unusable(Exception):
    """Why a source or impulse-response file cannot be used (the message, one line)."""


def shown(path: str | os.PathLike[str]) -> str:
    """A path for a one-line message: control characters (a NUL byte, a newline) escaped
    as Python writes them (`\\x00`, `\\n`), the rest as it is."""
    text = os.fspath(path)
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _missing(path: Path) -> str | None:
    """Why there is no file at `path` to read, as one line; None when `os.stat` finds one.
    Every error the look-up can raise is mapped: no such file, a name longer than the file
    system allows, a symlink loop, a file where a folder should be, no permission, a NUL
    byte."""
    where = f"looked for {shown(path)}"
    if "\x00" in os.fspath(path):
        return f"its path holds a NUL byte ({where}); a file name cannot hold one"
    try:
        os.stat(path)
    except FileNotFoundError:
        dangling = os.path.islink(path)
        what = "a symlink to a file that does not exist" if dangling else "file not found"
        return f"{what} ({where}); paths are relative to the mix file's folder"
    except OSError as e:
        if e.errno == errno.ENAMETOOLONG:
            longest = max(len(os.fsencode(part)) for part in path.parts)
            if longest > 255:
                return (
                    f"its name is too long for the file system ({where}; a part of it has "
                    f"{longest} bytes, the limit is 255): rename the file"
                )
            size = len(os.fsencode(path))
            return f"its path is too long for the file system ({size} bytes; {where})"
        if e.errno == errno.ELOOP:
            return f"is a symlink loop ({where}): its links lead back to themselves"
        if e.errno == errno.ENOTDIR:
            return (
                f"file not found ({where}): a part of its path is a file, not a folder; "
                "paths are relative to the mix file's folder"
            )
        if e.errno == errno.EACCES:
            return f"cannot be reached: permission denied ({where})"
        return f"cannot be reached ({e.strerror or e}; {where})"
    return None


def _probe_header(path: Path) -> tuple[int, int, int, str, bool]:
    """`(frames, channels, sample_rate, subtype, engine_reads)` of the audio file at `path`,
    from its header: the engine's own probe for the WAV files it reads, soundfile's for the
    rest, after `integrity.check_file` found the file whole (a seek and a header parse; see
    that module). Raises _Unusable with the reason."""
    missing = _missing(path)
    if missing is not None:
        raise _Unusable(missing)
    refused = not_regular(path)
    if refused is not None:
        raise _Unusable(refused)
    try:
        wav = _engine.probe_wav(path)
    except ValueError as e:  # a WAV file the engine reads, cut short or impossible
        raise _Unusable(str(e)) from None
    if wav is not None:
        frames, channels, rate, subtype = wav
        return frames, channels, rate, subtype, True
    import soundfile as sf

    try:
        kind = integrity.check_file(path)
    except integrity.Damaged as e:
        raise _Unusable(str(e)) from None
    except OSError as e:
        raise _Unusable(f"cannot be opened ({e.strerror})") from None
    try:
        info = sf.info(str(path))
    except RuntimeError as e:  # soundfile's errors derive from it
        raise _Unusable(f"cannot be read as audio ({e})") from None
    except OSError as e:
        raise _Unusable(f"cannot be opened ({e.strerror})") from None
    if kind is None:
        raise _Unusable(
            f"is in the {info.format_info} format; mixrender reads sources in the formats whose "
            f"completeness it can check ({', '.join(integrity.CHECKED)}): convert it to WAV "
            "or FLAC (losslessly)"
        )
    reason = integrity.check_rate(info.samplerate)
    if reason is not None:
        raise _Unusable(reason)
    if kind == "FLAC":
        try:
            integrity.flac_tail(path, info.frames)
        except integrity.Damaged as e:
            raise _Unusable(str(e)) from None
    return info.frames, info.channels, info.samplerate, info.subtype, False


def _probe_file(mix: MixFile, track: Strip) -> SourceInfo:
    path = track.source_path
    assert path is not None and track.source is not None
    try:
        frames, channels, rate, subtype, engine_reads = _probe_header(path)
    except _Unusable as e:
        raise _error(mix, track, track.source, str(e)) from None
    if channels > 2:
        raise _error(mix, track, track.source, f"has {channels} channels; {_ADVICE_CHANNELS}")
    # float32 holds every integer sample of up to 24 bits exactly; wider formats need float64.
    dtype = "float64" if subtype in ("DOUBLE", "PCM_32") else "float32"
    return SourceInfo(frames, rate, channels, dtype, path, None, subtype, engine_reads)


#: How integer arrays given in memory are read, as soundfile reads integer files of the same
#: width: `(x - offset) * scale`, into a float type that holds every result exactly.
_INTEGER_SCALES: dict[str, tuple[int, float, str]] = {
    "int8": (0, 2.0**-7, "float32"),
    "uint8": (128, 2.0**-7, "float32"),
    "int16": (0, 2.0**-15, "float32"),
    "int32": (0, 2.0**-31, "float64"),
}


def _as_samples(array: npt.NDArray[Any]) -> npt.NDArray[np.floating[Any]] | str:
    """The float samples of an in-memory array, or why its dtype is refused."""
    import numpy as np

    kind = array.dtype
    if kind in (np.float32, np.float64):
        return array
    if kind == np.float16:
        return array.astype(np.float32)  # exact
    if kind.name in _INTEGER_SCALES:
        offset, scale, dtype = _INTEGER_SCALES[kind.name]
        wide = array.astype(np.float64)
        if offset:
            wide -= offset
        return (wide * scale).astype(dtype)
    if kind.kind in "iu":
        return (
            f"in-memory source has dtype {kind.name}, which no audio file holds; give float32 "
            "or float64 samples in -1..1, or int8, uint8, int16 or int32 (scaled as "
            "soundfile reads such files)"
        )
    return (
        f"in-memory source has dtype {kind.name}; give float32 or float64 samples in -1..1, "
        "or int8, uint8, int16 or int32 (scaled as soundfile reads such files)"
    )


def _probe_array(mix: MixFile, track: Strip, given: InMemorySource) -> SourceInfo:
    import numpy as np

    try:
        data, rate = given
    except (TypeError, ValueError):
        reason = "in-memory source must be (array, sample_rate)"
        raise _error(mix, track, str(track.source), reason) from None
    array = np.asarray(data)
    if array.ndim == 1:
        array = array[:, np.newaxis]
    if array.ndim != 2 or array.shape[1] < 1:
        reason = (
            f"in-memory source has shape {array.shape}; expected (frames,) or (frames, channels)"
        )
        raise _error(mix, track, str(track.source), reason)
    if array.shape[1] > 2:
        reason = f"has {array.shape[1]} channels; {_ADVICE_CHANNELS}"
        raise _error(mix, track, str(track.source), reason)
    samples = _as_samples(array)
    if isinstance(samples, str):
        raise _error(mix, track, str(track.source), samples)
    if isinstance(rate, bool) or not isinstance(rate, int | np.integer):
        raise _error(mix, track, str(track.source), f"sample rate {rate!r} is not an integer in Hz")
    bad_rate = integrity.check_rate(int(rate))
    if bad_rate is not None:
        raise _error(mix, track, str(track.source), bad_rate.split(";")[0])
    samples = np.ascontiguousarray(samples)
    return SourceInfo(
        samples.shape[0], int(rate), samples.shape[1], str(samples.dtype), None, samples
    )


def probe_sources(
    mix: MixFile, overrides: Mapping[str, InMemorySource] | None = None
) -> list[SourceInfo]:
    """Reads every track's source header (or in-memory array), in track order."""
    overrides = overrides or {}
    infos = []
    for track in mix.tracks:
        given = overrides.get(track.source or "")
        infos.append(
            _probe_array(mix, track, given) if given is not None else _probe_file(mix, track)
        )
    return infos


#: The longest impulse response read (a hall's tail is a few seconds; an hour-long file
#: named as `ir` is a mistake that would otherwise fill the memory).
MAX_IR_SECONDS = 60.0


@dataclass(frozen=True)
class IrInfo(SourceInfo):
    """An impulse response's header, with where the mix names it (for errors and the lock)."""

    #: The `ir` value as written in the mix (the first insert that names the file).
    written: str = ""
    #: The mix file, the line of that `ir` key and its display path
    #: (`bus "Plate" > insert "convolution" > ir`).
    mix_path: Path | None = None
    line: int | None = None
    where: str = ""

    def error(self, reason: str) -> SourceError:
        assert self.mix_path is not None
        return SourceError(self.mix_path, self.line, self.where, self.written, reason)


def impulse_responses(mix: MixFile) -> list[Path]:
    """The impulse-response files of every convolution insert, each once, in plan order
    (tracks, buses, master; inserts in order): the engine receives them by index."""
    found: list[Path] = []
    chains = [s.inserts for s in (*mix.tracks, *mix.buses)] + [mix.master.inserts]
    for inserts in chains:
        for ins in inserts:
            path = ins.params.get("ir_path") if ins.type == "convolution" else None
            if path is not None and Path(path) not in found:
                found.append(Path(path))
    return found


def _ir_sites(mix: MixFile) -> dict[Path, tuple[str, int | None, str]]:
    """For each impulse-response file, the first insert naming it: `ir` as written, its line
    and display path."""
    chains: list[tuple[tuple[str | int, ...], str, tuple[Insert, ...]]] = [
        ((*mix.keypath_of(s),), s.label, s.inserts) for s in (*mix.tracks, *mix.buses)
    ]
    chains.append((("master",), "master", mix.master.inserts))
    sites: dict[Path, tuple[str, int | None, str]] = {}
    for keypath, label, inserts in chains:
        for ins in inserts:
            path = ins.params.get("ir_path") if ins.type == "convolution" else None
            if path is None or Path(path) in sites:
                continue
            line = mix.line_of(*keypath, "insert", ins.index - 1, "ir")
            where = f'{label} > insert "{ins.name}" > ir'
            sites[Path(path)] = (str(ins.params["ir"]), line, where)
    return sites


def probe_irs(mix: MixFile) -> list[IrInfo]:
    """Reads the header of every impulse response, in the order the engine receives them
    (`impulse_responses`). Raises SourceError naming the mix file, the insert's line and
    path, the file and the reason: missing, unreadable, more than 2 channels, empty or longer
    than `MAX_IR_SECONDS`, cut short (see `integrity`)."""
    sites = _ir_sites(mix)
    infos: list[IrInfo] = []
    for path in impulse_responses(mix):
        written, line, where = sites[path]
        site = IrInfo(
            0, 0, 0, "float64", path, written=written, mix_path=mix.path, line=line, where=where
        )
        try:
            frames, channels, rate, _subtype, _engine_reads = _probe_header(path)
        except _Unusable as e:
            raise site.error(str(e)) from None
        if channels > 2:
            raise site.error(
                f"has {channels} channels; an impulse response is mono or stereo "
                "(true-stereo and surround responses are not supported): split it into a "
                "stereo or mono file"
            )
        if frames == 0:
            raise site.error("holds no samples")
        seconds = frames / rate
        if seconds > MAX_IR_SECONDS:
            raise site.error(
                f"lasts {seconds:.1f} s; impulse responses are read whole and may last at "
                f"most {MAX_IR_SECONDS:.0f} s: trim its silent tail"
            )
        infos.append(replace(site, frames=frames, sample_rate=rate, channels=channels))
    return infos


def read_ir(info: IrInfo) -> tuple[npt.NDArray[np.float64], int]:
    """The whole impulse response as a C-contiguous `(frames, channels)` float64 array and
    its sample rate, as the engine's `Renderer(irs=...)` takes it (a new array; the engine
    copies it once more into its own memory)."""
    import numpy as np
    import soundfile as sf

    assert info.path is not None
    try:
        data, rate = sf.read(str(info.path), dtype="float64", always_2d=True)
    except RuntimeError as e:  # soundfile's errors derive from it
        raise info.error(f"reading failed ({e}): the file is truncated or corrupt") from None
    except OSError as e:
        raise info.error(f"cannot be opened ({e.strerror})") from None
    if data.shape != (info.frames, info.channels) or rate != info.sample_rate:
        raise info.error(
            f"changed while the render started: its header said {info.frames} frames of "
            f"{info.channels} channel(s) at {info.sample_rate} Hz, reading gave "
            f"{data.shape[0]} frames of {data.shape[1]} at {rate} Hz"
        )
    if not np.all(np.isfinite(data)):
        raise info.error("holds NaN or infinite samples")
    return np.ascontiguousarray(data), int(rate)


class BlockReader(Protocol):
    def read(self, frames: int) -> npt.NDArray[np.floating[Any]]: ...
    def close(self) -> None: ...


class FileReader:
    """Reads a source file sequentially, decoding ahead on an I/O thread.

    One chunk is always being decoded (libsndfile releases the GIL) while the engine works
    on the block before it; `read` hands out the next frames in one reused, C-contiguous
    buffer. Memory is a couple of chunks per track, whatever the file's length.
    """

    #: Frames decoded per request, and requests kept in flight (more buys no speed here
    #: and costs memory).
    CHUNK = 16384
    AHEAD = 1

    def __init__(
        self, mix: MixFile, track: Strip, info: SourceInfo, io: ThreadPoolExecutor | None = None
    ) -> None:
        import numpy as np
        import soundfile as sf

        assert info.path is not None
        self._mix, self._track, self._info = mix, track, info
        self._file = sf.SoundFile(str(info.path))
        self._buf = np.zeros((0, info.channels), dtype=info.dtype)
        self._io = io
        self._ready: deque[npt.NDArray[np.floating[Any]]] = deque()
        self._buffered = 0
        self._unrequested = info.frames
        self._inflight: deque[Future[npt.NDArray[np.floating[Any]]]] = deque()
        self._request()

    def _fail(self, reason: str) -> SourceError:
        return _error(self._mix, self._track, str(self._track.source), reason)

    def _decode(self, frames: int) -> npt.NDArray[np.floating[Any]]:
        try:
            got: npt.NDArray[np.floating[Any]] = self._file.read(
                frames, dtype=self._info.dtype, always_2d=True
            )
        except RuntimeError as e:  # soundfile's errors derive from it
            raise self._fail(
                f"reading failed near frame {self._file.tell()} ({e}): "
                "the file is truncated or corrupt"
            ) from None
        if got.shape[0] != frames:
            raise self._fail(
                f"ended early: its header promises {self._info.frames} frames but reading "
                "stopped before that; the file is truncated or corrupt"
            )
        return got

    def _request(self) -> None:
        ahead = self.AHEAD if self._io is not None else 1
        while len(self._inflight) < ahead and self._unrequested > 0:
            frames = min(self.CHUNK, self._unrequested)
            self._unrequested -= frames
            if self._io is None:
                done: Future[npt.NDArray[np.floating[Any]]] = Future()
                try:
                    done.set_result(self._decode(frames))
                except SourceError as e:
                    done.set_exception(e)
                self._inflight.append(done)
            else:
                self._inflight.append(self._io.submit(self._decode, frames))

    def read(self, frames: int) -> npt.NDArray[np.floating[Any]]:
        while self._buffered < frames and self._inflight:
            chunk = self._inflight.popleft().result()
            self._ready.append(chunk)
            self._buffered += chunk.shape[0]
            self._request()
        if self._buffered < frames:
            raise self._fail(
                f"ended early: {frames} more frames were needed than its header promises "
                f"({self._info.frames}); the file is truncated or corrupt"
            )
        if frames > self._buf.shape[0]:
            import numpy as np

            self._buf = np.zeros(
                (max(frames, 2 * self._buf.shape[0]), self._info.channels), dtype=self._info.dtype
            )
        out = self._buf[:frames]
        filled = 0
        while filled < frames:
            chunk = self._ready[0]
            take = min(frames - filled, chunk.shape[0])
            out[filled : filled + take] = chunk[:take]
            filled += take
            if take == chunk.shape[0]:
                self._ready.popleft()
            else:
                self._ready[0] = chunk[take:]
        self._buffered -= frames
        self._request()
        return out

    def close(self) -> None:
        for pending in self._inflight:
            pending.cancel()
        for pending in self._inflight:
            with contextlib.suppress(Exception):
                pending.result()
        self._inflight.clear()
        self._file.close()


class ArrayReader:
    """Hands out consecutive slices of an in-memory source (views, no copy)."""

    def __init__(self, array: npt.NDArray[np.floating[Any]]) -> None:
        self._array = array
        self._pos = 0

    def read(self, frames: int) -> npt.NDArray[np.floating[Any]]:
        out = self._array[self._pos : self._pos + frames]
        self._pos += frames
        return out

    def close(self) -> None:
        pass


def open_readers(
    mix: MixFile,
    infos: list[SourceInfo],
    io: ThreadPoolExecutor | None = None,
    skip: list[bool] | None = None,
) -> list[BlockReader | None]:
    """Readers for every track (None where `skip` says the engine reads it), decoding ahead
    on `io` when given."""
    readers: list[BlockReader | None] = []
    skip = skip or [False] * len(infos)
    try:
        for track, info, skipped in zip(mix.tracks, infos, skip, strict=True):
            if skipped:
                readers.append(None)
            elif info.array is not None:
                readers.append(ArrayReader(info.array))
            else:
                readers.append(FileReader(mix, track, info, io))
    except BaseException:
        for r in readers:
            if r is not None:
                r.close()
        raise
    return readers
