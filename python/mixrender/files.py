"""Input files are regular files: a FIFO, device, socket or folder is refused before any open.

A mix is untrusted input: a source named `/dev/zero` would be read until the memory runs out,
a FIFO would block the reader forever. Every file mixrender reads (mix, source, impulse
response, lock, manifest, audio to analyze) is checked here with `os.stat` (following
symlinks, so a link to `/dev/zero` is a device) before it is opened, and read, where this
module reads it, through a descriptor opened with `O_NONBLOCK` and checked again with
`fstat`, so that a file swapped for a FIFO between the two still cannot block.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from .errors import MixError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

T = TypeVar("T")

__all__ = ["c_stderr_silenced", "feed_audio", "not_regular", "open_audio", "read_regular"]


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    return "not a regular file"


def not_regular(path: str | os.PathLike[str]) -> str | None:
    """Why `path` may not be read: "is a FIFO (named pipe), not a regular file", and the like;
    None for a regular file, and for a path that does not exist (the caller's own message
    says so; an OSError on open says the rest)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    if stat.S_ISREG(mode):
        return None
    kind = _kind(mode)
    return f"is {kind}, not a regular file" if kind.startswith("a ") else f"is {kind}"


def read_regular(path: str | os.PathLike[str]) -> bytes:
    """The bytes of a regular file. OSError as `open` raises it (ENOENT, EACCES, ...), or
    EINVAL with the reason of `not_regular` as its `strerror` for anything but a regular
    file."""
    reason = not_regular(path)
    if reason is not None:
        raise OSError(errno.EINVAL, reason, os.fspath(path))
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):  # replaced between the stat and the open
            raise OSError(errno.EINVAL, f"is {_kind(st.st_mode)}, not a regular file", path)
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


@contextlib.contextmanager
def c_stderr_silenced() -> Iterator[None]:
    """Descriptor 2 to /dev/null for the duration: libsndfile, probing a file of no format it
    knows, lets libmpg123 print a warning there, which would make a one-line error two. For
    an open only, which prints nothing that matters (its error comes back as an exception)."""
    try:
        saved = os.dup(2)
    except OSError:  # no descriptor 2: nothing to silence
        yield
        return
    try:
        sys.stderr.flush()
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
    finally:
        os.close(saved)


def open_audio(path: str | os.PathLike[str], read: Callable[[str], T]) -> T:
    """`read(path)` (a soundfile open, info or read) once `path` is known to be a regular file,
    with libsndfile's stderr silenced; `MixError` "PATH: cannot be read as audio (why)" for
    what soundfile refuses (its errors derive from RuntimeError)."""
    name = os.fspath(path)
    reason = not_regular(name)
    if reason is not None:
        raise MixError(f"{name}: {reason}")
    try:
        with c_stderr_silenced():
            return read(name)
    except (RuntimeError, OSError) as e:
        raise MixError(f"{name}: cannot be read as audio ({e})") from None


def feed_audio(
    path: str | os.PathLike[str],
    block_size: int,
    start: Callable[[int, int], T],
    feed: Callable[[T, npt.NDArray[np.floating[Any]]], None],
) -> T:
    """The audio file at `path` handed to `feed`, `block_size` frames at a time, in one reused
    buffer (float32, which holds 16- and 24-bit and float samples exactly; float64 for 64-bit
    files), to the consumer `start(sample_rate, channels)` makes; returns that consumer.

    `MixError` for a file that cannot be opened or read, and for a `ValueError` of `start`
    (a channel count the consumer refuses), each naming the file."""
    import numpy as np
    import soundfile as sf

    name = os.fspath(path)
    f = open_audio(name, sf.SoundFile)
    with f:
        try:
            consumer = start(f.samplerate, f.channels)
        except ValueError as e:
            raise MixError(f"{name}: {e}") from None
        dtype = np.float64 if f.subtype == "DOUBLE" else np.float32
        buf = np.empty((min(block_size, max(f.frames, 1)), f.channels), dtype=dtype)
        while True:
            at = f.tell()
            try:
                block = f.read(out=buf)
            except (RuntimeError, OSError) as e:  # soundfile's errors derive from RuntimeError
                raise MixError(
                    f"{name}: reading failed near frame {at} ({e}): the file is truncated or "
                    "corrupt"
                ) from None
            if len(block) == 0:
                break
            feed(consumer, block)
    return consumer
