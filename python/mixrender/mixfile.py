"""Read a mix file: TOML text in, typed frozen dataclasses out, or one precise MixFileError.

A typo in a mix must never become a silent difference in a render, so every key of the
format (:mod:`mixrender.schema`) is checked here: unknown keys ("did you mean"), types,
ranges, names, references, routing cycles and automation lanes. Each error names the file,
the line (found by :mod:`mixrender.locate`), the path inside the mix as a mix engineer reads
it (``track "Lead Vox" > sends[2] > level_db``), the value and what is allowed. What this
module returns is resolved: defaults filled, ``"bar:beat"`` turned into seconds, paths made
absolute. It never opens audio files; :mod:`mixrender.sources` probes those.

Two ways to name a place in a mix:

- a *key path* finds the line: table keys and 0-based list indices, as one walks the dict
  tomllib returns, e.g. ``("track", 0, "sends", 1, "level_db")`` (see :mod:`mixrender.locate`);
- a *display path* is what the message shows, with 1-based indices:
  ``track "Lead Vox" > sends[2] > level_db``.

Later stages (plan building, source probing) raise errors at a place in the file with
:func:`mixrender.model.mix_error`::

    at = (*mix.keypath_of(strip), "source")
    raise mix_error(mix, at, f"{strip.label} > source", "the file has 3 channels; ...")

:meth:`MixFile.keypath_of` gives a strip's key path, :attr:`Strip.label` its display path.
A :class:`~mixrender.errors.SourceError` takes the line from :meth:`MixFile.line_of`.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import re
import sys
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, NoReturn

from mixrender import schema
from mixrender.errors import MixFileError, RoutingError
from mixrender.files import read_regular
from mixrender.locate import KeyPath
from mixrender.model import (
    Insert,
    Lane,
    Master,
    MixFile,
    Point,
    RenderSettings,
    Send,
    Session,
    Strip,
    Vca,
    _locator,
    from_values,
)

if sys.version_info >= (3, 11):  # noqa: UP036 (tomli for older Pythons, as fastapi-cli)
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: The reader's names and what it returns; the data model's names are :mod:`mixrender.model`'s.
__all__ = ["MixFile", "load_mixfile", "note_seconds", "parse_mixfile"]


def note_seconds(note: str, session: Session) -> float:
    """The length of a note value ("1/8", "1/8d", "1/4t") in seconds at the session's tempo.

    A note 1/d lasts meter_unit / d beats; dotted 1.5 times that, triplet 2/3.
    """
    match = re.match(schema.NOTE_PATTERN, note)
    if match is None or session.tempo_bpm is None:
        raise ValueError(f"not a note value at a known tempo: {note!r}")
    return _note_beats(match, session.meter) * 60.0 / session.tempo_bpm


def load_mixfile(path: str | os.PathLike[str]) -> MixFile:
    """Read and validate a mix file; MixFileError (or RoutingError) says what is wrong."""
    file = Path(path).absolute()
    try:
        size = os.stat(file).st_size
        if size > schema.MAX_MIX_BYTES:
            raise MixFileError(
                file,
                None,
                "",
                f"the mix file has {size} bytes; a mix file may have at most "
                f"{schema.MAX_MIX_BYTES} ({schema.MAX_MIX_BYTES >> 20} MiB)",
            )
        data = read_regular(file)
    except OSError as exc:
        raise MixFileError(
            file, None, "", f"cannot read the mix file: {exc.strerror or exc}"
        ) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise MixFileError(file, line, "", "the mix file is not UTF-8 text") from None
    return parse_mixfile(text, file)


def parse_mixfile(text: str, path: Path) -> MixFile:
    """Validate mix file text; `path` names it in messages and anchors relative paths."""
    file = Path(path).absolute()
    text = text.removeprefix("\ufeff")
    _check_nesting(file, text)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _syntax_error(file, text, exc) from None
    except RecursionError:  # the scan above bounds nesting; this is a last resort
        raise _too_deep(file, None) from None
    _check_table_depth(file, text, doc)
    return _Reader(text, file).read(doc)


# --- helpers --------------------------------------------------------------------------------


# Strings and comments (whose brackets are text), and the brackets of arrays and tables.
_NESTING_TOKENS = re.compile(
    r'"""(?:[^"\\]|\\.|"(?!""))*"""'
    r"|'''.*?'''"
    r'|"(?:[^"\\\n]|\\.)*"'
    r"|'[^'\n]*'"
    r"|#[^\n]*"
    r"|[\[\]{}]",
    re.DOTALL,
)


def _too_deep(file: Path, line: int | None) -> MixFileError:
    return MixFileError(
        file,
        line,
        "",
        f"tables and arrays are nested more than {schema.MAX_NESTING} deep; "
        f"a mix file nests at most {schema.MAX_NESTING} levels",
    )


def _check_nesting(file: Path, text: str) -> None:
    """Refuse arrays and inline tables nested deeper than MAX_NESTING before tomllib, whose
    recursive parser would otherwise end in a RecursionError; the error names the line."""
    depth = 0
    limit = schema.MAX_NESTING
    for token in _NESTING_TOKENS.findall(text):
        if token == "[" or token == "{":
            depth += 1
            if depth > limit:
                break
        elif token == "]" or token == "}":
            depth -= 1
    else:
        return
    depth = 0  # the rare error path: find where, with positions
    for match in _NESTING_TOKENS.finditer(text):
        token = match.group()
        if token == "[" or token == "{":
            depth += 1
            if depth > limit:
                raise _too_deep(file, text.count("\n", 0, match.start()) + 1)
        elif token == "]" or token == "}":
            depth -= 1
    raise _too_deep(file, None)  # pragma: no cover (both loops count alike)


def _check_table_depth(file: Path, text: str, doc: dict[str, Any]) -> None:
    """Tables nested by headers and dotted keys (`[a.b.c]`, `a.b.c = 1`) are not brackets:
    walk the document's tables (and arrays of tables) without recursion."""
    stack: list[tuple[dict[str, Any], tuple[str | int, ...]]] = [(doc, ())]
    while stack:
        table, path = stack.pop()
        if len(path) > schema.MAX_NESTING:
            raise _too_deep(file, _locator(text).nearest(path))
        for key, value in table.items():
            if isinstance(value, dict):
                stack.append((value, (*path, key)))
            elif isinstance(value, list) and value and isinstance(value[0], dict):
                for index, element in enumerate(value):
                    if isinstance(element, dict):
                        stack.append((element, (*path, key, index)))


def _syntax_error(file: Path, text: str, exc: tomllib.TOMLDecodeError) -> MixFileError:
    message = str(exc)
    line: int | None = None
    match = re.search(r"\s*\(at line (\d+), column (\d+)\)", message)
    if match:
        line = int(match[1])
        message = f"{message[: match.start()]} at column {match[2]}"
    elif "end of document" in message:
        line = text.count("\n") + 1
        message = re.sub(r"\s*\(at end of document\)", " at the end of the file", message)
    message = message[:1].lower() + message[1:]
    return MixFileError(file, line, "", f"TOML syntax error: {message}")


def frame_count(seconds: float, sample_rate: int | None) -> int:
    """Frames of `seconds` at `sample_rate`, rounded half up as the plan rounds times."""
    x = seconds * (sample_rate or 0)
    whole = math.floor(x)
    return int(whole) + (1 if x - whole >= 0.5 else 0)


def _duration(seconds: float) -> str:
    """4:00:00, 24:00:00.500: hours, minutes, seconds."""
    whole = int(seconds)
    text = f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"
    return text + (f"{seconds - whole:.3f}"[1:] if seconds != whole else "")


def _note_beats(match: re.Match[str], meter: tuple[int, int]) -> float:
    factor = {"d": 1.5, "t": 2.0 / 3.0}.get(match[2], 1.0)
    return meter[1] / int(match[1]) * factor


def _num(value: float) -> str:
    """A number as a person writes it: 24, -144, 0.707, 23520."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


def _show(value: object, limit: int = 60) -> str:
    """A value as TOML spells it, shortened when long."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
    elif isinstance(value, float):
        text = "nan" if math.isnan(value) else repr(value)
    elif isinstance(value, list | dict):
        # Built only as far as shown: a lane of 10^6 points is not spelled out to be cut.
        items = value.items() if isinstance(value, dict) else ((None, v) for v in value)
        parts: list[str] = []
        size = 0
        for k, v in items:
            part = _show(v, limit) if k is None else f"{k} = {_show(v, limit)}"
            parts.append(part)
            size += len(part) + 2
            if size > limit:
                break
        open_, close = ("{ ", " }") if isinstance(value, dict) else ("[", "]")
        text = open_ + ", ".join(parts) + close
    else:
        text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def toml_type(value: object, *, integers: bool = False) -> str:
    """What a TOML value is, for an error: "a string", "a number", "a table", ...; with
    `integers`, "an integer" apart from "a number"."""
    if isinstance(value, bool):
        return "true/false"
    if integers and isinstance(value, int):
        return "an integer"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return "a date/time"


def _quoted(options: Iterable[object], limit: int = 16) -> str:
    shown = [_show(option) for option in options]
    if len(shown) > limit:
        shown = [*shown[:limit], f"... ({len(shown) - limit} more)"]
    return ", ".join(shown)


def _either(options: Sequence[object]) -> str:
    shown = [_show(option) for option in options]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " or " + shown[-1]


def _close(word: str, options: Iterable[str]) -> str | None:
    options = list(options)
    by_lower = {option.lower(): option for option in options}
    if word.lower() in by_lower:
        return by_lower[word.lower()]
    matches = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return matches[0] if matches else None


def _suggest(word: str, options: Sequence[str], noun: str) -> str:
    """'; did you mean "x"?' when one is close, else the list of what is allowed."""
    close = _close(word, options)
    if close is not None:
        return f"; did you mean {_show(close)}?"
    if not options:
        return f"; there are no {noun}"
    return f"; {noun}: {_quoted(options)}"


def _flatten_lanes(
    raw: Mapping[str, Any], prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Lanes with their key parts. Dotted TOML keys nest tables of lanes; a table that has
    points, is empty or holds a plain value (curve = "step") is one lane written as a table."""
    for key, value in raw.items():
        parts = (*prefix, key)
        nested = isinstance(value, dict) and value and "points" not in value
        if nested and all(isinstance(v, dict | list) for v in value.values()):
            yield from _flatten_lanes(value, parts)
        else:
            yield parts, value


@dataclass(frozen=True)
class _At:
    """A place in the mix: its key path (for the line) and its display path (for people)."""

    keys: KeyPath
    shown: tuple[str, ...]

    def key(self, name: str) -> _At:
        return _At((*self.keys, name), (*self.shown, name))

    def index(self, index: int) -> _At:
        """The element `index` (0-based) of the list at this place, shown as name[index+1]."""
        last = self.shown[-1] if self.shown else ""
        return _At((*self.keys, index), (*self.shown[:-1], f"{last}[{index + 1}]"))

    def sub(self, keys: KeyPath, shown: str) -> _At:
        return _At((*self.keys, *keys), (*self.shown, shown))

    @property
    def display(self) -> str:
        return " > ".join(self.shown)

    @property
    def name(self) -> str:
        return self.shown[-1] if self.shown else ""


@dataclass(frozen=True)
class _Targets:
    """What the lanes of one strip (or VCA, or the master) may target."""

    noun: str
    plain: Mapping[str, schema.Key]
    sends: Mapping[str, Send] | None
    inserts: Mapping[str, Insert]

    def available(self) -> list[str]:
        out = list(self.plain)
        for bus in self.sends or {}:
            out += [f"sends.{bus}.{key}" for key in schema.lane_keys(schema.SEND)]
        for name, insert in self.inserts.items():
            if insert.type == "eq":
                for number, band in enumerate(insert.params["bands"], start=1):
                    keys = schema.lane_keys(schema.BAND_TYPES[band["type"]])
                    out += [f"{name}.bands.{number}.{key}" for key in keys]
            else:
                out += [
                    f"{name}.{key}" for key in schema.lane_keys(schema.INSERT_TYPES[insert.type])
                ]
        return out


@dataclass(frozen=True)
class _Route:
    """A key that names where a strip's signal goes or a sidechain's comes from, with the
    words of its errors."""

    key: str
    missing: str
    """What a name of nothing is: "names no bus"."""
    noun: str
    """What the names offered instead are."""
    master: str | None
    """Why the master cannot be named; None where it can."""
    track: str | None
    """Where it goes instead of a track; None where a track can be named."""


_OUTPUT = _Route("output", "names no bus", "outputs", None, 'output goes to a bus or "master"')
_SEND = _Route(
    "to",
    "names no bus",
    "buses",
    'the master is no send destination; sends go to a bus (output = "master" feeds the master)',
    "sends go to a bus",
)
_SIDECHAIN = _Route(
    "sidechain",
    "is no track or bus",
    "tracks and buses",
    "the master cannot key a sidechain; name a track or bus",
    None,
)


@dataclass(frozen=True)
class _Edge:
    """A routing dependency: `dst` needs `src` first."""

    src: str
    dst: str
    how: str
    at: _At


_TIME_KEY = schema.POINT.items[0]
_TENSION_KEY = schema.POINT.items[3]
_MULTIPLE_HEADERS = ("track", "bus", "vca", "insert")


# --- the reader -----------------------------------------------------------------------------


class _Reader:
    """Walks the parsed TOML once, checking as it goes; the first problem is raised."""

    def __init__(self, text: str, path: Path) -> None:
        self.text = text
        self.path = path
        self.folder = path.parent
        self.locator = _locator(text)
        self.sample_rate: int | None = None
        self.tempo: float | None = None
        self.meter: tuple[int, int] = (4, 4)

    # --- errors and lines --------------------------------------------------------------------

    def fail(self, at: _At, message: str, error: type[MixFileError] = MixFileError) -> NoReturn:
        raise error(self.path, self.locator.line(at.keys), at.display, message)

    def line(self, at: _At) -> int:
        return self.locator.line(at.keys)

    # --- generic checks ----------------------------------------------------------------------

    def max_of(self, key: schema.Key) -> float | None:
        if key.max is not None:
            return key.max
        if key.max_fs is not None and self.sample_rate is not None:
            return key.max_fs * self.sample_rate
        return None

    def allowed(self, key: schema.Key) -> str:
        if key.choices and key.kind != "position":
            return _either(key.choices)
        lo, hi = key.min, self.max_of(key)
        if lo is not None and hi is not None:
            text = f"{_num(lo)} .. {_num(hi)}"
        elif lo is not None:
            text = f">= {_num(lo)}"
        elif hi is not None:
            text = f"<= {_num(hi)}"
        else:
            return "any finite number"
        notes = []
        if key.max_fs is not None and key.max is None:
            notes.append(f"{key.max_fs:g} x sample_rate")
        if key.off is not None:
            notes.append(f"{_num(key.off)} means off")
        return text + (f" ({'; '.join(notes)})" if notes else "")

    def unknown_keys(
        self, at: _At, raw: Mapping[str, Any], allowed: Sequence[str], what: str = ""
    ) -> None:
        for name in raw:
            if name not in allowed:
                self.fail(
                    at.key(name),
                    f"unknown key {_show(name)}{what}{_suggest(name, allowed, 'allowed keys')}",
                )

    def missing(self, at: _At, key: schema.Key) -> NoReturn:
        hint = f"; add {key.example}" if key.example else ""
        if key.kind in ("int", "float"):
            hint += f" (allowed {self.allowed(key)})"
        self.fail(at, f"required key {_show(key.name)} is missing{hint}")

    def table(
        self, at: _At, raw: object, table: schema.Table, *, what: str = "", skip: Sequence[str] = ()
    ) -> dict[str, Any]:
        """Check a table's keys and fill defaults; compound values come back as checked raw."""
        if not isinstance(raw, dict):
            self.fail(at, f"must be a table, not {toml_type(raw)} ({_show(raw)})")
        self.unknown_keys(at, raw, table.names, what)
        values: dict[str, Any] = {}
        for key in table.keys:
            if key.name in skip:
                continue
            if key.name in raw:
                values[key.name] = self.value(at.key(key.name), raw[key.name], key)
            elif key.required:
                self.missing(at.key(key.name), key)
            else:
                values[key.name] = key.default
                self.check_default(at.key(key.name), key)
        return values

    def check_default(self, at: _At, key: schema.Key) -> None:
        """A default frequency can be above 0.49 x a low sample rate: say so, do not guess."""
        hi = self.max_of(key)
        if isinstance(key.default, float) and hi is not None and key.default > hi:
            self.fail(
                at,
                f"{key.name} is not set and its default, {_num(key.default)}, is above "
                f"{key.max_fs} x sample_rate here; set {key.name} to a value in "
                f"{_num(key.min or 0.0)} .. {_num(hi)}",
            )

    def value(self, at: _At, raw: object, key: schema.Key) -> Any:
        """Check one value against its key; returns it converted (floats, tuples, seconds)."""
        said = f"{at.name} = {_show(raw)}"
        kind = key.kind
        if kind == "bool":
            if not isinstance(raw, bool):
                self.fail(at, f"{said} must be true or false")
            return raw
        if kind in ("int", "float"):
            return self.number(at, raw, key)
        if kind == "str":
            if not isinstance(raw, str):
                self.fail(at, f"{said} must be a string (in quotes)")
            return raw
        if kind == "enum":
            if not isinstance(raw, str) or raw not in key.choices:
                close = _close(raw, [str(c) for c in key.choices]) if isinstance(raw, str) else None
                hint = f"; did you mean {_show(close)}?" if close is not None else ""
                self.fail(at, f"{said} is not allowed; allowed {self.allowed(key)}{hint}")
            return raw
        if kind == "position":
            return self.position(at, raw, key)
        if kind == "note":
            return self.note(at, raw)
        if kind == "list":
            return self.list_value(at, raw, key, said)
        if kind in ("table", "lanes"):
            if not isinstance(raw, dict):
                self.fail(at, f"{said} must be a table")
            return raw
        # "tables"
        if not isinstance(raw, list):
            how = ""
            if key.name in _MULTIPLE_HEADERS:
                header = ".".join(k for k in at.keys if isinstance(k, str))
                how = f"; write each as [[{header}]] (double brackets)"
            self.fail(at, f"{at.name} must be a list of tables, not {toml_type(raw)}{how}")
        for index, element in enumerate(raw):
            if not isinstance(element, dict):
                self.fail(
                    at.index(index), f"must be a table, not {toml_type(element)} ({_show(element)})"
                )
        return raw

    def list_value(self, at: _At, raw: object, key: schema.Key, said: str) -> tuple[Any, ...]:
        if not isinstance(raw, list):
            self.fail(at, f"{said} must be a list")
        if key.items:
            if len(raw) != len(key.items):
                names = ", ".join(item.name for item in key.items)
                self.fail(at, f"{said} must have {len(key.items)} elements: [{names}]")
            return tuple(
                self.value(at.index(i), v, item)
                for i, (v, item) in enumerate(zip(raw, key.items, strict=True))
            )
        assert key.item is not None
        return tuple(self.value(at.index(i), v, key.item) for i, v in enumerate(raw))

    def number(
        self, at: _At, raw: object, key: schema.Key, said: str | None = None, *, lane: bool = False
    ) -> Any:
        """Check a number's type, finiteness and range; lanes take floats for int keys too."""
        said = said or f"{at.name} = {_show(raw)}"
        is_int = key.kind == "int" and not lane
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            noun = "an integer" if is_int else "a number"
            self.fail(at, f"{said} must be {noun} (allowed {self.allowed(key)})")
        if isinstance(raw, float) and not math.isfinite(raw):
            hint = f"; write {_num(key.off)} for off" if key.off is not None and raw < 0 else ""
            self.fail(at, f"{said} is not allowed: NaN and infinities are refused{hint}")
        if is_int and not isinstance(raw, int):
            self.fail(
                at,
                f"{said} must be a whole number, without a decimal point "
                f"(allowed {self.allowed(key)})",
            )
        if key.choices and key.kind != "position" and raw not in key.choices:
            self.fail(at, f"{said} is not allowed; allowed {self.allowed(key)}")
        lo, hi = key.min, self.max_of(key)
        if (lo is not None and raw < lo) or (hi is not None and raw > hi):
            self.fail(at, f"{said} is out of range; allowed {self.allowed(key)}")
        return raw if is_int else float(raw)

    def position(self, at: _At, raw: object, key: schema.Key, said: str | None = None) -> Any:
        """Seconds, or "bar:beat" resolved to seconds, or one of the key's spellings ("auto")."""
        said = said or f"{at.name} = {_show(raw)}"
        spellings = "".join(f" or {_show(c)}" for c in key.choices)
        if isinstance(raw, str):
            if raw in key.choices:
                return raw
            return self.bar_beat(at, raw, key, said, spellings)
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            self.fail(
                at,
                f'{said} must be a time: seconds (a number) or "bar:beat" like "33:1"{spellings}',
            )
        number = float(self.number(at, raw, key, said))
        return number

    def bar_beat(self, at: _At, text: str, key: schema.Key, said: str, spellings: str) -> float:
        match = re.match(schema.BAR_BEAT_PATTERN, text)
        if match is None:
            self.fail(
                at,
                f'{said} is not a time; write seconds (12.5) or "bar:beat" '
                f'("33:1", "33:2.5"){spellings}',
            )
        if self.tempo is None:
            self.fail(
                at,
                f'{said} is musical time ("bar:beat"), which needs tempo_bpm in [session]; '
                "set it or write seconds",
            )
        bar, beat = int(match[1]), float(match[2])
        beats, unit = self.meter
        if bar < 1:
            self.fail(at, f"{said}: bar {bar} does not exist; bars count from 1")
        if not 1.0 <= beat < beats + 1:
            self.fail(
                at,
                f"{said}: beat {match[2]} is not in the bar; with meter [{beats}, {unit}] "
                f"a beat is at least 1 and below {beats + 1}",
            )
        seconds = ((bar - 1) * beats + (beat - 1.0)) * 60.0 / self.tempo
        hi = self.max_of(key)
        if hi is not None and seconds > hi:
            self.fail(
                at, f"{said} is {_num(seconds)} s, out of range; allowed {self.allowed(key)} s"
            )
        return seconds

    def note(self, at: _At, raw: object) -> str:
        said = f"{at.name} = {_show(raw)}"
        match = re.match(schema.NOTE_PATTERN, raw) if isinstance(raw, str) else None
        divisions = _either(schema.NOTE_DIVISIONS)
        if match is None or int(match[1]) not in schema.NOTE_DIVISIONS:
            self.fail(
                at,
                f'{said} is not a note value; write "1/d" with d {divisions}, "d" for dotted '
                f'or "t" for triplet ("1/8", "1/8d", "1/4t")',
            )
        if self.tempo is None:
            self.fail(at, f"{said} is a note value, which needs tempo_bpm in [session]")
        assert isinstance(raw, str)
        return raw

    def check_name(self, at: _At, name: str, noun: str, *, insert: bool = False) -> None:
        if not name.strip():
            self.fail(at, f"name = {_show(name)} is empty; every {noun} needs a name")
        if not insert and name == schema.MASTER:
            self.fail(at, 'name = "master" is reserved for the master bus; choose another name')
        if insert and name in schema.RESERVED_INSERT_NAMES:
            self.fail(
                at, f"name = {_show(name)} is reserved (lane targets use it); choose another name"
            )
        for char in schema.NAME_FORBIDDEN:
            if char in name:
                self.fail(
                    at,
                    f"name = {_show(name)} contains {_show(char)}; names may not contain "
                    '"." or "/" (lane targets and stem file names use them)',
                )

    # --- the file ----------------------------------------------------------------------------

    def read(self, doc: dict[str, Any]) -> MixFile:
        root = _At((), ())
        self.unknown_keys(root, doc, schema.TOP.names)
        format_ = self.format(doc)
        session = self.session(doc)
        render = self.render(doc)
        top = {key.name: key for key in schema.TOP.keys}

        strips: list[tuple[Strip, _At]] = []
        raw_lists = {
            kind: self.value(root.key(kind), doc.get(kind, []), top[kind])
            for kind in ("track", "bus")
        }
        self.strip_count(root, raw_lists["track"], raw_lists["bus"])
        for kind, table in (("track", schema.TRACK), ("bus", schema.BUS)):
            raw_list = raw_lists[kind]
            strips += [self.strip(kind, index, raw, table) for index, raw in enumerate(raw_list)]
        by_name: dict[str, Strip] = {}
        for strip, at in strips:
            other = by_name.get(strip.name)
            if other is not None:
                self.fail(
                    at.key("name"),
                    f"duplicate name {_show(strip.name)}: the {other.kind} on line {other.line} "
                    "already uses it; tracks and buses share one namespace",
                )
            by_name[strip.name] = strip

        master_at = root.key("master")
        master = self.master(master_at, doc.get("master", {}))
        vcas = self.vcas(
            root.key("vca"), self.value(root.key("vca"), doc.get("vca", []), top["vca"]), by_name
        )
        self.routes(strips, by_name, master, master_at)
        return MixFile(
            path=self.path,
            text=self.text,
            format=format_,
            session=session,
            render=render,
            tracks=tuple(strip for strip, _ in strips if strip.kind == "track"),
            buses=tuple(strip for strip, _ in strips if strip.kind == "bus"),
            master=master,
            vcas=vcas,
        )

    def strip_count(self, root: _At, tracks: Sequence[object], buses: Sequence[object]) -> None:
        limit = schema.MAX_STRIPS
        if len(tracks) + len(buses) <= limit:
            return
        kind, index = ("track", limit) if len(tracks) > limit else ("bus", limit - len(tracks))
        self.fail(
            root.key(kind).index(index),
            f"the mix has {len(tracks)} track{'s' * (len(tracks) != 1)} and {len(buses)} "
            f"bus{'es' * (len(buses) != 1)}; a mix may have at most "
            f"{limit} tracks and buses together",
        )

    def format(self, doc: Mapping[str, Any]) -> str:
        at = _At(("format",), ("format",))
        expected = f'format = "{schema.FORMAT}"'
        if "format" not in doc:
            self.fail(at, f"required key is missing; a mix file starts with {expected}")
        value = doc["format"]
        if value == schema.FORMAT:
            return schema.FORMAT
        if not isinstance(value, str):
            self.fail(at, f"format = {_show(value)} must be the string {_show(schema.FORMAT)}")
        match = re.fullmatch(r"\s*mixrender/(\d+)(?:\.\d+)*\s*", value)
        if match and int(match[1]) > schema.FORMAT_MAJOR:
            self.fail(
                at,
                f"format {value} is a newer major version than this mixrender reads "
                f"({schema.FORMAT}); upgrade mixrender to render this mix",
            )
        if match and int(match[1]) == schema.FORMAT_MAJOR:
            self.fail(at, f"format = {_show(value)} is not allowed; write exactly {expected}")
        self.fail(
            at, f"format = {_show(value)} is not a format this mixrender reads; expected {expected}"
        )

    def session(self, doc: Mapping[str, Any]) -> Session:
        at = _At(("session",), ("session",))
        if "session" not in doc:
            self.fail(at, "the mix has no [session] table; add [session] with sample_rate = 48000")
        raw = doc["session"]
        values = self.table(at, raw, schema.SESSION, skip=("end",))
        self.sample_rate = values["sample_rate"]
        self.tempo = values["tempo_bpm"]
        self.meter = (values["meter"][0], values["meter"][1])
        end_key = schema.SESSION.key("end")
        assert end_key is not None
        end: float | str = (
            self.value(at.key("end"), raw["end"], end_key) if "end" in raw else "auto"
        )
        if isinstance(end, float) and frame_count(end, self.sample_rate) > (
            schema.MAX_OUTPUT_S * (self.sample_rate or 0)
        ):
            self.fail(
                at.key("end"),
                f"end = {_show(raw['end'])} makes the output {_duration(end)} long; "
                f"the output may last at most {_duration(schema.MAX_OUTPUT_S)} "
                f"({schema.MAX_OUTPUT_S} s) at the session rate",
            )
        if end != "auto" and "tail_s" in raw:
            self.fail(
                at.key("tail_s"),
                f'tail_s only applies with end = "auto"; here end = {_show(raw["end"])}, '
                'so remove tail_s or set end = "auto"',
            )
        return from_values(
            Session,
            values,
            tempo_bpm=self.tempo,
            meter=self.meter,
            end=None if isinstance(end, str) else end,
        )

    def render(self, doc: Mapping[str, Any]) -> RenderSettings:
        values = self.table(_At(("render",), ("render",)), doc.get("render", {}), schema.RENDER)
        bit_depth = values["bit_depth"]
        return from_values(
            RenderSettings, values, dither=values["dither"] == "tpdf" and bit_depth != 32
        )

    # --- strips ------------------------------------------------------------------------------

    def strip(
        self, kind: str, index: int, raw: Mapping[str, Any], table: schema.Table
    ) -> tuple[Strip, _At]:
        name = raw.get("name")
        at = _At(
            (kind, index),
            (
                f"{kind} {_show(name)}"
                if isinstance(name, str) and name
                else f"{kind}[{index + 1}]",
            ),
        )
        if kind == "bus":
            for key in ("source", "offset_s", "clip_gain_db"):
                if key in raw:
                    self.fail(at.key(key), f"a bus has no {key} (only tracks do); remove it")
        values = self.table(at, raw, table)
        self.check_name(at.key("name"), values["name"], kind)
        sends = self.sends(at, values["sends"])
        inserts = self.inserts(at, values["insert"])
        send_keys = {send.to: send for send in sends}
        targets = _Targets(
            f"this {kind}", schema.lane_keys(table), send_keys, {i.name: i for i in inserts}
        )
        automation = self.lanes(at, values["automation"], targets)
        source = values.get("source")
        if source is not None and not source.strip():
            self.fail(at.key("source"), 'source = "" is empty; name the audio file of this track')
        strip = from_values(
            Strip,
            values,
            kind=kind,
            label=f"{kind} {_show(values['name'])}",
            source=source,
            source_path=None if source is None else self.folder / source,
            offset_s=values.get("offset_s", 0.0),
            clip_gain_db=values.get("clip_gain_db", 0.0),
            sends=sends,
            inserts=inserts,
            automation=automation,
            line=self.line(at),
        )
        return strip, at

    def sends(self, at_strip: _At, raw_list: Sequence[Mapping[str, Any]]) -> tuple[Send, ...]:
        sends: list[Send] = []
        first: dict[str, int] = {}
        for index, raw in enumerate(raw_list):
            at = at_strip.key("sends").index(index)
            values = self.table(at, raw, schema.SEND)
            to = values["to"]
            if to in first:
                self.fail(
                    at.key("to"),
                    f"a second send to {_show(to)} (sends[{first[to]}] already goes there); "
                    "at most one send per destination",
                )
            first[to] = index + 1
            sends.append(from_values(Send, values, index=index + 1, line=self.line(at)))
        return tuple(sends)

    # --- inserts -----------------------------------------------------------------------------

    def inserts(self, at_owner: _At, raw_list: Sequence[Mapping[str, Any]]) -> tuple[Insert, ...]:
        inserts: list[Insert] = []
        taken: dict[str, int] = {}
        per_type: dict[str, int] = {}
        for index, raw in enumerate(raw_list):
            pre = at_owner.key("insert").index(index)
            kind = self.type_of(pre, raw, schema.INSERT_TYPES, "insert types")
            per_type[kind] = per_type.get(kind, 0) + 1
            given = raw.get("name")
            if given is None:
                name = kind if per_type[kind] == 1 else f"{kind}{per_type[kind]}"
            elif not isinstance(given, str):
                self.fail(pre.key("name"), f"name = {_show(given)} must be a string (in quotes)")
            else:
                name = given
            at = _At(pre.keys, (*at_owner.shown, f"insert {_show(name)}"))
            if given is not None:
                self.check_name(at.key("name"), name, "insert", insert=True)
            if name in taken:
                if given is None:
                    self.fail(
                        at,
                        f"this {kind} is named {_show(name)} by default, which "
                        f'insert[{taken[name]}] already uses; give it a name = "..."',
                    )
                self.fail(
                    at.key("name"),
                    f"duplicate insert name {_show(name)}: insert[{taken[name]}] of this strip "
                    "already uses it; insert names are unique within a strip",
                )
            taken[name] = index + 1
            table = schema.INSERT_TYPES[kind]
            values = self.table(at, raw, table, what=f" for a {kind} insert")
            params = {k: v for k, v in values.items() if k not in schema.INSERT_COMMON_NAMES}
            self.insert_rules(at, kind, raw, params)
            inserts.append(
                Insert(
                    name=name,
                    type=kind,
                    bypass=values["bypass"],
                    params=MappingProxyType(params),
                    index=index + 1,
                    line=self.line(pre),
                )
            )
        return tuple(inserts)

    def type_of(
        self, at: _At, raw: Mapping[str, Any], types: Mapping[str, schema.Table], noun: str
    ) -> str:
        """The "type" key that chooses an insert's or band's table."""
        kind = raw.get("type")
        if kind is None:
            self.fail(at.key("type"), f'required key "type" is missing; {noun}: {_quoted(types)}')
        if not isinstance(kind, str):
            self.fail(
                at.key("type"), f"type = {_show(kind)} must be a string; {noun}: {_quoted(types)}"
            )
        if kind not in types:
            self.fail(
                at.key("type"),
                f"unknown {noun[:-1]} {_show(kind)}{_suggest(kind, list(types), noun)}",
            )
        return kind

    def insert_rules(
        self, at: _At, kind: str, raw: Mapping[str, Any], params: dict[str, Any]
    ) -> None:
        """What one key of an insert means for another."""
        if kind == "eq":
            params["bands"] = tuple(
                self.band(at.key("bands").index(i), band) for i, band in enumerate(params["bands"])
            )
        elif kind == "delay":
            if "time_ms" in raw and "time" in raw:
                self.fail(at.key("time"), "give time_ms or time, not both")
            if "time_ms" not in raw and "time" not in raw:
                self.fail(
                    at, 'a delay needs its time: time_ms = 250.0, or time = "1/8" (a note value)'
                )
            if params["time"] is not None:
                assert self.tempo is not None
                match = re.match(schema.NOTE_PATTERN, params["time"])
                assert match is not None
                ms = _note_beats(match, self.meter) * 60000.0 / self.tempo
                time_ms = schema.INSERT_TYPES["delay"].key("time_ms")
                assert time_ms is not None and time_ms.max is not None
                if ms > time_ms.max:
                    self.fail(
                        at.key("time"),
                        f"time = {_show(params['time'])} lasts {_num(round(ms, 3))} ms at "
                        f"{_num(self.tempo)} bpm; allowed up to {_num(time_ms.max)} ms",
                    )
        elif kind == "convolution":
            if not params["ir"].strip():
                self.fail(at.key("ir"), 'ir = "" is empty; name the impulse response file')
            params["ir_path"] = self.folder / params["ir"]
        sidechain = params.get("sidechain")
        if sidechain is not None and not sidechain.strip():
            self.fail(
                at.key("sidechain"), 'sidechain = "" is empty; name a track or bus, or leave it out'
            )

    def band(self, at: _At, raw: Mapping[str, Any]) -> Mapping[str, Any]:
        kind = self.type_of(at, raw, schema.BAND_TYPES, "band types")
        values = self.table(at, raw, schema.BAND_TYPES[kind], what=f" for a {kind} band")
        if kind in schema.BAND_TYPES_WITH_SLOPE and values["slope_db_oct"] != schema.Q_SLOPE:
            if "q" in raw:
                self.fail(
                    at.key("q"),
                    f"q does not apply at slope_db_oct = {values['slope_db_oct']}: only the "
                    f"{schema.Q_SLOPE} dB/oct {kind} takes a q (6 is first order; 18 and up are "
                    "Butterworth); remove q",
                )
            values["q"] = None
        return MappingProxyType(values)

    # --- automation --------------------------------------------------------------------------

    def lanes(self, at_owner: _At, raw: Mapping[str, Any], targets: _Targets) -> Mapping[str, Lane]:
        lanes: dict[str, Lane] = {}
        for parts, value in _flatten_lanes(raw):
            written = ".".join(parts)
            at = _At(
                (*at_owner.keys, "automation", *parts), (*at_owner.shown, "automation", written)
            )
            target, key = self.target(at, written, targets)
            if target in lanes:
                self.fail(
                    at,
                    f"a second lane for {target} (the first is on line {lanes[target].line}); "
                    "one lane per target",
                )
            shown = _At(at.keys, (*at_owner.shown, "automation", target))
            lanes[target] = self.lane(shown, value, key, target)
        return MappingProxyType(lanes)

    def target(self, at: _At, written: str, targets: _Targets) -> tuple[str, schema.Key]:
        """The canonical target of a lane and the key whose range its values take."""
        parts = written.split(".")
        noun = targets.noun
        unknown = f"unknown automation target {_show(written)}"
        if len(parts) == 1:
            if written in targets.plain:
                return written, targets.plain[written]
            self.fail(at, unknown + _suggest(written, targets.available(), "targets"))
        head = parts[0]
        if head == "sends" and targets.sends is not None:
            send_keys = schema.lane_keys(schema.SEND)
            form = f'a send lane is "sends.<bus>.{"|".join(send_keys)}"'
            if len(parts) != 3:
                self.fail(at, f"{unknown}; {form}")
            bus, name = parts[1], parts[2]
            if bus not in targets.sends:
                have = (
                    f"its sends go to {_quoted(targets.sends)}"
                    if targets.sends
                    else "it has no sends"
                )
                close = _close(bus, targets.sends)
                hint = f'; did you mean "sends.{close}.{name}"?' if close else ""
                self.fail(at, f"{unknown}: {noun} has no send to {_show(bus)} ({have}){hint}")
            if name not in send_keys:
                options = [f"sends.{bus}.{key}" for key in send_keys]
                self.fail(at, f"{unknown}; {form}{_suggest(written, options, 'targets')}")
            return written, send_keys[name]
        insert = targets.inserts.get(head)
        if insert is None:
            names = list(targets.inserts)
            have = f"its inserts: {_quoted(names)}" if names else "it has no inserts"
            self.fail(
                at,
                f"{unknown}: {noun} has no insert named {_show(head)} ({have})"
                + _suggest(written, targets.available(), "targets"),
            )
        if insert.type == "eq" and len(parts) >= 2 and parts[1] == "bands":
            return self.band_target(at, parts, insert, unknown)
        keys = schema.lane_keys(schema.INSERT_TYPES[insert.type])
        declared = schema.INSERT_TYPES[insert.type].key(parts[1]) if len(parts) == 2 else None
        if declared is not None and not declared.automatable:
            self.fail(
                at,
                f"{parts[1]} cannot be automated: it is fixed for the whole render (it sets the "
                f"insert's latency or structure); set it as a plain key of insert {_show(head)}",
            )
        if len(parts) != 2 or parts[1] not in keys:
            what = f"{unknown}: not an automatable key of insert {_show(head)} ({insert.type})"
            if insert.type == "eq":
                self.fail(at, f'{what}; an eq lane is "{head}.bands.<N>.<gain_db|freq_hz|q>"')
            self.fail(at, what + _suggest(".".join(parts[1:]), list(keys), "its automatable keys"))
        if insert.type == "delay" and parts[1] == "time_ms" and insert.params["time"] is not None:
            self.fail(
                at,
                f"insert {_show(head)} sets its time as a note value "
                f"(time = {_show(insert.params['time'])}); a time_ms lane needs time_ms instead",
            )
        return written, keys[parts[1]]

    def band_target(
        self, at: _At, parts: Sequence[str], insert: Insert, unknown: str
    ) -> tuple[str, schema.Key]:
        head = insert.name
        form = f'a band lane is "{head}.bands.<N>.<gain_db|freq_hz|q>", N from 1'
        if len(parts) != 4 or not parts[2].isdigit():
            self.fail(at, f"{unknown}; {form}")
        number = int(parts[2])
        bands = insert.params["bands"]
        if not 1 <= number <= len(bands):
            self.fail(
                at,
                f"{unknown}: insert {_show(head)} has {len(bands)} band{'s' * (len(bands) != 1)}; "
                f"band {number} does not exist (bands count from 1)",
            )
        band = bands[number - 1]
        keys = schema.lane_keys(schema.BAND_TYPES[band["type"]])
        name = parts[3]
        if name not in keys:
            self.fail(
                at,
                f"{unknown}: band {number} is a {band['type']}"
                + _suggest(name, list(keys), "its automatable keys"),
            )
        if name == "q" and band.get("q") is None:
            self.fail(
                at,
                f"{unknown}: band {number} is {'an' if band['slope_db_oct'] == 18 else 'a'} "
                f"{band['slope_db_oct']} dB/oct {band['type']}, "
                f"which has no q (only {schema.Q_SLOPE} dB/oct takes one)",
            )
        return f"{head}.bands.{number}.{name}", keys[name]

    def lane(self, at: _At, value: object, key: schema.Key, target: str) -> Lane:
        is_mute = key.kind == "bool"
        if isinstance(value, list):
            raw_points: object = value
            points_at = at
            curve, tension = "linear", 0.0
        elif isinstance(value, dict):
            values = self.table(at, value, schema.LANE, what=" in a lane", skip=("points",))
            if "points" not in value:
                self.missing(at.key("points"), schema.LANE.keys[0])
            raw_points = value["points"]
            points_at = _At((*at.keys, "points"), at.shown)
            curve, tension = values["curve"], values["tension"]
            if is_mute and "curve" in value and curve != "step":
                self.fail(
                    at.key("curve"),
                    f'a mute lane is always stepped; curve = "{curve}" is not allowed',
                )
        else:
            self.fail(
                at,
                f"a lane is a list of points [[time, value], ...] or a table "
                f'{{ points = [...], curve = "smooth" }}, not {toml_type(value)}',
            )
        if not isinstance(raw_points, list):
            self.fail(at, f"points must be a list of [time, value], not {toml_type(raw_points)}")
        if not raw_points:
            self.fail(at, "a lane needs at least one point [time, value]")
        if len(raw_points) > schema.MAX_LANE_POINTS:
            self.fail(
                at,
                f"the lane has {len(raw_points)} points; a lane may have at most "
                f"{schema.MAX_LANE_POINTS}",
            )
        points: list[Point] = []
        # The common point, [seconds, value] with both plain numbers in range, is taken
        # here without building its messages; any other goes through `point`, which says
        # what is wrong with it. Lines come from the locator's list for the whole lane.
        lines = self.locator.element_lines(points_at.keys)
        lane_line = self.line(points_at)
        lo, hi = key.min, self.max_of(key)
        fast = not is_mute and not key.choices
        lo_value = -math.inf if lo is None else lo
        hi_value = math.inf if hi is None else hi
        hi_time = _TIME_KEY.max if _TIME_KEY.max is not None else math.inf
        isfinite = math.isfinite
        previous = 0.0
        for index, raw in enumerate(raw_points):
            if fast and type(raw) is list and len(raw) == 2:
                t, v = raw
                if (
                    (type(t) is float or type(t) is int)
                    and (type(v) is float or type(v) is int)
                    and isfinite(t)
                    and isfinite(v)
                    and previous <= t <= hi_time
                    and lo_value <= v <= hi_value
                ):
                    line = lane_line if lines is None else lines[index]
                    points.append(Point(float(t), float(v), None, None, line))
                    previous = t
                    continue
            point_at = _At((*points_at.keys, index), (*at.shown, f"point {index + 1}"))
            point = self.point(point_at, raw, key, target, is_mute)
            if points and point.seconds < points[-1].seconds:
                self.fail(
                    point_at,
                    f"point {index + 1} at {_show(raw[0])} comes before point {index} at "
                    f"{_show(raw_points[index - 1][0])}; points must be in time order "
                    "(two points at one time make a jump)",
                )
            points.append(point)
            previous = point.seconds
        return Lane(
            target=target,
            points=tuple(points),
            curve="step" if is_mute else curve,
            tension=tension,
            line=self.line(at),
        )

    def point(self, at: _At, raw: object, key: schema.Key, target: str, is_mute: bool) -> Point:
        if not isinstance(raw, list) or not 2 <= len(raw) <= 4:
            self.fail(
                at,
                'a point is [time, value], [time, value, "shape"] or [time, value, "bezier", '
                f"tension], not {_show(raw)}",
            )
        seconds = self.position(at, raw[0], _TIME_KEY, said=f"time {_show(raw[0])}")
        said = f"value {_show(raw[1])} for {target}"
        if is_mute:
            if raw[1] not in (0, 1) or not isinstance(raw[1], bool | int | float):
                self.fail(at, f"{said} must be 0 or 1 (or false / true)")
            value = float(raw[1])
        else:
            value = float(self.number(at, raw[1], key, said, lane=True))
        shape: str | None = None
        tension: float | None = None
        if len(raw) >= 3:
            if not isinstance(raw[2], str) or raw[2] not in schema.CURVES:
                hint = (
                    _suggest(raw[2], schema.CURVES, "shapes")
                    if isinstance(raw[2], str)
                    else f"; shapes: {_quoted(schema.CURVES)}"
                )
                self.fail(at, f"shape {_show(raw[2])} is not a curve{hint}")
            shape = raw[2]
            if is_mute and shape != "step":
                self.fail(at, f'a mute lane is always stepped; shape "{shape}" is not allowed')
        if len(raw) == 4:
            if shape != "bezier":
                self.fail(
                    at,
                    'only a "bezier" point takes a tension (its 4th element); '
                    f'this one is "{shape}"',
                )
            tension = float(self.number(at, raw[3], _TENSION_KEY, f"tension {_show(raw[3])}"))
        return Point(
            seconds=seconds,
            value=value,
            shape=shape,
            tension=tension,
            line=self.line(at),
            written=raw[0] if isinstance(raw[0], str) else None,
        )

    # --- master, VCAs, routing ---------------------------------------------------------------

    def master(self, at: _At, raw: object) -> Master:
        values = self.table(at, raw, schema.MASTER_TABLE)
        inserts = self.inserts(at, values["insert"])
        plain = schema.lane_keys(schema.MASTER_TABLE)
        targets = _Targets("the master", plain, None, {i.name: i for i in inserts})
        automation = self.lanes(at, values["automation"], targets)
        return from_values(Master, values, inserts=inserts, automation=automation)

    def vcas(
        self, at_list: _At, raw_list: Sequence[Mapping[str, Any]], strips: Mapping[str, Strip]
    ) -> tuple[Vca, ...]:
        vcas: list[Vca] = []
        lines: dict[str, int] = {}
        for index, raw in enumerate(raw_list):
            name = raw.get("name")
            shown = f"vca {_show(name)}" if isinstance(name, str) and name else f"vca[{index + 1}]"
            at = _At((*at_list.keys, index), (shown,))
            values = self.table(at, raw, schema.VCA)
            name = values["name"]
            if not name.strip():
                self.fail(at.key("name"), f"name = {_show(name)} is empty; every VCA needs a name")
            if name in lines:
                self.fail(
                    at.key("name"),
                    f"duplicate VCA name {_show(name)}: the VCA on line {lines[name]} "
                    "already uses it",
                )
            lines[name] = self.line(at)
            seen: dict[str, int] = {}
            for number, member in enumerate(values["members"], start=1):
                member_at = at.key("members").index(number - 1)
                if member not in strips:
                    self.fail(
                        member_at,
                        f"{_show(member)} is no track or bus"
                        + _suggest(member, list(strips), "tracks and buses"),
                    )
                if member in seen:
                    self.fail(member_at, f"{_show(member)} is already members[{seen[member]}]")
                seen[member] = number
            targets = _Targets("a VCA", schema.lane_keys(schema.VCA), None, {})
            automation = self.lanes(at, values["automation"], targets)
            vcas.append(from_values(Vca, values, automation=automation, line=lines[name]))
        return tuple(vcas)

    def routes(
        self,
        strips: Sequence[tuple[Strip, _At]],
        by_name: Mapping[str, Strip],
        master: Master,
        master_at: _At,
    ) -> None:
        """Outputs, sends and sidechains name what exists, and make no cycle."""
        buses = [strip.name for strip, _ in strips if strip.kind == "bus"]
        outputs = {*buses, schema.MASTER}
        names = list(by_name)
        edges: dict[str, list[_Edge]] = {strip.name: [] for strip, _ in strips}
        for strip, at in strips:
            out_at = at.key("output")
            out = strip.output
            others = [bus for bus in buses if bus != strip.name]
            self.route(
                _OUTPUT,
                out_at,
                out,
                strip.name,
                f"({strip.label} outputs to itself)",
                outputs,
                by_name,
                [*others, schema.MASTER],
            )
            if out != schema.MASTER:
                edges[strip.name].append(
                    _Edge(strip.name, out, f"{_show(strip.name)} outputs to {_show(out)}", out_at)
                )
            for send in strip.sends:
                to_at = at.key("sends").index(send.index - 1).key("to")
                to = send.to
                cycle = f"({strip.label} sends to itself)"
                self.route(_SEND, to_at, to, strip.name, cycle, buses, by_name, others)
                edges[strip.name].append(
                    _Edge(strip.name, to, f"{_show(strip.name)} sends to {_show(to)}", to_at)
                )
        owners: list[tuple[str | None, str, _At, tuple[Insert, ...]]] = [
            (s.name, s.label, at, s.inserts) for s, at in strips
        ]
        owners.append((None, "the master", master_at, master.inserts))
        for owner, label, at, inserts in owners:
            for insert in inserts:
                key = insert.params.get("sidechain")
                if key is None:
                    continue
                insert_at = at.sub(
                    ("insert", insert.index - 1), f"insert {_show(insert.name)}"
                ).key("sidechain")
                cycle = (
                    f"(the sidechain of {label} is {label} itself); leave sidechain out to key "
                    "from the insert's own input"
                )
                self.route(_SIDECHAIN, insert_at, key, owner, cycle, by_name, by_name, names)
                if owner is not None:
                    how = f"{_show(key)} keys {_show(insert.name)} on {_show(owner)}"
                    edges[key].append(_Edge(key, owner, how, insert_at))
        self.cycles([strip.name for strip, _ in strips], edges)

    def route(
        self,
        route: _Route,
        at: _At,
        name: str,
        own: str | None,
        cycle: str,
        allowed: Collection[str],
        strips: Collection[str],
        options: Sequence[str],
    ) -> None:
        """`name`, written at `at` as the route's key, is one of `allowed` and not `own` (a
        routing cycle, which `cycle` words); `strips` are the names of every track and bus,
        `options` the names offered for a name that is none of them."""
        if name == own:
            self.fail(at, f'routing cycle: "{name}" -> "{name}" {cycle}', RoutingError)
        if name in allowed:
            return
        if route.master is not None and name == schema.MASTER:
            self.fail(at, f'{route.key} = "master": {route.master}')
        if route.track is not None and name in strips:
            self.fail(at, f"{route.key} = {_show(name)} is a track; {route.track}")
        self.fail(
            at, f"{route.key} = {_show(name)} {route.missing}" + _suggest(name, options, route.noun)
        )

    def cycles(self, order: Sequence[str], edges: Mapping[str, Sequence[_Edge]]) -> None:
        """Depth-first search in declaration order; the first cycle found is reported."""
        state: dict[str, int] = {}  # 1: on the current path, 2: done
        for start in order:
            if start in state:
                continue
            state[start] = 1
            stack: list[tuple[str, Iterator[_Edge]]] = [(start, iter(edges[start]))]
            path: list[_Edge] = []
            while stack:
                node, pending = stack[-1]
                edge = next(pending, None)
                if edge is None:
                    state[node] = 2
                    stack.pop()
                    if path:
                        path.pop()
                    continue
                if state.get(edge.dst) == 1:
                    first = [name for name, _ in stack].index(edge.dst)
                    cycle = [*path[first:], edge]
                    chain = " -> ".join(_show(e.src) for e in cycle) + f" -> {_show(edge.dst)}"
                    why = "; ".join(e.how for e in cycle)
                    self.fail(
                        edge.at,
                        f"routing cycle: {chain} ({why}); routing must be acyclic",
                        RoutingError,
                    )
                if edge.dst not in state:
                    state[edge.dst] = 1
                    stack.append((edge.dst, iter(edges[edge.dst])))
                    path.append(edge)
