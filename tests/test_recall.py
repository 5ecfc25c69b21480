"""Recall and revisions: lock files, verify, diff with a null test, stems, the schema."""

from __future__ import annotations

import json
import subprocess
import tomllib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

import mixrender
from conftest import REPO, MixWriter, noise, tone
from mixrender.cli import app

runner = CliRunner()

MIX = """
format = "mixrender/1"
[session]
sample_rate = 48000
tail_s = 0.1
[render]
bit_depth = 24

[[track]]
name = "Lead Vox"
source = "vox.wav"
gain_db = -4.0
sends = [{ to = "Plate", level_db = -14.0 }]

[[track]]
name = "Bass"
source = "bass.wav"
pan = -0.2

[[bus]]
name = "Plate"
  [[bus.insert]]
  type = "gain"
  gain_db = -3.0
"""


@pytest.fixture
def mix(write_mix: MixWriter) -> Path:
    return write_mix(
        MIX,
        vox__wav=(tone(1.0, freq=330.0, db=-10.0), 48000, "PCM_24"),
        bass__wav=(noise(1.0, channels=2, seed=3), 48000, "PCM_24"),
    )


def test_render_writes_a_lock_and_verify_passes(mix: Path, tmp_path: Path) -> None:
    report = mixrender.load(mix).render(tmp_path / "out.wav")
    lock = tomllib.loads((tmp_path / "mix.lock").read_text())
    assert lock["audio_sha256"] == report.audio_sha256
    assert lock["format"] == "mixrender/1" and lock["mixrender_version"] == mixrender.__version__
    sources = {s["path"]: s for s in lock["source"]}
    assert set(sources) == {"vox.wav", "bass.wav"}
    assert sources["bass.wav"]["channels"] == 2 and sources["bass.wav"]["frames"] == 48000
    assert json.loads(lock["plan"])["version"] == 1
    result = runner.invoke(app, ["verify", str(mix)])
    assert result.exit_code == 0, result.output
    assert "identical" in result.output


def test_verify_names_a_changed_source(mix: Path, tmp_path: Path) -> None:
    mixrender.load(mix).render(tmp_path / "out.wav")
    data = bytearray((tmp_path / "vox.wav").read_bytes())
    data[-10] ^= 0x01  # one bit of one sample
    (tmp_path / "vox.wav").write_bytes(bytes(data))
    result = runner.invoke(app, ["verify", str(mix)])
    assert result.exit_code == 1
    assert "vox.wav" in result.output and "Lead Vox" in result.output
    assert "bass.wav" not in result.output


def test_verify_names_a_changed_key(mix: Path, tmp_path: Path) -> None:
    mixrender.load(mix).render(tmp_path / "out.wav")
    mix.write_text(mix.read_text().replace("gain_db = -4.0", "gain_db = -3.0"))
    result = runner.invoke(app, ["verify", str(mix)])
    assert result.exit_code == 1
    assert "Lead Vox: gain_db -4.0 -> -3.0" in result.output
    assert "source" not in result.output


def test_verify_without_a_lock_says_to_render_first(mix: Path) -> None:
    result = runner.invoke(app, ["verify", str(mix)])
    assert result.exit_code == 1 and "render the mix first" in result.output


def test_diff_in_words_and_the_null_test_of_a_fader_move(mix: Path, tmp_path: Path) -> None:
    moved = tmp_path / "moved.toml"
    moved.write_text(mix.read_text().replace("pan = -0.2", "pan = -0.2\ngain_db = 1.0"))
    result = runner.invoke(app, ["diff", str(mix), str(moved), "--audio", "--section-s", "0.5"])
    assert result.exit_code == 1, result.output  # the versions differ
    assert "Bass: gain_db 0.0 -> 1.0" in result.output
    # A +1 dB move leaves (10^(1/20) - 1) of the bass: 0.122 of it, -18.3 dB under the bass.
    bass = noise(1.0, channels=2, seed=3) * np.array([1.0, 0.8])  # the -0.2 balance
    bass_rms_db = 10 * np.log10(np.mean(bass**2))
    want_rms_db = bass_rms_db + 20 * np.log10(10 ** (1 / 20) - 1) + 10 * np.log10(1 / 1.1)
    line = next(ln for ln in result.output.splitlines() if ln.startswith("audio:"))
    rms_db = float(line.split("RMS ")[1].split(" dBFS")[0])
    assert rms_db == pytest.approx(want_rms_db, abs=0.2)
    sections = [ln for ln in result.output.splitlines() if " LU (" in ln]
    assert len(sections) == 2  # 1.1 s in 0.5 s sections: the last is too short to measure
    assert "not measurable" in result.output
    assert all("+" in ln for ln in sections[:2])


def test_a_mix_against_itself_is_identical(mix: Path) -> None:
    result = runner.invoke(app, ["diff", str(mix), str(mix), "--audio"])
    assert result.exit_code == 0, result.output
    assert "no parameter changes" in result.output and "identical" in result.output


def test_diff_of_git_revisions(mix: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    git("-c", "user.email=t@t", "-c", "user.name=t", "add", "mix.toml")
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "one")
    mix.write_text(
        mix.read_text()
        .replace("level_db = -14.0", "level_db = -10.0")
        .replace("pan = -0.2", 'pan = -0.2\nsends = [{ to = "Plate", level_db = -20.0 }]')
    )
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qam", "two")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["diff", "HEAD~1:mix.toml", "HEAD:mix.toml"])
    assert result.exit_code == 1, result.output  # the versions differ
    assert "Lead Vox: send to Plate level_db -14.0 -> -10.0" in result.output
    assert "new send Bass -> Plate" in result.output
    bad = runner.invoke(app, ["diff", "HEAD~9:mix.toml", "mix.toml"])
    assert bad.exit_code == 2 and "git" in bad.output  # trouble, as diff(1) says it


def test_stems_sum_to_the_master_input_on_the_demo_mix(tmp_path: Path) -> None:
    demo = REPO / "mixes" / "demo"
    text = (demo / "demo.toml").read_text()
    text = text.replace('source = "stems/', f'source = "{demo}/stems/')
    text = text.replace("bit_depth = 24", "bit_depth = 32")
    master = text.index("[master]")
    text = text[:master] + "[master]\ngain_db = 0.0\n"  # the output is then the master input
    mix = tmp_path / "demo.toml"
    mix.write_text(text)
    report = mixrender.load(mix).render(tmp_path / "mix.wav", stems=tmp_path / "stems")
    names = {"Band", "Rhythm", "Space", "Slap"}
    assert set(report.stems or {}) == names
    total = None
    for name in names:
        stem, _ = sf.read(str(tmp_path / "stems" / f"{name}.wav"), dtype="float64")
        total = stem if total is None else total + stem
    out, _ = sf.read(str(tmp_path / "mix.wav"), dtype="float64")
    assert total is not None and total.shape == out.shape
    assert np.max(np.abs(out)) < 1.0  # nothing clipped, so the output is the master input
    assert np.max(np.abs(total - out)) <= 1e-6


def test_stems_with_clashing_file_names_are_refused(mix: Path, tmp_path: Path) -> None:
    clash = tmp_path / "clash.toml"
    clash.write_text(mix.read_text().replace('name = "Bass"', 'name = "plate"'))
    with pytest.raises(mixrender.MixError, match="both be written"):
        mixrender.load(clash).render(tmp_path / "o.wav", stems=tmp_path / "st")
    assert not (tmp_path / "o.wav").exists()


def test_the_schema_accepts_every_mix_and_refuses_broken_ones(mix: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    generated = json.loads(result.output)
    assert generated["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    validator = jsonschema.Draft202012Validator(generated)
    from test_determinism import BUSY

    good = [tomllib.loads(p.read_text()) for p in (REPO / "mixes").rglob("*.toml")]
    good += [tomllib.loads(MIX), tomllib.loads(BUSY)]
    assert len(good) >= 3
    for doc in good:
        assert list(validator.iter_errors(doc)) == []
    base = tomllib.loads(MIX)
    broken = [
        {**base, "format": 1},
        {**base, "session": {"sample_rate": "48k"}},
        {**base, "track": [{**base["track"][0], "gian_db": 1.0}]},
        {**base, "track": [{**base["track"][0], "pan": 3.0}]},
        {**base, "bus": [{"name": "Plate", "insert": [{"type": "compresor"}]}]},
        {k: v for k, v in base.items() if k != "session"},
    ]
    for doc in broken:
        assert not validator.is_valid(doc), doc


def test_the_demo_mix_recalls_exactly_from_its_committed_lock() -> None:
    result = runner.invoke(app, ["verify", str(REPO / "mixes" / "demo" / "demo.toml")])
    assert result.exit_code == 0, result.output
    assert "identical" in result.output


# Latency everywhere: a lookahead limiter on the track "Kick", oversampled saturation on the
# bus "Group", a delay line's bus "Echo" fed by a send, and the master's inserts (a lookahead
# limiter, optionally after an oversampled saturation). Clicks on known frames mark time.
STEMS_MIX = """
format = "mixrender/1"
[session]
sample_rate = 48000
tail_s = 0.05
[render]
bit_depth = 32

[[track]]
name = "Kick"
source = "kick.wav"
pan = -0.4
  [[track.insert]]
  type = "limiter"
  lookahead_ms = 2.0
  ceiling_db = -1.0

[[track]]
name = "Snare"
source = "snare.wav"
output = "Group"

[[track]]
name = "Pad"
source = "pad.wav"
offset_s = 0.3
output = "Group"
sends = [{{ to = "Echo", level_db = -12.0 }}]

[[bus]]
name = "Group"
gain_db = -2.0
  [[bus.insert]]
  type = "saturation"
  drive_db = 3.0
  oversample = 4

[[bus]]
name = "Echo"
pan = 0.5
  [[bus.insert]]
  type = "delay"
  time_ms = 30.0
  feedback = 0.2

[master]
gain_db = -1.0
{master_inserts}
"""

MASTER_LIMITER = """
  [[master.insert]]
  type = "limiter"
  lookahead_ms = {lookahead}
  ceiling_db = -0.5
"""

MASTER_SATURATION = """
  [[master.insert]]
  type = "saturation"
  drive_db = 2.0
  oversample = 8
"""

KICK_AT, SNARE_AT, PAD_FROM = 4000, 6000, 14400


def stems_sources() -> dict[str, tuple[object, ...]]:
    kick = np.zeros(24000)
    kick[KICK_AT] = 0.5
    snare = np.zeros((20000, 2))
    snare[SNARE_AT] = [0.4, -0.3]
    pad = noise(0.2, channels=2, seed=11) * 0.5
    return {
        "kick__wav": (kick, 48000, "DOUBLE"),
        "snare__wav": (snare, 48000, "DOUBLE"),
        "pad__wav": (pad, 48000, "DOUBLE"),
    }


@pytest.mark.parametrize(
    ("lookahead", "saturation"), [(5.0, False), (1.5, True), (None, True), (None, False)]
)
@pytest.mark.parametrize(("block", "threads"), [(None, 1), (1000, 2), (4096, 2), (777, 1)])
def test_stems_line_up_with_the_sources_and_sum_to_the_master_input(
    write_mix: MixWriter,
    tmp_path: Path,
    lookahead: float | None,
    saturation: bool,
    block: int | None,
    threads: int,
) -> None:
    inserts = (MASTER_SATURATION if saturation else "") + (
        MASTER_LIMITER.format(lookahead=lookahead) if lookahead is not None else ""
    )
    mix = write_mix(STEMS_MIX.format(master_inserts=inserts), **stems_sources())
    folder = tmp_path / "stems"
    out = mixrender.load(mix).render(
        dtype="float64", stems=folder, block_size=block, threads=threads
    )
    stems = {}
    for name in ("Kick", "Group", "Echo"):
        stems[name], rate = sf.read(str(folder / f"{name}.wav"), dtype="float64")
        assert rate == 48000 and stems[name].shape == out.shape, name
    assert sorted(p.name for p in folder.iterdir()) == ["Echo.wav", "Group.wav", "Kick.wav"]
    # Each click where its source has it: in its stem, and in the master.
    assert int(np.argmax(np.abs(stems["Kick"][:, 0]))) == KICK_AT
    assert int(np.argmax(np.abs(stems["Group"][:PAD_FROM, 0]))) == SNARE_AT
    assert int(np.argmax(np.abs(out[:5000, 0]))) == KICK_AT
    # The echo of the pad: its first sample 30 ms after the pad's.
    assert int(np.flatnonzero(np.abs(stems["Echo"][:, 1]) > 0.0)[0]) == PAD_FROM + 1440
    # The master's input: the same mix without the master's inserts, at 0 dB.
    bare = STEMS_MIX.format(master_inserts="").replace("gain_db = -1.0\n", "gain_db = 0.0\n")
    master_in = mixrender.load(write_mix(bare, name="bare.toml")).render(dtype="float64")
    assert np.max(np.abs(master_in)) < 1.0  # not clipped
    total = (stems["Kick"] + stems["Group"]) + stems["Echo"]
    # Each stem is float32: within half an ulp of its float64 sample, which is below 1.
    assert np.max(np.abs(total - master_in)) <= 3 * 2.0**-25 + 1e-12
    assert np.max(np.abs(total)) > 0.3
