"""The engine's errors reach Python as one class each: MixError for the plan, SourceError
for a source, RenderError for the rest, all MixrenderErrors and (for existing handlers)
MixErrors."""

from __future__ import annotations

import inspect
import pickle
from pathlib import Path

import numpy as np
import pytest

import mixrender
from conftest import MixWriter
from mixrender import _engine, errors
from mixrender.render import BlockRender

MIX = """
format = "mixrender/1"
[session]
sample_rate = 48000
end = 0.1

[[track]]
name = "A"
source = "a.wav"

[[bus]]
name = "Bus"
"""


def test_every_error_class_is_a_mixrender_error_and_a_mix_error() -> None:
    classes = [
        c
        for _, c in inspect.getmembers(errors, inspect.isclass)
        if issubclass(c, Exception) and c.__module__ == errors.__name__
    ]
    assert {c.__name__ for c in classes} >= {
        "MixrenderError",
        "MixError",
        "MixFileError",
        "SourceError",
        "RenderError",
    }
    for c in classes:
        assert issubclass(c, mixrender.MixrenderError), c
        if c is not errors.MixrenderError:
            assert issubclass(c, mixrender.MixError), c  # `except MixError` still catches all
    assert not issubclass(errors.RenderError, errors.MixFileError)
    assert not issubclass(errors.SourceError, errors.RenderError)


@pytest.fixture
def plan(write_mix: MixWriter) -> bytes:
    mix = write_mix(MIX, a__wav=(np.full(4800, 0.25), 48000))
    return BlockRender(mixrender.load(mix).file, block_size=64).plan


def test_a_plan_the_engine_refuses_is_a_mix_error(plan: bytes) -> None:
    with pytest.raises(mixrender.MixError) as e:
        _engine.Renderer(plan.replace(b'"version":', b'"version":9', 1), 64, 1)
    assert type(e.value) is errors.MixError, type(e.value)
    assert "invalid render plan" in str(e.value)


def test_misusing_the_renderer_is_a_render_error(plan: bytes, tmp_path: Path) -> None:
    r = _engine.Renderer(plan, 64, 1)
    with pytest.raises(errors.RenderError, match="2 source blocks for 1 tracks"):
        r.process([None, None], 64)
    with pytest.raises(errors.RenderError, match="stems were not asked for"):
        r.write_stem(0, np.zeros((0, 2), dtype=np.float32))
    with pytest.raises(errors.RenderError, match="no track 3 \\(the plan has 1\\)"):
        r.open_file(3, tmp_path / "a.wav", 4800, 1, 48000)
    with pytest.raises(errors.RenderError, match="no WAV output of 20 bits"):
        r.open_output(tmp_path / "out.wav", 48000, 20)
    assert not (tmp_path / "out.wav").exists()


def test_a_source_block_cut_short_is_a_source_error_naming_the_track(plan: bytes) -> None:
    r = _engine.Renderer(plan, 64, 1)
    (wanted,) = r.wanted(64)
    assert wanted > 1
    short = np.zeros((wanted - 1, 1), dtype=np.float32)
    with pytest.raises(errors.SourceError) as e:
        r.process([short], 64)
    assert isinstance(e.value, errors.MixFileError) and not isinstance(e.value, errors.RenderError)
    assert e.value.path == 'track "A"' and e.value.file is None
    assert str(e.value) == (
        f'track "A": expected {wanted} source samples in this block, got {wanted - 1}'
    )
    # The engine stopped before the block: the right one still renders.
    r.process([np.zeros((wanted, 1), dtype=np.float32)], 64)
    assert r.position == 64


CONVOLUTION = (
    MIX
    + """
  [[bus.insert]]
  type = "convolution"
  ir = "ir.wav"
"""
)


def test_an_impulse_response_the_engine_refuses_is_a_source_error_naming_its_file(
    write_mix: MixWriter,
) -> None:
    mix = write_mix(
        CONVOLUTION, a__wav=(np.full(4800, 0.25), 48000), ir__wav=(np.linspace(1, 0, 64), 48000)
    )
    plan = BlockRender(mixrender.load(mix).file, block_size=64).plan
    nan = np.array([0.5, 0.25, np.nan, 0.0])  # frame 2 of a mono response
    three = np.zeros((4, 3))
    cases = [(nan, "sample 1 of frame 2 is not finite"), (three, "3 channels (1 or 2 allowed)")]
    for ir, reason in cases:
        with pytest.raises(errors.SourceError) as e:
            _engine.Renderer(plan, 64, 1, irs=[(ir, 48000)], ir_paths=["irs/hall.wav"])
        assert str(e.value) == f"impulse response irs/hall.wav: {reason}"
        assert (e.value.path, e.value.source) == ("impulse response 0", Path("irs/hall.wav"))
        assert not isinstance(e.value, errors.RenderError)
        # Without its file, the response is named by its place in `irs`.
        with pytest.raises(errors.SourceError) as e:
            _engine.Renderer(plan, 64, 1, irs=[(ir, 48000)])
        assert str(e.value) == f"impulse response 0: {reason}"
    # Fewer responses than the plan indexes: the caller's misuse, not a source's.
    with pytest.raises(errors.RenderError) as r:
        _engine.Renderer(plan, 64, 1, irs=[])
    assert str(r.value) == 'convolution "convolution": impulse response 0 was not given (0 given)'
    assert not isinstance(r.value, errors.SourceError)
    with pytest.raises(ValueError, match="not 3-D"):
        _engine.Renderer(plan, 64, 1, irs=[(np.zeros((4, 1, 1)), 48000)])


def test_source_errors_cross_a_process_boundary_whole(tmp_path: Path) -> None:
    engine = errors.SourceError.from_engine('track "A": reading a.wav failed', 'track "A"', "a.wav")
    checked = errors.SourceError(tmp_path / "m.toml", 3, 'track "A" > source', "a.wav", "gone")
    for e in (engine, checked):
        back = pickle.loads(pickle.dumps(e))
        assert type(back) is errors.SourceError and str(back) == str(e)
        assert (back.file, back.line, back.path, back.source) == (e.file, e.line, e.path, e.source)
