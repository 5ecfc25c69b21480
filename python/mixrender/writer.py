"""The output file: written block by block to a temporary file, renamed into place at the end.

An interrupted or failed render never leaves a half-written file where the output
should be: the temporary file sits beside the output (same file system, so the rename
is atomic) and is removed on any error.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ._engine import Renderer
from .errors import RenderError
from .safepath import make_parent, temp_path, unlink_quietly

if TYPE_CHECKING:
    # Imported where used: a WAV output written by the engine needs neither.
    import numpy.typing as npt
    import soundfile as sf

#: libsndfile's command to stop writing a PEAK chunk, which carries a time stamp.
_SFC_SET_ADD_PEAK_CHUNK = 0x1050

FORMATS = {".wav": "WAV", ".flac": "FLAC", ".aif": "AIFF", ".aiff": "AIFF"}
SUBTYPES = {16: "PCM_16", 24: "PCM_24", 32: "FLOAT"}
#: The engine's output block type per bit depth: 24-bit samples travel as int32 << 8.
DTYPES = {16: "int16", 24: "int32", 32: "float32"}


def output_format(path: Path, bit_depth: int) -> tuple[str, str]:
    """`(format, subtype)` for soundfile, from the output's extension and the bit depth."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        allowed = ", ".join(sorted(FORMATS))
        raise RenderError(f"{path}: unknown output extension {path.suffix!r}; use one of {allowed}")
    if fmt == "FLAC" and bit_depth == 32:
        raise RenderError(
            f"{path}: FLAC cannot hold 32-bit float; use bit_depth = 24 or a .wav output"
        )
    return fmt, SUBTYPES[bit_depth]


def hash_block(hasher: Any, block: npt.NDArray[Any]) -> None:
    """Feeds the block's samples as the WAV data chunk holds them (little-endian words)."""
    import numpy as np

    if block.dtype == np.int32:  # 24-bit in the top three bytes: keep bytes 1..3 of each word
        block = np.ascontiguousarray(
            block.astype("<i4", copy=False).view(np.uint8).reshape(-1, 4)[:, 1:]
        )
    else:
        block = block.astype(block.dtype.newbyteorder("<"), copy=False)
    hasher.update(np.ascontiguousarray(block).data)


#: The most data a WAV file holds (its sizes are 32-bit); longer outputs go through soundfile.
_WAV_MAX_BYTES = (1 << 32) - (1 << 16)


def _open_soundfile(tmp: Path, sample_rate: int, subtype: str, fmt: str) -> sf.SoundFile:
    import soundfile as sf

    file = sf.SoundFile(str(tmp), "w", sample_rate, 2, subtype, format=fmt)
    if subtype == "FLOAT":
        # So that two renders are byte-identical files.
        sf._snd.sf_command(file._file, _SFC_SET_ADD_PEAK_CHUNK, sf._ffi.NULL, 0)
    return file


def _reason(e: BaseException) -> str:
    """An OSError's reason without Python's `[Errno 28]`; other errors as they read."""
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    return str(e)


class AtomicWriter:
    """A writer whose file appears at `path` only when `commit` is called.

    Given the render's `engine` and `frames`, a WAV output is written by the engine itself
    after each block (see `Renderer.open_output`): `write` is then not called and there is
    no Python work per block. Otherwise soundfile writes what `write` is given, encoding and
    hashing on a thread of its own beside the engine's next block.
    """

    def __init__(
        self,
        path: Path,
        sample_rate: int,
        bit_depth: int,
        engine: Renderer | None = None,
        frames: int = 0,
    ) -> None:
        self.path = path
        fmt, subtype = output_format(path, bit_depth)
        self.tmp = temp_path(path)
        self.sha256 = hashlib.sha256()
        self._digest: str | None = None
        self._engine: Renderer | None = None
        self._file: sf.SoundFile | None = None
        if path.is_dir():
            raise RenderError(f"{path}: is a folder; name the output file")
        make_parent(path, "output")
        try:
            if engine is not None and fmt == "WAV" and frames * 2 * bit_depth // 8 < _WAV_MAX_BYTES:
                engine.open_output(self.tmp, sample_rate, bit_depth)
                self._engine = engine
            else:
                self._file = _open_soundfile(self.tmp, sample_rate, subtype, fmt)
        except (OSError, RuntimeError, RenderError) as e:  # soundfile's errors: RuntimeError
            unlink_quietly(self.tmp)
            raise RenderError(f"{path}: cannot write the output ({_reason(e)})") from None
        self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mixrender-writer")
        self._pending: deque[Future[None]] = deque()

    @property
    def engine_writes(self) -> bool:
        """Whether the engine writes the blocks itself (then `write` is not to be called)."""
        return self._engine is not None

    def hexdigest(self) -> str:
        """SHA-256 of the samples as the file's data holds them (after `commit`)."""
        return self._digest if self._digest is not None else self.sha256.hexdigest()

    def _write(self, block: npt.NDArray[Any]) -> None:
        assert self._file is not None
        hash_block(self.sha256, block)
        self._file.write(block)

    def write(self, block: npt.NDArray[Any]) -> None:
        """Queues a copy of `block` for the writer thread (at most two blocks in flight)."""
        try:
            while len(self._pending) >= 2:
                self._pending.popleft().result()
        except (OSError, RuntimeError, RenderError) as e:
            self.abort()
            raise RenderError(f"{self.path}: writing the output failed ({_reason(e)})") from None
        self._pending.append(self._io.submit(self._write, block.copy()))

    def _drain(self) -> None:
        while self._pending:
            self._pending.popleft().result()

    def finish(self) -> None:
        """Completes the temporary file (every block written, the file closed); the output
        appears only with `publish`. Raises RenderError (and removes the temporary file)."""
        try:
            self._drain()
            if self._engine is not None:
                self._digest = self._engine.close_output()
                self._engine = None
            self._io.shutdown()
            if self._file is not None:
                self._file.close()
        except (OSError, RuntimeError, RenderError) as e:
            self.abort()
            raise RenderError(f"{self.path}: writing the output failed ({_reason(e)})") from None

    def publish(self) -> None:
        """Renames the finished temporary file into place."""
        try:
            os.replace(self.tmp, self.path)
        except OSError as e:
            self.abort()
            raise RenderError(f"{self.path}: cannot write the output ({_reason(e)})") from None

    def commit(self) -> None:
        self.finish()
        self.publish()

    def abort(self) -> None:
        """Stops writing and removes the temporary file; never raises over the error that
        caused it."""
        for f in self._pending:
            f.cancel()
        self._io.shutdown(wait=True)
        self._pending.clear()
        if self._engine is not None:
            with contextlib.suppress(RenderError, OSError, RuntimeError):
                self._engine.close_output()
            self._engine = None
        if self._file is not None and not self._file.closed:
            with contextlib.suppress(OSError, RuntimeError):
                self._file.close()
        unlink_quietly(self.tmp)

    def __enter__(self) -> AtomicWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()
