"""Revisions that tell the truth: overridden static values, point-level lane diffs, diff's
exit codes and its null test of the delivered files, and a lock file git can live with."""

from __future__ import annotations

import difflib
import json
import os
import re
import tomllib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

import mixrender
from conftest import MixWriter, noise, tone
from mixrender.cli import app
from mixrender.lock import lock_path

runner = CliRunner()

MIX = """
format = "mixrender/1"
[session]
sample_rate = 48000
tempo_bpm = 120
tail_s = 0.2
[render]
bit_depth = 24

[[track]]
name = "Lead Vocal"
source = "vox.wav"
gain_db = 0.0
sends = [{ to = "Plate", level_db = -12.0 }]
  [track.automation]
  gain_db = [[0.0, -6.0], [0.5, -3.0], [1.0, -4.0]]

[[track]]
name = "Bass"
source = "bass.wav"
gain_db = -2.0

[[bus]]
name = "Plate"
  [[bus.insert]]
  type = "reverb"
  decay_s = 2.2
  mix = 1.0
"""


@pytest.fixture
def mix(write_mix: MixWriter) -> Path:
    return write_mix(
        MIX,
        vox__wav=(tone(1.5, freq=330.0, db=-12.0), 48000, "PCM_24"),
        bass__wav=(noise(1.5, channels=2, seed=5), 48000, "PCM_24"),
    )


def _edit(path: Path, old: str, new: str, name: str | None = None) -> Path:
    text = path.read_text()
    assert old in text, old
    target = path.with_name(name) if name else path
    target.write_text(text.replace(old, new, 1))
    return target


# --- 1. static values an automation lane overrides --------------------------------------------


def test_check_and_render_warn_about_a_static_value_a_lane_overrides(mix: Path) -> None:
    quiet = runner.invoke(app, ["check", str(mix)])
    assert quiet.exit_code == 0, quiet.output
    assert "warning" not in quiet.output  # gain_db = 0.0 is the default: nothing to say
    _edit(mix, "gain_db = 0.0", "gain_db = 1.0")
    want = (
        'warning: track "Lead Vocal" > gain_db = 1.0 has no effect: its automation lane sets '
        "the level"
    )
    for command in (["check", str(mix)], ["render", str(mix), "--no-lock"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 0, result.output
        assert result.output.count("warning:") == 1, result.output
        assert want in result.output
    # Bass has no lane: its gain_db = -2.0 is in force and not warned about.
    assert "Bass" not in result.output.split("rendered")[0]


def test_every_automatable_key_is_checked(write_mix: MixWriter) -> None:
    text = MIX.replace(
        "  gain_db = [[0.0, -6.0], [0.5, -3.0], [1.0, -4.0]]",
        '  gain_db = [[0.0, -6.0]]\n  pan = [[0.0, 0.5]]\n  "sends.Plate.pan" = [[0.0, 0.1]]',
    ).replace("level_db = -12.0 }", "level_db = -12.0, pan = -0.4 }")
    text = text.replace("pan = -0.4 }]", "pan = -0.4 }]\npan = 0.3")
    text += """
  [bus.automation]
  "reverb.decay_s" = [[0.0, 3.0]]
  "reverb.mix" = [[0.0, 1.0]]

[[vca]]
name = "All"
members = ["Bass"]
gain_db = -1.5
  [vca.automation]
  gain_db = [[0.0, 0.0]]

[master]
gain_db = -0.5
  [master.automation]
  gain_db = [[0.0, -1.0]]
"""
    mix = write_mix(
        text,
        vox__wav=(tone(0.5, db=-12.0), 48000),
        bass__wav=(noise(0.5, channels=2), 48000),
    )
    result = runner.invoke(app, ["check", str(mix)])
    assert result.exit_code == 0, result.output
    warned = [ln for ln in result.output.splitlines() if ln.startswith("warning:")]
    assert warned == [
        'warning: track "Lead Vocal" > pan = 0.3 has no effect: its automation lane sets the pan',
        'warning: track "Lead Vocal" > send to "Plate" > pan = -0.4 has no effect: its lane '
        '"sends.Plate.pan" sets the pan',
        'warning: bus "Plate" > insert "reverb" > decay_s = 2.2 has no effect: its lane '
        '"reverb.decay_s" sets its value',
        'warning: vca "All" > gain_db = -1.5 has no effect: its automation lane sets the level',
        "warning: master > gain_db = -0.5 has no effect: its automation lane sets the level",
    ]
    # Not warned: the track's gain_db (0.0, the default), the send's level_db (required, so
    # always written) and the reverb's mix (1.0, the default) under their lanes.


def test_diff_marks_a_change_that_a_lane_overrides(mix: Path) -> None:
    louder = _edit(mix, "gain_db = 0.0", "gain_db = 1.0", "louder.toml")
    result = runner.invoke(app, ["diff", str(mix), str(louder), "--audio"])
    assert result.exit_code == 1, result.output  # the text differs, the audio does not
    assert "Lead Vocal: gain_db 0.0 -> 1.0 (no effect: overridden by automation)" in result.output
    assert "audio: identical" in result.output
    bass = _edit(mix, "gain_db = -2.0", "gain_db = -1.0", "bass.toml")
    plain = runner.invoke(app, ["diff", str(mix), str(bass)])
    assert plain.exit_code == 1
    assert plain.output.strip() == "Bass: gain_db -2.0 -> -1.0"


# --- 2. lane edits point by point ------------------------------------------------------------


def test_lane_edits_read_point_by_point_in_seconds(mix: Path) -> None:
    lane = "gain_db = [[0.0, -6.0], [0.5, -3.0], [1.0, -4.0]]"
    cases = {
        "[[0.0, -6.0], [0.5, -2.5], [1.0, -4.0]]": "point at 0:00.5 -3.0 -> -2.5 dB",
        "[[0.0, -6.0], [0.75, -3.0], [1.0, -4.0]]": "point moved from 0:00.5 to 0:00.75",
        "[[0.0, -6.0], [0.5, -3.0], [1.0, -4.0], [92.0, -5.0]]": "new point at 1:32.0 -5.0 dB",
        "[[0.0, -6.0], [1.0, -4.0]]": "point at 0:00.5 removed",
        '[[0.0, -6.0], [0.5, -3.0, "smooth"], [1.0, -4.0]]': (
            "point at 0:00.5 shape linear -> smooth"
        ),
        '{ points = [[0.0, -6.0], [0.5, -3.0], [1.0, -4.0]], curve = "bezier", tension = 0.5 }': (
            "curve linear -> bezier; tension 0.0 -> 0.5"
        ),
    }
    for i, (points, want) in enumerate(cases.items()):
        other = _edit(mix, lane, f"gain_db = {points}", f"v{i}.toml")
        result = runner.invoke(app, ["diff", str(mix), str(other)])
        assert result.exit_code == 1, result.output
        assert result.output.strip() == f"Lead Vocal: gain_db lane: {want}", result.output
    both = _edit(mix, lane, 'gain_db = [[0.0, -5.0], [0.75, -3.0], [1.0, -4.0, "step"]]', "b.toml")
    result = runner.invoke(app, ["diff", str(mix), str(both)])
    assert result.output.strip() == (
        "Lead Vocal: gain_db lane: point at 0:00.0 -6.0 -> -5.0 dB; point moved from 0:00.5 "
        "to 0:00.75; point at 0:01.0 shape linear -> step"
    )


def test_lane_edits_read_in_bar_beat_where_the_lane_is_written_so(mix: Path) -> None:
    lane = "gain_db = [[0.0, -6.0], [0.5, -3.0], [1.0, -4.0]]"
    base = _edit(mix, lane, 'gain_db = [["1:1", -6.0], ["1:2", -3.0], ["2:1", -4.0]]', "a.toml")
    other = _edit(
        base,
        'gain_db = [["1:1", -6.0], ["1:2", -3.0], ["2:1", -4.0]]',
        'gain_db = [["1:1", -6.0], ["1:3", -3.0, "fast_end"], ["3:1", -9.0]]',
        "b.toml",
    )
    result = runner.invoke(app, ["diff", str(base), str(other)])
    assert result.exit_code == 1, result.output
    assert result.output.strip() == (
        "Lead Vocal: gain_db lane: point moved from 1:2 to 1:3, shape linear -> fast_end; "
        "point at 2:1 removed; new point at 3:1 -9.0 dB"
    )
    # The same times written in seconds (at 120 BPM, 4/4: 1:2 is 0.5 s) are no change.
    same = _edit(base, '["1:2", -3.0]', "[0.5, -3.0]", "c.toml")
    result = runner.invoke(app, ["diff", str(base), str(same)])
    assert result.exit_code == 0 and "no parameter changes" in result.output


# --- 3. exit codes, and the null test of the delivered files ---------------------------------


def test_diff_exit_codes(mix: Path, tmp_path: Path) -> None:
    assert runner.invoke(app, ["diff", str(mix), str(mix)]).exit_code == 0
    moved = _edit(mix, "decay_s = 2.2", "decay_s = 2.6", "moved.toml")
    result = runner.invoke(app, ["diff", str(mix), str(moved)])
    assert result.exit_code == 1 and "Plate: reverb decay_s 2.2 -> 2.6" in result.output
    assert runner.invoke(app, ["diff", str(mix)]).exit_code == 2  # one version only
    assert runner.invoke(app, ["diff", str(mix), str(mix), "--stems"]).exit_code == 2
    missing = runner.invoke(app, ["diff", str(mix), str(tmp_path / "none.toml")])
    assert missing.exit_code == 2, missing.output


def test_diff_exits_1_when_only_the_audio_differs(mix: Path, tmp_path: Path) -> None:
    """The same text beside another source file: no parameter change, other audio."""
    other = tmp_path / "other"
    other.mkdir()
    (other / "mix.toml").write_text(mix.read_text())
    (other / "bass.wav").write_bytes((tmp_path / "bass.wav").read_bytes())
    sf.write(str(other / "vox.wav"), tone(1.5, freq=440.0, db=-12.0), 48000, subtype="PCM_24")
    text_only = runner.invoke(app, ["diff", str(mix), str(other / "mix.toml")])
    assert text_only.exit_code == 0 and "no parameter changes" in text_only.output
    result = runner.invoke(app, ["diff", str(mix), str(other / "mix.toml"), "--audio"])
    assert result.exit_code == 1, result.output
    assert "no parameter changes" in result.output and "A minus B peaks at" in result.output


def _figures(a: Path, b: Path) -> tuple[float, float]:
    """Peak and RMS of A minus B, in dBFS, read from the two files."""
    x, _ = sf.read(str(a), dtype="float64", always_2d=True)
    y, _ = sf.read(str(b), dtype="float64", always_2d=True)
    n = max(len(x), len(y))
    x = np.pad(x, ((0, n - len(x)), (0, 0)))
    y = np.pad(y, ((0, n - len(y)), (0, 0)))
    r = x - y
    return 20 * np.log10(np.max(np.abs(r))), 10 * np.log10(np.mean(r * r))


def test_diff_audio_is_the_null_test_of_the_files_render_delivers(
    mix: Path, tmp_path: Path
) -> None:
    _edit(mix, "bit_depth = 24", "bit_depth = 24\nloudness_lufs = -23.0")
    other = _edit(mix, "gain_db = -2.0", "gain_db = -1.0", "other.toml")
    files = []
    for version in (mix, other):
        out = tmp_path / f"{version.stem}.wav"
        result = runner.invoke(app, ["render", str(version), "-o", str(out), "--no-lock"])
        assert result.exit_code == 0, result.output
        assert "normalised by" in result.output
        files.append(out)
    peak, rms = _figures(*files)
    result = runner.invoke(app, ["diff", str(mix), str(other), "--audio"])
    assert result.exit_code == 1, result.output
    line = next(ln for ln in result.output.splitlines() if ln.startswith("audio: A minus B"))
    printed = re.findall(r"(-?\d+\.\d+) dBFS", line)
    assert float(printed[0]) == pytest.approx(peak, abs=0.006)
    assert float(printed[1]) == pytest.approx(rms, abs=0.006)
    # Both renders are normalised to one loudness, so the null test is not that of the
    # un-normalised masters: the Bass moved 1 dB, and the normalisation took most of it back.
    gains = re.findall(r"([-+]\d+\.\d+) dB \([AB]\)", result.output)
    assert len(gains) == 2 and gains[0] != gains[1]


def test_diff_stems_names_the_changed_and_the_identical_stems(mix: Path) -> None:
    other = _edit(mix, "decay_s = 2.2", "decay_s = 2.6", "other.toml")
    result = runner.invoke(app, ["diff", str(mix), str(other), "--audio", "--stems"])
    assert result.exit_code == 1, result.output
    stems = {m[1]: m[2] for m in re.finditer(r"^stem (.+?): (\w+)", result.output, re.MULTILINE)}
    assert stems == {"Lead Vocal": "identical", "Bass": "identical", "Plate": "changed"}
    assert re.search(r"stem Plate: changed \(A minus B peaks at -\d+\.\d\d dBFS\)", result.output)
    same = runner.invoke(app, ["diff", str(mix), str(mix), "--audio", "--stems"])
    assert same.exit_code == 0, same.output
    assert same.output.count("identical (every bit is equal)") == 4  # the master, 3 stems


# --- 5. the lock file ------------------------------------------------------------------------


def test_rendering_an_unchanged_mix_anywhere_leaves_the_lock_as_it_is(
    mix: Path, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    lock = lock_path(mix)
    stats = []
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    for out in (tmp_path / "one" / "out.wav", tmp_path / "two" / "x.flac", elsewhere / "o.wav"):
        result = runner.invoke(app, ["render", str(mix), "-o", str(out)])
        assert result.exit_code == 0, result.output
        stats.append((lock.read_bytes(), lock.stat().st_mtime_ns, lock.stat().st_ino))
    assert stats[0] == stats[1] == stats[2]
    text = stats[0][0].decode()
    assert "output" not in tomllib.loads(text)
    assert not any(name in text for name in ("out.wav", "x.flac", "o.wav", "one", "elsewhere"))


def test_a_one_value_change_changes_one_line_of_the_lock(mix: Path) -> None:
    assert runner.invoke(app, ["render", str(mix)]).exit_code == 0
    before = lock_path(mix).read_text().splitlines()
    _edit(mix, "decay_s = 2.2", "decay_s = 2.6")
    assert runner.invoke(app, ["render", str(mix)]).exit_code == 0
    after = lock_path(mix).read_text().splitlines()
    changed = [
        ln
        for ln in difflib.unified_diff(before, after, n=0, lineterm="")
        if ln[:1] in "+-" and not ln.startswith(("+++", "---"))
    ]
    hashes = [ln for ln in changed if ln[1:].startswith(("plan_sha256", "audio_sha256"))]
    rest = [ln for ln in changed if ln not in hashes]
    assert len(hashes) == 4, changed
    assert [ln[0] + ln[1:].strip() for ln in rest] == [
        '-[0, 2.2, "linear", 0.0]',
        '+[0, 2.6, "linear", 0.0]',
    ]
    plan = json.loads(tomllib.loads("\n".join(after))["plan"])
    assert plan["strips"][2]["inserts"][0]["decay_s"]["points"] == [[0, 2.6, "linear", 0.0]]


def test_no_lock_writes_no_lock(mix: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["render", str(mix), "--no-lock"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "mix.wav").exists() and not lock_path(mix).exists()
    args = ["batch", str(mix), "-o", str(tmp_path / "out"), "--no-lock", "--workers", "1"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "mix.wav").exists() and not lock_path(mix).exists()
    mixrender.load(mix).render(tmp_path / "api.wav", lock=False)
    assert not lock_path(mix).exists()
    mixrender.load(mix).render(tmp_path / "api.wav")
    assert lock_path(mix).exists()


def _old_layout(mix: Path, tmp_path: Path) -> None:
    """Re-writes the lock as the earlier writer did: an output path, the plan on one line."""
    lock = tomllib.loads(lock_path(mix).read_text())
    compact = json.dumps(json.loads(lock["plan"]), sort_keys=True, separators=(",", ":"))
    head = [
        "# mixrender lock: what mix.toml was rendered from.",
        f'mixrender_version = "{lock["mixrender_version"]}"',
        f'format = "{lock["format"]}"',
        f'output = "{os.path.relpath(tmp_path / "x" / "out.wav", mix.parent)}"',
        f"frames = {lock['frames']}",
        f"sample_rate = {lock['sample_rate']}",
        f"bit_depth = {lock['bit_depth']}",
        f'plan_sha256 = "{lock["plan_sha256"]}"',
        f'audio_sha256 = "{lock["audio_sha256"]}"',
        f"plan = {json.dumps(compact)}",
    ]
    for s in lock["source"]:
        head += ["", "[[source]]"] + [f"{k} = {json.dumps(v)}" for k, v in s.items()]
    lock_path(mix).write_text("\n".join(head) + "\n")


def test_a_lock_of_the_earlier_layout_still_verifies(mix: Path, tmp_path: Path) -> None:
    mixrender.load(mix).render(tmp_path / "out.wav")
    _old_layout(mix, tmp_path)
    assert "output = " in lock_path(mix).read_text()
    result = runner.invoke(app, ["verify", str(mix)])
    assert result.exit_code == 0, result.output
    assert "identical" in result.output
    _edit(mix, "gain_db = -2.0", "gain_db = -1.5")
    result = runner.invoke(app, ["verify", str(mix)])
    assert result.exit_code == 1
    assert result.output.strip() == "differs: Bass: gain_db -2.0 -> -1.5"
    # A lock whose plan this version cannot read gets the message to re-lock.
    text = lock_path(mix).read_text()
    lock_path(mix).write_text(re.sub(r"^plan = .*$", 'plan = "[broken"', text, flags=re.M))
    result = runner.invoke(app, ["verify", str(mix)])
    assert result.exit_code == 1 and "re-lock with `mixrender render" in result.output
    # Rendering re-writes it in the new layout.
    mixrender.load(mix).render(tmp_path / "out.wav")
    assert "output = " not in lock_path(mix).read_text()


def test_verify_names_a_changed_reverb_decay_and_fader_in_mix_terms(mix: Path) -> None:
    mixrender.load(mix).render(None)  # no file: no lock either
    assert not lock_path(mix).exists()
    runner.invoke(app, ["render", str(mix)])
    _edit(mix, "decay_s = 2.2", "decay_s = 2.6")
    _edit(mix, "gain_db = -2.0", "gain_db = -2.5")
    _edit(mix, "[1.0, -4.0]]", "[1.0, -4.5]]")
    result = runner.invoke(app, ["verify", str(mix)])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "differs: Bass: gain_db -2.0 -> -2.5",
        "differs: Lead Vocal: gain_db lane: point at 0:01.0 -4.0 -> -4.5 dB",
        "differs: Plate: reverb decay_s 2.2 -> 2.6",
    ]


def test_a_name_with_apostrophes_keeps_the_lock_valid_toml(mix: Path) -> None:
    _edit(mix, 'name = "Bass"', "name = \"Rock 'n' Roll '''\"")
    mixrender.load(mix).render(mix.with_name("out.wav"))
    plan = json.loads(tomllib.loads(lock_path(mix).read_text())["plan"])
    assert plan["strips"][1]["name"] == "Rock 'n' Roll '''"
    result = runner.invoke(app, ["verify", str(mix)])
    assert result.exit_code == 0, result.output


def test_diff_names_each_send_and_insert_added_or_removed() -> None:
    from dataclasses import replace

    from mixrender.diff import describe
    from mixrender.mixfile import load_mixfile

    demo = load_mixfile(Path(__file__).parent.parent / "mixes" / "demo" / "demo.toml")
    vox = demo.strip("Lead Vox")
    eq, *rest = vox.inserts
    cut = replace(vox, sends=vox.sends[:1], inserts=(*rest, replace(eq, bypass=True)))
    other = replace(demo, tracks=tuple(cut if t.name == vox.name else t for t in demo.tracks))
    assert describe(demo, other) == [
        "removed send Lead Vox -> Slap",
        "Lead Vox: eq bypass off -> on",
    ]
    gone = replace(cut, inserts=tuple(rest))
    fewer = replace(demo, tracks=tuple(gone if t.name == vox.name else t for t in demo.tracks))
    assert describe(demo, fewer) == [
        "removed send Lead Vox -> Slap",
        "Lead Vox: removed insert eq (eq)",
    ]
    assert describe(fewer, demo) == [
        "new send Lead Vox -> Slap",
        "Lead Vox: new insert eq (eq)",
    ]
