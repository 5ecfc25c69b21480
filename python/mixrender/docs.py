"""The key reference of ``docs/mix-format.md``, generated from :mod:`mixrender.schema`.

The page mixes hand-written normative text with generated sections, each between a pair of
marker lines::

    <!-- BEGIN GENERATED <name>: python -m mixrender.docs; do not edit by hand -->
    ...
    <!-- END GENERATED <name> -->

:func:`sections` makes the text of every generated section from the schema's tables, one
Markdown table per TOML table (key, type, unit, range, default, automatable, description);
:func:`update` puts them into a page. ``python -m mixrender.docs [PAGE]`` rewrites the page
(by default the project's ``docs/mix-format.md``); with ``--check`` it writes nothing and
exits 1 when the page is not current.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

from . import schema
from .schema import Key, Table

PAGE = Path(__file__).resolve().parents[2] / "docs" / "mix-format.md"
BEGIN = "<!-- BEGIN GENERATED {name}: python -m mixrender.docs; do not edit by hand -->"
END = "<!-- END GENERATED {name} -->"
_SECTION = re.compile(
    r"^<!-- BEGIN GENERATED (?P<name>[a-z]+):[^\n]*-->\n.*?^<!-- END GENERATED (?P=name) -->$",
    re.MULTILINE | re.DOTALL,
)

_KINDS = {
    "bool": "boolean",
    "int": "integer",
    "float": "number",
    "str": "string",
    "enum": "string",
    "position": 'seconds or "bar:beat"',
    "note": 'note value ("1/8", "1/8d", "1/4t")',
    "list": "array",
    "table": "table",
    "tables": "array of tables",
    "lanes": "table of lanes",
}
_UNITS = (  # name suffix -> unit; the first that matches
    ("_db_oct", "dB/oct"),
    ("_db", "dB"),
    ("_hz", "Hz"),
    ("_ms", "ms"),
    ("_s", "s"),
    ("_bpm", "BPM"),
    ("_lufs", "LUFS"),
    ("sample_rate", "Hz"),
)
_HEADER = (
    "| key | type | unit | range | default | automatable | description |\n"
    "| --- | --- | --- | --- | --- | --- | --- |"
)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _value(value: object) -> str:
    """A value as it is written in TOML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'`"{value}"`'
    if isinstance(value, tuple):
        return "`[" + ", ".join(str(v) for v in value) + "]`"
    if isinstance(value, Mapping):
        return "`{}`"
    return f"`{value!r}`" if isinstance(value, float) else f"`{value}`"


def _number(x: float) -> str:
    return f"{x:g}" if abs(x) < 1e15 else str(int(x))


def _range(key: Key) -> str:
    parts: list[str] = []
    if key.choices:
        parts.append(", ".join(_value(c) for c in key.choices))
    if key.min is not None or key.max is not None or key.max_fs is not None:
        hi = (
            _number(key.max)
            if key.max is not None
            else f"{key.max_fs:g} x sample_rate"
            if key.max_fs is not None
            else None
        )
        if key.min is not None and hi is not None:
            parts.append(f"{_number(key.min)} .. {hi}")
        elif key.min is not None:
            parts.append(f">= {_number(key.min)}")
        else:
            parts.append(f"<= {hi}")
    if key.off is not None:
        parts.append(f"{_number(key.off)} means off")
    if key.pattern is not None:
        parts.append(f"matches `{key.pattern}`")
    return "; ".join(parts)


def _unit(key: Key) -> str:
    if key.kind == "position":
        return "s"
    return next((unit for suffix, unit in _UNITS if key.name.endswith(suffix)), "")


def _default(key: Key) -> str:
    if key.required:
        return "required"
    return "absent" if key.default is None else _value(key.default)


def _type(key: Key) -> str:
    kind = _KINDS[key.kind]
    if key.kind == "list" and key.item is not None:
        item = key.item
        return f"array of {item.name}s" if item.items else f"array of {_KINDS[item.kind]}s"
    return kind


def _row(label: str, key: Key, *, element: bool = False) -> str:
    cells = (
        label,
        _type(key),
        _unit(key),
        _range(key),
        "" if element else _default(key),
        "yes" if key.automatable else "no",
        key.doc,
    )
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def _rows(table: Table, skip: tuple[str, ...] = ()) -> Iterator[str]:
    for key in table.keys:
        if key.name in skip:
            continue
        yield _row(f"`{key.name}`", key)
        for i, item in enumerate(key.items, 1):  # positional elements: [1], [2], ...
            yield _row(f"`{key.name}[{i}]` `{item.name}`", item, element=True)
        if key.item is not None and not key.item.items:
            yield _row(f"`{key.name}[]` `{key.item.name}`", key.item, element=True)


def _table(label: str, table: Table, skip: tuple[str, ...] = (), note: str = "") -> str:
    lines = [f"#### {label}: {table.doc}", ""]
    if note:
        lines += [note, ""]
    lines += [_HEADER, *_rows(table, skip)]
    return "\n".join(lines)


def _point() -> str:
    point = schema.POINT
    rows = [
        _row(f"`[{i}]` `{item.name}`", item, element=True) for i, item in enumerate(point.items, 1)
    ]
    return "\n".join([f"#### `point`: {point.doc}", "", _HEADER, *rows])


def sections() -> dict[str, str]:
    """The text of each generated section, by name, from the schema."""
    common = schema.INSERT_COMMON_NAMES
    common_keys = Table("insert", "the keys every insert takes", schema.INSERT_COMMON)
    inserts = [_table("every insert", common_keys)]
    inserts += [
        _table(
            f"insert `{name}`",
            table,
            skip=common,
            note=f'`type = "{name}"`, and the keys every insert takes.',
        )
        for name, table in schema.INSERT_TYPES.items()
    ]
    return {
        "file": "\n\n".join(
            [
                _table("top level", schema.TOP),
                _table("`[session]`", schema.SESSION),
                _table("`[render]`", schema.RENDER),
            ]
        ),
        "strips": "\n\n".join(
            [
                _table("`[[track]]`", schema.TRACK),
                _table("`sends` entry", schema.SEND),
                _table("`[[bus]]`", schema.BUS),
                _table("`[master]`", schema.MASTER_TABLE),
                _table("`[[vca]]`", schema.VCA),
            ]
        ),
        "inserts": "\n\n".join(inserts),
        "bands": "\n\n".join(
            _table(f"band `{name}`", table) for name, table in schema.BAND_TYPES.items()
        ),
        "automation": "\n\n".join([_table("lane", schema.LANE), _point()]),
    }


def update(page: str) -> str:
    """`page` with every generated section replaced by its current text; an error names a
    section the page lacks or one the schema does not make."""
    made = sections()
    found: list[str] = []

    def replace(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in made:
            raise ValueError(f"the page has a generated section {name!r} that nothing makes")
        found.append(name)
        return "\n".join([BEGIN.format(name=name), "", made[name], "", END.format(name=name)])

    text = _SECTION.sub(replace, page)
    missing = sorted(set(made) - set(found))
    if missing:
        raise ValueError(f"the page lacks the generated sections {', '.join(missing)}")
    return text


def main(argv: list[str]) -> int:
    check = "--check" in argv
    paths = [a for a in argv if a != "--check"]
    if len(paths) > 1 or any(a.startswith("-") for a in paths):
        print("usage: python -m mixrender.docs [--check] [PAGE]", file=sys.stderr)
        return 2
    path = Path(paths[0]) if paths else PAGE
    try:
        page = path.read_text(encoding="utf-8")
        current = update(page)
    except (OSError, ValueError) as e:
        print(f"{path}: {e}", file=sys.stderr)
        return 1
    if check:
        if current != page:
            print(f"{path}: generated sections are not current; run python -m mixrender.docs")
            return 1
        return 0
    if current != page:
        path.write_text(current, encoding="utf-8")
        print(f"{path}: generated sections updated")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
