"""The exceptions mixrender raises: one hierarchy, caught by the CLI and turned into one line.

The hierarchy::

    MixrenderError                 every error mixrender raises
    └── MixError                   the mix file; kept as the catch-all of every class below
        ├── MixFileError           one place in a mix file
        │   ├── RoutingError       a cycle through outputs, sends or sidechains
        │   ├── UnsupportedError   a valid part of the format not processed yet
        │   └── SourceError        a source: missing, unreadable, cut short, not finite
        └── RenderError            the rest: output not writable, engine or API failure

Catch :class:`MixrenderError` for "anything mixrender refused". :class:`MixError` stays the
base of every other class (as it was before :class:`MixrenderError` existed), so a handler
``except MixError`` - the CLI's and the batch runner's included - still catches them all.

The engine's errors are mapped once, in the binding (``rust/py/src/errors.rs``): a plan it
refuses is a :class:`MixError`, a source that fails during the render (or an impulse response
the engine refuses) a :class:`SourceError` (:meth:`SourceError.from_engine`), anything else a
:class:`RenderError`.

Errors about a place in a mix file carry the file, the line and the path inside the mix
(``track "Lead Vox" > sends[2] > level_db``) so that the message alone says where to look
and what to do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


class MixrenderError(Exception):
    """Base class of every error mixrender raises."""


class MixError(MixrenderError):
    """The mix file: what it says cannot be rendered. Also the base of every other class
    here, so that ``except MixError`` catches every mixrender error."""


class MixFileError(MixError):
    """A problem at one place in a mix file: a wrong key, value, name or reference."""

    file: Path | None
    """The mix file; None for a source the engine found failing during a render."""

    def __init__(self, file: Path | str, line: int | None, path: str, message: str) -> None:
        self.file = Path(file)
        self.line = line
        self.path = path
        self.message = message
        super().__init__(self._format())

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled whole (for a worker process): the constructor's arguments are not `args`.
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))

    def _format(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else f"{self.file}"
        text = f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"
        return one_line(text)


def one_line(text: str) -> str:
    """`text` with its control characters (a newline in a name, a NUL byte) escaped as
    Python writes them (`\\n`, `\\x00`): an error is always one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class RoutingError(MixFileError):
    """A cycle through outputs, sends or sidechains; the message prints the cycle."""


class UnsupportedError(MixFileError):
    """A valid part of the format whose processing has not landed yet."""


class SourceError(MixFileError):
    """A source (or impulse response) that is missing, unreadable, corrupt or unusable."""

    def __init__(
        self, file: Path | str, line: int | None, path: str, source: Path | str, reason: str
    ) -> None:
        self.source = Path(source)
        self.reason = reason
        super().__init__(file, line, path, f"source {str(source)!r}: {reason}")

    @classmethod
    def from_engine(cls, message: str, where: str, source: str | None) -> SourceError:
        """A source that failed while the engine rendered it (a track's file changed, cut
        short or holding NaN; an impulse response the engine refused): `message` is the
        engine's whole line, `where` what it was reading (`track "A"`, `impulse response
        0`), `source` its file when known."""
        e = cls.__new__(cls)
        Exception.__init__(e, message)
        e.file = None
        e.line = None
        e.path = where
        e.message = message
        e.source = Path(source) if source is not None else Path()
        e.reason = message
        return e


class RenderError(MixError):
    """A render that could not be completed (output not writable, engine failure)."""


def _rebuild(cls: type[MixFileError], args: tuple[Any, ...], state: dict[str, Any]) -> MixFileError:
    e = cls.__new__(cls)
    Exception.__init__(e, *args)
    e.__dict__.update(state)
    return e
