"""The exceptions mixrender raises: one hierarchy, caught by the CLI and turned into one line.

Every error a user can cause is a :class:`MixError`. Errors about a place in a mix file
carry the file, the line and the path inside the mix (``track "Lead Vox" > sends[2] >
level_db``) so that the message alone says where to look and what to do.
"""

from __future__ import annotations

from pathlib import Path


class MixError(Exception):
    """Base class of every error caused by a mix, its sources or a render."""


class MixFileError(MixError):
    """A problem at one place in a mix file: a wrong key, value, name or reference."""

    def __init__(self, file: Path | str, line: int | None, path: str, message: str) -> None:
        self.file = Path(file)
        self.line = line
        self.path = path
        self.message = message
        super().__init__(self._format())

    def _format(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else f"{self.file}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


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


class RenderError(MixError):
    """A render that could not be completed (output not writable, engine failure)."""
