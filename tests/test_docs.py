"""docs/mix-format.md: its generated key tables are current, and every key that
`mixrender.schema` declares has its row there, in the table of the TOML table it belongs to."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from mixrender import docs, schema
from mixrender.schema import Key, Table

PAGE = Path(__file__).resolve().parent.parent / "docs" / "mix-format.md"


def generated(page: str) -> str:
    """The text of the page's generated sections, one after the other."""
    found = re.findall(r"<!-- BEGIN GENERATED [a-z]+:.*?<!-- END GENERATED [a-z]+ -->", page, re.S)
    assert found, "no generated sections"
    return "\n".join(found)


def section(text: str, doc: str) -> str:
    """The rows under the heading that ends with `doc`, up to the next heading."""
    headings = [m for m in re.finditer(r"^#### .*$", text, re.M) if m[0].endswith(": " + doc)]
    assert len(headings) == 1, f"{len(headings)} headings for {doc!r}"
    rest = text[headings[0].end() :]
    end = re.search(r"^(#### |<!-- END)", rest, re.M)
    return rest[: end.start() if end else None]


def tables(table: Table) -> Iterator[Table]:
    """`table` and every table below it, each once."""
    yield table
    for key in table.keys:
        below = ((key.table,) if key.table else ()) + key.variants
        for sub in below:
            yield from tables(sub)


def test_the_generated_sections_are_current() -> None:
    page = PAGE.read_text(encoding="utf-8")
    assert docs.update(page) == page, "docs/mix-format.md is stale: python -m mixrender.docs"
    assert docs.main(["--check", str(PAGE)]) == 0


def test_every_key_of_the_schema_has_its_row() -> None:
    text = generated(PAGE.read_text(encoding="utf-8"))
    seen: set[int] = set()
    common = section(text, "the keys every insert takes")
    count = 0
    for table in [*tables(schema.TOP), schema.LANE]:
        if id(table) in seen:
            continue
        seen.add(id(table))
        rows = section(text, table.doc)
        for key in table.keys:
            where = (
                common
                if table.name in schema.INSERT_TYPES and key.name in schema.INSERT_COMMON_NAMES
                else rows
            )
            assert re.search(rf"^\| `{key.name}` \|", where, re.M), (table.name, key.name)
            count += 1
            items: tuple[Key, ...] = key.items or ((key.item,) if key.item else ())
            for item in items:
                if not item.items:
                    assert f"`{item.name}`" in rows, (table.name, key.name, item.name)
                    continue
                inside = section(text, item.doc)  # a point: a table of its own
                for sub in item.items:
                    assert re.search(rf"^\| `\[\d\]` `{sub.name}` \|", inside, re.M), sub.name
    assert count > 150  # every insert and band type was walked


def test_a_stale_page_is_caught_and_rewritten(tmp_path: Path) -> None:
    page = PAGE.read_text(encoding="utf-8")
    stale = page.replace(
        "| `clip_gain_db` | number | dB | -96 .. 48 |", "| `clip_gain_db` | number |"
    )
    assert stale != page
    copy = tmp_path / "mix-format.md"
    copy.write_text(stale, encoding="utf-8")
    assert docs.main(["--check", str(copy)]) == 1
    assert copy.read_text(encoding="utf-8") == stale  # --check writes nothing
    assert docs.main([str(copy)]) == 0
    assert copy.read_text(encoding="utf-8") == page
    with pytest.raises(ValueError, match="lacks the generated sections bands"):
        docs.update(
            re.sub(r"<!-- BEGIN GENERATED bands.*?END GENERATED bands -->", "", page, flags=re.S)
        )
