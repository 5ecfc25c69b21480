"""The fuzzing harness, short run: generated mixes and mangled audio files.

- Valid mixes (tracks, buses, sends, VCAs, every insert type, lanes, musical time) load, check
  and render to the same bits on 4096- and 256-frame blocks, on 1 and 2 threads.
- Broken mixes (mutations of valid ones) load, check and render, or give exactly one
  `MixError` whose message is one line: never another exception type, never a hang.
- Mangled audio files (WAV, AIFF, FLAC, W64, RF64, CAF, cut, bytes flipped, sizes, rates and
  channel counts changed; FIFOs, folders, devices) used as sources or impulse responses check
  and render in a forked child with a timeout and a memory limit, or fail with one line that
  names the file: never a traceback, crash, hang or huge allocation.

Deterministic (`derandomize=True`) and small; `bench/fuzz.py` is the long run. The generators
live in `tests/fuzzgen.py`.
"""

from __future__ import annotations

import io
import os
import resource
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import fuzzgen as g

T = TypeVar("T")
# Failures found by the long run and reported, not yet fixed, stay out of the short run.
g.OPEN_FINDINGS = False
REPO = Path(__file__).resolve().parent.parent


class HypoDraw:
    """A `fuzzgen.Draw` from hypothesis, so that a failing example shrinks."""

    def __init__(self, data: st.DataObject) -> None:
        self.data = data

    def integer(self, lo: int, hi: int) -> int:
        return self.data.draw(st.integers(lo, hi))

    def real(self, lo: float, hi: float) -> float:
        return self.data.draw(st.floats(lo, hi, allow_nan=False, allow_infinity=False))

    def choice(self, options: Sequence[T]) -> T:
        return self.data.draw(st.sampled_from(options))

    def chance(self, p: float) -> bool:
        return self.data.draw(st.integers(0, 999)) < round(p * 1000)


SHORT = settings(
    derandomize=True,
    # No shrinking: a hang costs a timeout per try, and bench/fuzz.py minimises what it finds.
    phases=[Phase.explicit, Phase.generate],
    report_multiple_bugs=False,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=False,
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny sources, written once; each case writes its mix (and files) beside them."""
    return g.make_sources(tmp_path_factory.mktemp("fuzz"))


@settings(SHORT, max_examples=20)
@given(data=st.data())
def test_valid_mixes_render_the_same_bits_on_every_block_size_and_thread_count(
    folder: Path, data: st.DataObject
) -> None:
    doc = g.valid_mix(HypoDraw(data))
    outcome, detail = g.with_alarm(60.0, lambda: g.run_valid(folder, doc))
    assert outcome == g.OK, f"{outcome}: {detail}\n{g.to_toml(doc)}"


@settings(SHORT, max_examples=120)
@given(data=st.data())
def test_broken_mixes_give_one_error_of_one_line(folder: Path, data: st.DataObject) -> None:
    d = HypoDraw(data)
    text = g.broken_mix(d, g.valid_mix(d))
    outcome, detail = g.with_alarm(30.0, lambda: g.run_broken(folder, text))
    assert outcome in (g.OK, g.ONE_LINE), f"{outcome}: {detail}\n{text}"


@settings(SHORT, max_examples=30)
@given(data=st.data())
def test_mangled_audio_checks_and_renders_or_fails_with_one_line_naming_it(
    folder: Path, data: st.DataObject
) -> None:
    d = HypoDraw(data)
    special = d.choice(g.SPECIAL_SOURCES) if d.chance(0.15) else None
    ext, original = g.audio_bytes(d)
    mangled = g.mangle(d, ext, original) if special is None else None
    name = f"damaged.{ext}"
    as_ir = d.chance(0.25)
    outcome, detail = g.run_audio(folder, name, mangled, special, as_ir=as_ir, timeout_s=10.0)
    assert outcome in (g.OK, g.ONE_LINE), f"{outcome}: {detail} ({special or ext})"


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (g.AUDIO_MEMORY, g.AUDIO_MEMORY))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


@pytest.mark.parametrize("command", ["check", "render"])
def test_the_command_line_prints_one_line_naming_a_mangled_source(
    folder: Path, command: str
) -> None:
    # A WAV file whose header says 0 channels: refused by the header probe.
    buf = io.BytesIO()
    sf.write(buf, np.zeros(100), 48000, format="WAV", subtype="PCM_16")
    wav = g.set_channels(buf.getvalue(), "wav", 0)
    assert wav != buf.getvalue()
    g.place_audio(folder, "zero_channels.wav", wav, None)
    mix = folder / "cli.toml"
    g.write_text(mix, g.audio_mix("zero_channels.wav", as_ir=False))
    env = {**os.environ, "PYTHONPATH": str(REPO / "python")}
    args = [sys.executable, "-m", "mixrender", command, str(mix)]
    if command == "render":
        args += ["-o", str(folder / "cli.wav")]
    done = subprocess.run(
        args, capture_output=True, text=True, timeout=60, env=env, preexec_fn=_limits
    )
    assert done.returncode == 1, (done.returncode, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ") and "zero_channels.wav" in lines[0], lines[0]
    assert "Traceback" not in done.stderr + done.stdout
