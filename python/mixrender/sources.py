"""Sources: probing their headers at load, and reading them block by block at render.

Audio files are read with soundfile (libsndfile) into preallocated blocks, never whole.
Sources given in memory (numpy arrays, the path dataset generators use) are read the
same way, so that a render cannot tell them apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import soundfile as sf

from .errors import SourceError
from .mixfile import MixFile, Strip

#: What `Mix.load(sources=...)` accepts for a track: `(array, sample_rate)`.
InMemorySource = tuple[npt.ArrayLike, int]

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


def _error(mix: MixFile, track: Strip, source: Path | str, reason: str) -> SourceError:
    return SourceError(mix.path, track.line, f"{track.label} > source", source, reason)


def _probe_file(mix: MixFile, track: Strip) -> SourceInfo:
    path = track.source_path
    assert path is not None and track.source is not None
    if not path.exists():
        reason = f"file not found (looked for {path}); paths are relative to the mix file's folder"
        raise _error(mix, track, track.source, reason)
    if path.is_dir():
        raise _error(mix, track, track.source, "is a folder, not an audio file")
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError) as e:
        raise _error(mix, track, track.source, f"cannot be read as audio ({e})") from None
    except OSError as e:
        raise _error(mix, track, track.source, f"cannot be opened ({e.strerror})") from None
    if info.channels > 2:
        raise _error(mix, track, track.source, f"has {info.channels} channels; {_ADVICE_CHANNELS}")
    # float32 holds every integer sample of up to 24 bits exactly; wider formats need float64.
    dtype = "float64" if info.subtype in ("DOUBLE", "PCM_32") else "float32"
    return SourceInfo(info.frames, info.samplerate, info.channels, dtype, path)


def _probe_array(mix: MixFile, track: Strip, given: InMemorySource) -> SourceInfo:
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
    if array.dtype not in (np.float32, np.float64):
        array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        raise _error(mix, track, str(track.source), "in-memory source holds NaN or infinity")
    if not (isinstance(rate, int | np.integer) and 1000 <= int(rate) <= 384000):
        raise _error(mix, track, str(track.source), f"sample rate {rate!r} is not an integer in Hz")
    array = np.ascontiguousarray(array)
    return SourceInfo(array.shape[0], int(rate), array.shape[1], str(array.dtype), None, array)


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


class BlockReader(Protocol):
    def read(self, frames: int) -> npt.NDArray[np.floating[Any]]: ...
    def close(self) -> None: ...


class FileReader:
    """Reads a source file sequentially into one reused, C-contiguous buffer."""

    def __init__(self, mix: MixFile, track: Strip, info: SourceInfo) -> None:
        assert info.path is not None
        self._mix, self._track, self._info = mix, track, info
        self._file = sf.SoundFile(str(info.path))
        self._buf = np.zeros((0, info.channels), dtype=info.dtype)

    def read(self, frames: int) -> npt.NDArray[np.floating[Any]]:
        if frames > self._buf.shape[0]:
            self._buf = np.zeros(
                (max(frames, 2 * self._buf.shape[0]), self._info.channels), dtype=self._info.dtype
            )
        out = self._buf[:frames]
        try:
            got = self._file.read(frames, dtype=self._info.dtype, always_2d=True, out=out)
        except (sf.LibsndfileError, RuntimeError) as e:
            reason = (
                f"reading failed near frame {self._file.tell()} ({e}): "
                "the file is truncated or corrupt"
            )
            raise _error(self._mix, self._track, str(self._track.source), reason) from None
        if got.shape[0] != frames:
            reason = (
                f"ended early: its header promises {self._info.frames} frames but reading "
                "stopped before that; the file is truncated or corrupt"
            )
            raise _error(self._mix, self._track, str(self._track.source), reason)
        return out

    def close(self) -> None:
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


def open_readers(mix: MixFile, infos: list[SourceInfo]) -> list[BlockReader]:
    readers: list[BlockReader] = []
    try:
        for track, info in zip(mix.tracks, infos, strict=True):
            if info.array is not None:
                readers.append(ArrayReader(info.array))
            else:
                readers.append(FileReader(mix, track, info))
    except BaseException:
        for r in readers:
            r.close()
        raise
    return readers
