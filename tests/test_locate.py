"""The line locator: key paths of a TOML text map to the lines where they are written."""

from __future__ import annotations

import importlib.util
import sys
import tomllib
from pathlib import Path

import pytest

if importlib.util.find_spec("mixrender") is None:  # not installed: use the source tree
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))

from mixrender.locate import Locator, locate

TEXT = """\
format = "mixrender/1"   # [not] a header

[session]
sample_rate = 48000
name = '''a "multi-line" literal
[[track]] is text here
'''
"quoted key" = "with # hash and ] bracket"
site."dotted key" = 1

[[track]]
name = "A"
sends = [
  { to = "Plate", level_db = -14.0 },   # a comment, [brackets] too
  { to = "Slap", level_db = -20.0 }
  ,
]
notes = \"\"\"
[[bus]]
a quote \\\"\"\" inside\"\"\"\"
  [[track.insert]]
  type = "eq"
  bands = [ { type = "bell", freq_hz = 100.0 },
            { type = "notch", freq_hz = 60.0, q = 4.0 }, ]
  [[track.insert]]
  type = "gain"
  [track.automation]
  gain_db = [
    [0.0, -3.0],
    ["33:1", -1.0, "bezier", 0.5],
  ]
  "sends.Plate.level_db" = { points = [[0.0, -14.0]], curve = "smooth" }
  sends.Slap."level_db" = [[1.0, -20.0]]

[[bus]]
name = "Plate"
  [[bus.insert]]
  type = "reverb"

[[track]]
name = "B"
  [[track.insert]]
  type = "gate"
  [track.automation]
  "gate.threshold_db" = [[0, -50.0]]
[master]
gain_db = 0.0
"""


def line(needle: str, nth: int = 1) -> int:
    hits = [n for n, text in enumerate(TEXT.splitlines(), start=1) if needle in text]
    return hits[nth - 1]


@pytest.mark.parametrize(
    ("keypath", "expected"),
    [
        (("format",), line("format =")),
        (("session",), line("[session]")),
        (("session", "sample_rate"), line("sample_rate")),
        (("session", "name"), line("name = '''")),
        (("session", "quoted key"), line('"quoted key"')),
        (("session", "site", "dotted key"), line("site.")),
        (("track",), line("[[track]]", 2)),  # the first is inside the literal string
        (("track", 0), line("[[track]]", 2)),
        (("track", 0, "name"), line('name = "A"')),
        (("track", 0, "sends"), line("sends = [")),
        (("track", 0, "sends", 0, "level_db"), line('{ to = "Plate"')),
        (("track", 0, "sends", 1), line('{ to = "Slap"')),
        (("track", 0, "sends", 1, "level_db"), line('{ to = "Slap"')),
        (("track", 0, "notes"), line("notes =")),
        (("track", 0, "insert", 0), line("[[track.insert]]")),
        (("track", 0, "insert", 0, "bands", 1, "q"), line('{ type = "notch"')),
        (("track", 0, "insert", 1, "type"), line('type = "gain"')),
        (("track", 0, "automation", "gain_db", 1), line('["33:1"')),
        (("track", 0, "automation", "gain_db", 1, 3), line('["33:1"')),
        (("track", 0, "automation", "sends.Plate.level_db", "points", 0), line('"sends.Plate')),
        (("track", 0, "automation", "sends", "Slap", "level_db", 0), line("sends.Slap.")),
        (("bus", 0), line("[[bus]]", 2)),  # the first is inside the basic string
        (("bus", 0, "insert", 0, "type"), line('type = "reverb"')),
        (("track", 1), line("[[track]]", 3)),
        (("track", 1, "insert", 0), line("[[track.insert]]", 3)),  # indices restart per track
        (("track", 1, "automation", "gate.threshold_db", 0), line('"gate.threshold_db"')),
        (("master", "gain_db"), line("gain_db = 0.0")),
    ],
)
def test_exact_lines(keypath: tuple[str | int, ...], expected: int) -> None:
    assert Locator(TEXT).exact(keypath) == expected


def test_text_is_valid_toml() -> None:
    document = tomllib.loads(TEXT)
    assert document["track"][0]["notes"] == '[[bus]]\na quote """ inside"'
    assert [t["name"] for t in document["track"]] == ["A", "B"]


def test_unknown_paths_fall_back_to_the_nearest_ancestor() -> None:
    locator = Locator(TEXT)
    assert locator.exact(("track", 0, "gain_db")) is None
    assert locator.nearest(("track", 0, "gain_db")) == line("[[track]]", 2)
    assert locator.nearest(("track", 1, "insert", 0, "threshold_db")) == line("[[track.insert]]", 3)
    assert locator.nearest(("track", 0, "sends", 1, "pan")) == line('{ to = "Slap"')
    assert locator.nearest(("vca", 0)) is None
    assert locator.line(("vca", 0)) == 1
    assert locate(TEXT, ("session", "tempo_bpm")) == line("[session]")


def test_table_under_an_array_of_tables_after_another_array() -> None:
    text = '[[track]]\nname = "A"\n[[bus]]\nname = "B"\n[track.automation]\npan = [[0, 0]]\n'
    assert Locator(text).exact(("track", 0, "automation", "pan")) == 6


def test_crlf_and_escapes_in_quoted_keys() -> None:
    text = "[session]\r\n\"a\\u0062c\" = 1\r\n'lit\\eral' = 2\r\n"
    locator = Locator(text)
    assert locator.exact(("session", "abc")) == 2
    assert locator.exact(("session", "lit\\eral")) == 3
