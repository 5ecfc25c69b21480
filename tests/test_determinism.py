"""The product's promise: the same mix and sources give the same bytes, whatever the block
size, the thread count or the process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import mixrender
from conftest import REPO, MixWriter, noise, tone

BUSY = """
format = "mixrender/1"
[session]
sample_rate = 48000
tempo_bpm = 100.0
end = "auto"
tail_s = 0.1
[render]
bit_depth = 24
seed = 3

[[track]]
name = "Vox"
source = "vox.wav"
offset_s = 0.0123
output = "Vocals"
sends = [{ to = "Verb", level_db = -12.0, pan = 0.3 },
         { to = "Slap", level_db = -6.0, tap = "pre_inserts" }]
  [[track.insert]]
  type = "gain"
  gain_db = -1.0
  polarity = true
  [track.automation]
  gain_db = [[0.0, -3.0], ["1:2", 0.0, "smooth"], [0.9, -6.0, "bezier", 0.4], [1.2, 0.0]]
  pan = { points = [[0.0, -0.6], [1.5, 0.6]], curve = "fast_end" }
  mute = [[0.0, 0], [0.7, 1], [0.75, 0]]
  "sends.Verb.level_db" = [[0.0, -30.0], [1.0, -6.0]]
  gain.gain_db = [[0.0, 0.0], [1.5, -3.0]]

[[track]]
name = "Keys"
source = "keys.wav"
pan = 0.2
width = 1.5
pan_law = "-4.5dB"
output = "Vocals"
  [track.automation]
  width = [[0.0, 0.2], [1.5, 1.8]]

[[track]]
name = "Old take"
source = "old.wav"
clip_gain_db = -3.0
sends = [{ to = "Verb", level_db = -10.0, tap = "pre_fader" }]

[[bus]]
name = "Vocals"
output = "Verb"
gain_db = -1.0
  [[bus.insert]]
  type = "width"
  width = 0.7

[[bus]]
name = "Verb"
pan = -0.1

[[bus]]
name = "Slap"
  [bus.automation]
  pan = [[0.0, 1.0], [1.0, -1.0]]

[[vca]]
name = "All"
gain_db = -1.0
members = ["Vox", "Keys"]
  [vca.automation]
  gain_db = [[0.5, -1.0], [0.5, -4.0], [1.0, 0.0]]

[master]
gain_db = -0.5
  [master.automation]
  gain_db = [[1.0, -0.5], [1.6, -12.0]]
"""


@pytest.fixture
def busy(write_mix: MixWriter) -> Path:
    return write_mix(
        BUSY,
        vox__wav=(tone(1.5, freq=220.0, db=-6.0), 48000, "PCM_24"),
        keys__wav=(noise(1.4, channels=2, seed=2), 48000, "FLOAT"),
        old__wav=(tone(1.2, rate=44100, freq=330.0, db=-9.0, channels=2), 44100, "PCM_16"),
    )


def test_block_sizes_and_threads_give_byte_identical_files(busy: Path, tmp_path: Path) -> None:
    mix = mixrender.load(busy)
    hashes = {}
    files = {}
    for block in (64, 1000, 4096, 65536):
        for threads in (1, 2):
            out = tmp_path / f"out_{block}_{threads}.wav"
            hashes[(block, threads)] = mix.render(
                out, block_size=block, threads=threads
            ).audio_sha256
            files[(block, threads)] = out.read_bytes()
    assert len(set(hashes.values())) == 1, hashes
    assert len(set(files.values())) == 1
    assert len(files[(64, 1)]) > 48000 * 6


def test_two_processes_with_different_hash_seeds_write_the_same_bytes(
    busy: Path, tmp_path: Path
) -> None:
    outputs = []
    for seed in ("0", "12345"):
        out = tmp_path / f"proc_{seed}.wav"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        run = subprocess.run(
            [sys.executable, "-m", "mixrender", "render", str(busy), "-o", str(out)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert run.returncode == 0, run.stderr
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]


def test_the_plan_is_canonical_bytes(busy: Path) -> None:
    assert mixrender.load(busy).plan() == mixrender.load(busy).plan()


def test_the_demo_mix_renders_the_same_bits_on_one_thread_and_two(tmp_path: Path) -> None:
    demo = mixrender.load(REPO / "mixes" / "demo" / "demo.toml")
    a = demo.render(tmp_path / "a.wav", block_size=1000, threads=1, lock=False)
    b = demo.render(tmp_path / "b.wav", block_size=4096, threads=2, lock=False)
    assert a.audio_sha256 == b.audio_sha256
    assert (tmp_path / "a.wav").read_bytes() == (tmp_path / "b.wav").read_bytes()
    assert a.clipped_samples == 0
    assert a.sample_peak_dbfs is not None and -12.0 < a.sample_peak_dbfs < -1.0


FADER_LANES = {
    "gain_db": "gain_db = [[0.0, 0.0], [1.0, 1.0]]",
    "trim_db": "trim_db = [[0.0, -2.0], [0.01, 1.0]]",
}


@pytest.mark.parametrize(
    ("lanes", "vca"),
    [
        (("gain_db",), True),
        (("gain_db", "trim_db"), False),
        (("trim_db",), True),
        (("gain_db", "trim_db"), True),
    ],
    ids=["gain+vca", "gain+trim", "trim+vca", "gain+trim+vca"],
)
def test_fader_lanes_with_a_vca_or_trim_give_the_same_bits_at_every_block_size(
    write_mix: MixWriter, lanes: tuple[str, ...], vca: bool
) -> None:
    # The fuzzer's minimised case: a slow fader ramp plus a VCA ramp that ends at frame 480.
    automation = ", ".join(FADER_LANES[k] for k in lanes)
    vca_text = (
        '[[vca]]\nname = "V"\nmembers = ["D"]\nautomation = {gain_db = [[0.0, 0.0], [0.01, 1.0]]}\n'
        if vca
        else ""
    )
    text = (
        'format = "mixrender/1"\n[session]\nsample_rate = 48000\n'
        f'[[track]]\nname = "D"\nsource = "mono.wav"\nautomation = {{{automation}}}\n'
        f"{vca_text}"
    )
    path = write_mix(text, mono__wav=(noise(1.2, seed=5), 48000))
    mix = mixrender.load(path)
    want = mix.render(dtype="float64", block_size=64, threads=1)
    assert want.shape[0] >= 48000 and float(abs(want).max()) > 0.1
    for block, threads in ((100, 1), (256, 1), (1000, 2), (4096, 1), (4096, 2)):
        got = mix.render(dtype="float64", block_size=block, threads=threads)
        diff = (got != want).any(axis=-1).nonzero()[0]
        assert diff.size == 0, f"block {block}, {threads} threads: differs from frame {diff[0]}"
