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
from collections.abc import Iterator

__all__ = ["c_stderr_silenced", "not_regular", "read_regular"]


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
