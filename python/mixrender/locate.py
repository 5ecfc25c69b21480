"""Where a key is written: map a key path in a mix file to the 1-based line of its text.

``tomllib`` returns plain dicts without positions, yet every error message must name the
line to look at. :class:`Locator` is a small scanner over the TOML text (which tomllib has
already accepted, so it can assume valid TOML) that records the line of every key path it
sees:

- table headers ``[a.b]`` and arrays of tables ``[[track]]``, ``[[track.insert]]``, whose
  indices are counted per array and restart under each parent element;
- ``key = value`` lines with bare, quoted and dotted keys;
- arrays and inline tables, also across several lines: each element gets its index, each
  inline-table key its name; strings (multi-line ones too) and comments are skipped.

A key path is a tuple of table keys (str) and 0-based list indices (int), the same path one
would use to walk the dict tomllib returns: ``("track", 0, "sends", 1, "level_db")``. A quoted
key containing dots is one component (``"sends.Plate.level_db"``); the same key written as
dotted TOML keys is three.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence

if sys.version_info >= (3, 11):  # noqa: UP036 (tomli for older Pythons, as fastapi-cli)
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

KeyPath = tuple[str | int, ...]
"""Table keys and 0-based list indices, outermost first."""

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SCALAR = re.compile(r"[^,\]}#\n\r]+")
_BLANK = re.compile(r"(?:[ \t\r\n]+|#[^\n]*)+")
#: An array of plain scalars on one line: no strings, tables, arrays or comments inside.
_FLAT_ARRAY = re.compile(r"\[[^\[\]{}\"'#\n]*\]")


class Locator:
    """Lines of the key paths of one TOML text; build once, query many times.

    Memory and time are linear in the text and small per array element: keys are kept in a
    dict by path, but the elements of an array only as a list of their lines (and not at
    all when every element sits on the array's own line), so that a lane of 10^6 points
    costs a list of 10^6 line numbers rather than 10^6 entries of 6-tuples.
    """

    def __init__(self, text: str) -> None:
        self._lines: dict[KeyPath, int] = {}
        #: Array path -> the line of each element, for arrays written over several lines.
        self._elements: dict[KeyPath, list[int]] = {}
        _Scanner(text, self._lines, self._elements).run()

    def _get(self, path: KeyPath) -> int | None:
        found = self._lines.get(path)
        if found is None and path and isinstance(path[-1], int):
            lines = self._elements.get(path[:-1])
            if lines is not None and 0 <= path[-1] < len(lines):
                return lines[path[-1]]
        return found

    def exact(self, keypath: Sequence[str | int]) -> int | None:
        """The line where exactly this path is written, or None. An element of an array
        that is written on its array's line is at that line (its index is not checked
        against the array's length: the document has that)."""
        path = tuple(keypath)
        found = self._get(path)
        if found is None and path and isinstance(path[-1], int):
            return self.exact(path[:-1]) if path[:-1] else None
        return found

    def element_lines(self, keypath: Sequence[str | int]) -> list[int] | None:
        """The lines of the elements of the array at `keypath`, when it is written over
        several lines; None when every element is on the array's own line (or no array)."""
        return self._elements.get(tuple(keypath))

    def nearest(self, keypath: Sequence[str | int]) -> int | None:
        """The line of the path, else of its nearest written ancestor; None if none is."""
        path = tuple(keypath)
        for end in range(len(path), 0, -1):
            found = self._get(path[:end])
            if found is not None:
                return found
        return None

    def line(self, keypath: Sequence[str | int]) -> int:
        """Like :meth:`nearest`, but the top of the file (line 1) is the last resort."""
        found = self.nearest(keypath)
        return 1 if found is None else found


def locate(text: str, keypath: Sequence[str | int]) -> int:
    """The line of `keypath` in `text` (or of its nearest ancestor; 1 at worst)."""
    return Locator(text).line(keypath)


class _Scanner:
    """One pass over the text; records the first line of every key path into `out`."""

    def __init__(
        self, text: str, out: dict[KeyPath, int], elements: dict[KeyPath, list[int]]
    ) -> None:
        self.s = text
        self.n = len(text)
        self.i = 0
        self.out = out
        self.elements = elements
        self.table: KeyPath = ()
        self.arrays: dict[KeyPath, int] = {}  # array-of-tables path -> elements so far
        self._at = (0, 1)  # a position and its line, to count newlines from

    # --- positions -----------------------------------------------------------------------

    def line(self) -> int:
        at, line = self._at
        if self.i >= at:
            line += self.s.count("\n", at, self.i)
        else:
            line = self.s.count("\n", 0, self.i) + 1
        self._at = (self.i, line)
        return line

    def peek(self) -> str:
        return self.s[self.i] if self.i < self.n else ""

    def record(self, path: KeyPath, line: int) -> None:
        for end in range(1, len(path) + 1):
            self.out.setdefault(path[:end], line)

    # --- whitespace, comments, strings ---------------------------------------------------

    def skip_ws(self) -> None:
        while self.i < self.n and self.s[self.i] in " \t":
            self.i += 1

    def skip_blank(self) -> None:
        """Whitespace, newlines and comments."""
        match = _BLANK.match(self.s, self.i)
        if match is not None:
            self.i = match.end()

    def skip_string(self) -> None:
        s = self.s
        if s.startswith('"""', self.i) or s.startswith("'''", self.i):
            quote = s[self.i]
            self.i += 3
            while self.i < self.n:
                if quote == '"' and s[self.i] == "\\":
                    self.i += 2
                elif s.startswith(quote * 3, self.i):
                    # Up to two more quotes right before the closing three belong to the text.
                    run = 3
                    while run < 5 and self.i + run < self.n and s[self.i + run] == quote:
                        run += 1
                    self.i += run
                    return
                else:
                    self.i += 1
        elif s[self.i] == '"':
            self.i += 1
            while self.i < self.n and s[self.i] != '"':
                self.i += 2 if s[self.i] == "\\" else 1
            self.i += 1
        else:
            end = s.find("'", self.i + 1)
            self.i = self.n if end < 0 else end + 1

    # --- keys and values ------------------------------------------------------------------

    def key(self) -> list[str]:
        """A bare, quoted or dotted key, as its components."""
        parts: list[str] = []
        while True:
            self.skip_ws()
            c = self.peek()
            start = self.i
            if c == '"':
                self.skip_string()
                parts.append(str(tomllib.loads("k = " + self.s[start : self.i])["k"]))
            elif c == "'":
                self.skip_string()
                parts.append(self.s[start + 1 : self.i - 1])
            else:
                match = _BARE_KEY.match(self.s, self.i)
                if match is None:
                    raise _Stop
                parts.append(match.group())
                self.i = match.end()
            self.skip_ws()
            if self.peek() != ".":
                return parts
            self.i += 1

    def keyval(self, base: KeyPath) -> None:
        line = self.line()
        path = base + tuple(self.key())
        self.record(path, line)
        self.skip_ws()
        if self.peek() != "=":
            raise _Stop
        self.i += 1
        self.skip_ws()
        self.value(path)

    def value(self, path: KeyPath) -> None:
        c = self.peek()
        if c == "[":
            first = self.line()
            self.i += 1
            lines: list[int] = []
            s = self.s
            while True:
                self.skip_blank()
                c = self.peek()
                if c in ("]", ""):
                    self.i += 1
                    break
                lines.append(self.line())
                flat = _FLAT_ARRAY.match(s, self.i) if c == "[" else None
                if flat is not None:  # [0.5, -3]: its elements are on its line
                    self.i = flat.end()
                else:
                    self.value((*path, len(lines) - 1))
                self.skip_blank()
                if self.peek() == ",":
                    self.i += 1
            if lines and (lines[0] != first or lines[-1] != first):
                self.elements[path] = lines
        elif c == "{":
            self.i += 1
            while True:
                self.skip_blank()
                if self.peek() in ("}", ""):
                    self.i += 1
                    return
                self.keyval(path)
                self.skip_blank()
                if self.peek() == ",":
                    self.i += 1
        elif c in ('"', "'"):
            self.skip_string()
        else:
            match = _SCALAR.match(self.s, self.i)
            if match is None:
                raise _Stop
            self.i = match.end()

    # --- tables ------------------------------------------------------------------------------

    def resolve(self, keys: Sequence[str]) -> KeyPath:
        """A header's keys as a key path: arrays of tables stand for their last element."""
        path: KeyPath = ()
        for key in keys:
            path = (*path, key)
            count = self.arrays.get(path)
            if count is not None:
                path = (*path, count - 1)
        return path

    def header(self) -> None:
        line = self.line()
        is_array = self.s.startswith("[[", self.i)
        self.i += 2 if is_array else 1
        keys = self.key()
        self.i += 2 if is_array else 1
        if is_array:
            array = (*self.resolve(keys[:-1]), keys[-1])
            count = self.arrays.get(array, 0)
            self.arrays[array] = count + 1
            self.table = (*array, count)
        else:
            self.table = self.resolve(keys)
        self.record(self.table, line)

    def run(self) -> None:
        try:
            while True:
                self.skip_blank()
                if self.i >= self.n:
                    return
                before = self.i
                if self.peek() == "[":
                    self.header()
                else:
                    self.keyval(self.table)
                if self.i <= before:  # never loop on text this scanner does not understand
                    self.i = before + 1
        except (_Stop, IndexError, tomllib.TOMLDecodeError):
            return  # keep what was found; callers fall back to ancestors


class _Stop(Exception):
    """The scanner met text it does not understand (the TOML was not valid)."""
