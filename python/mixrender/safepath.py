"""Where a render may write: temporary names, outputs that are never inputs, allowed roots.

A mix file is data from anyone; nothing it says may destroy a file or reach outside the
folders a farm allows.

- **Temporary files** are named `.NAME.PID.HOSTRAND.tmp` beside the file they become
  (`temp_path`): unique per process and per call, so that two renders or two batches writing
  into one folder never touch each other's; the next render into a folder removes those of
  this host whose process is gone (`remove_stale`). The randomness is in the name only,
  never in the audio.
- **No output is an input** (`check_outputs`): every output path is compared, symlinks
  resolved, with every input and with the other outputs before anything is written.
- **Allowed roots** (`Confinement`): with `--allow-root`, every source, impulse response and
  output must resolve inside one of them. A path is judged lexically first (normalised, no
  file system access), then by its real path, and the message is the same whether an outside
  path exists or not.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import socket
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

from .errors import RenderError

_TEMP = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.(?P<host>[0-9a-f]{8})[0-9a-f]{8}\.tmp$")


@lru_cache(maxsize=1)
def _host_tag() -> str:
    """8 hex digits naming this machine: a process id means something only on its own host,
    and a farm's hosts may write into one shared folder."""
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def temp_path(path: Path) -> Path:
    """A fresh temporary name beside `path` (same folder, so the final rename is atomic):
    `.NAME.PID.HOSTRAND.tmp`, the host's tag and 8 random hex digits."""
    return path.with_name(f".{path.name}.{os.getpid()}.{_host_tag()}{secrets.token_hex(4)}.tmp")


def temp_pid(name: str, of: str | None = None) -> int | None:
    """The process id in a temporary file's name made on this host (of the file `of`, when
    given), or None."""
    m = _TEMP.match(name)
    if m is None or (of is not None and m["name"] != of) or m["host"] != _host_tag():
        return None
    return int(m["pid"])


def pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # another user's process, or unknown: leave its files alone
    return True


def remove_temporaries(
    folder: Path, *, of: str | None = None, pid: int | None = None, dead_only: bool = True
) -> None:
    """Removes temporary files in `folder`: of the file named `of` (or of any), of the process
    `pid` (or of any), only those whose process is gone unless `dead_only=False` (for a
    process known lost). Never raises: a clean-up must not hide the error it follows."""
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            found = temp_pid(entry.name, of)
            if found is None or (pid is not None and found != pid):
                continue
            if dead_only and pid_alive(found):
                continue
            with contextlib.suppress(OSError):
                os.unlink(entry.path)


def remove_stale(folders: Iterable[Path]) -> None:
    """Removes, in each folder, the temporary files of processes that are gone."""
    for folder in dict.fromkeys(folders):
        remove_temporaries(folder)


def make_parent(path: Path, what: str) -> None:
    """Creates the folder of `path`; RenderError, naming `what`, when it cannot."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise RenderError(
            f"{path}: cannot write the {what} (a file stands where a folder of its path should be)"
        ) from None
    except OSError as e:
        raise RenderError(f"{path}: cannot write the {what} ({e.strerror or e})") from None


def unlink_quietly(path: Path | None) -> None:
    if path is not None:
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)


def _keys(path: Path) -> list[object]:
    """What makes two paths one file: the real path, and the device and inode if it exists."""
    try:
        keys: list[object] = [os.path.realpath(path)]
    except (OSError, ValueError):  # a NUL byte, a name too long: no file, judged at its read
        keys = [os.path.normpath(os.path.abspath(path))]
    with contextlib.suppress(OSError, ValueError):
        st = os.stat(path)
        keys.append((st.st_dev, st.st_ino))
    return keys


def check_outputs(inputs: Sequence[tuple[str, Path]], outputs: Sequence[tuple[str, Path]]) -> None:
    """Raises RenderError, naming both, when an output is an input or two outputs are one
    file. Each entry is `(what, path)`, e.g. `("source of track 'Vox'", path)`."""
    known: dict[object, tuple[str, Path]] = {}
    for kind, inp in inputs:
        for key in _keys(inp):
            known.setdefault(key, (kind, inp))
    written: dict[object, tuple[str, Path]] = {}
    for what, out in outputs:
        keys = _keys(out)
        for key in keys:
            if key in known:
                kind, inp = known[key]
                raise RenderError(
                    f"{out}: the {what} would overwrite the {kind} ({inp}); "
                    "an output is never one of the render's inputs"
                )
            if key in written:
                other_what, other = written[key]
                raise RenderError(
                    f"{out}: the {what} and the {other_what} ({other}) are the same file; "
                    "give each output its own path"
                )
        for key in keys:
            written[key] = (what, out)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


class Confinement:
    """The allowed roots (absolute, as given and resolved); `None` roots allow anything."""

    def __init__(self, roots: Iterable[str | os.PathLike[str]] | None) -> None:
        given = [os.path.normpath(os.path.abspath(r)) for r in roots or ()]
        self.active = bool(given)
        self.lexical = given + [os.path.realpath(r) for r in given]
        self.real = [os.path.realpath(r) for r in given]

    @property
    def roots(self) -> tuple[str, ...]:
        return tuple(self.lexical[: len(self.lexical) // 2])

    def allows(self, path: Path | str) -> bool:
        """Whether `path` is inside a root: lexically (no file system access) and then
        with every symlink resolved."""
        if not self.active:
            return True
        lexical = os.path.normpath(os.path.abspath(path))
        if not any(_inside(lexical, r) for r in self.lexical):
            return False
        try:
            real = os.path.realpath(lexical)
        except (OSError, ValueError):  # a NUL byte: no file it could reach; refused at its read
            return True
        return any(_inside(real, r) for r in self.real)

    def message(self, what: str) -> str:
        return f"{what}: outside the allowed folders (--allow-root); it is not read or written"
