"""README.md: the commands it shows exist, with the options it gives them, and the files it
links to are there."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import typer

from mixrender.cli import app

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def command_lines() -> list[list[str]]:
    """Every `mixrender ...` command in the README's shell blocks, as words, comments cut."""
    found = []
    for block in re.findall(r"^\s*```sh\n(.*?)^\s*```", README, re.M | re.S):
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            for i, word in enumerate(words):
                if word == "mixrender" and (i == 0 or words[i - 1] in ("-m", "&&")):
                    found.append(words[i + 1 :])
                    break
    return found


def test_it_starts_with_the_two_commands_that_work_on_a_fresh_machine() -> None:
    blocks = re.findall(r"```sh\n(.*?)```", README, re.S)
    assert blocks[:2] == [
        "python3 -m pip install . && python3 -m mixrender render mixes/demo/demo.toml\n",
        "bash .ci/run\n",
    ]


def test_every_command_shown_exists_with_the_options_it_is_given() -> None:
    group: Any = typer.main.get_command(app)  # typer's own click group
    lines = command_lines()
    used = {words[0] for words in lines}
    assert used >= {"render", "check", "verify", "diff", "schema", "analyze", "init", "batch"}
    for words in lines:
        command = group.commands.get(words[0])
        assert command is not None, f"README shows `mixrender {words[0]}`, no such command"
        options = {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)}
        for word in words[1:]:
            if word in (">", "|"):
                break
            if word.startswith("-"):
                assert word in options, f"`mixrender {words[0]}` has no option {word}"


def test_the_files_it_links_to_and_names_exist() -> None:
    links = re.findall(r"\]\(([^)#]+)\)", README)
    assert "docs/mix-format.md" in links and "bench/results.md" in links
    for link in links:
        assert (ROOT / link).exists(), link
    for test in re.findall(r"^- `((?:tests|rust)/[^`:]+)(?:::(\w+))?`", README, re.M):
        path, name = test
        assert (ROOT / path).exists(), path
        if name:
            assert f"def {name}(" in (ROOT / path).read_text(encoding="utf-8"), name
