"""Shared fixtures: small mixes written to a temporary folder, with synthetic sources."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import soundfile as sf

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"

MixWriter = Callable[..., Path]


def tone(
    seconds: float, rate: int = 48000, freq: float = 440.0, db: float = -12.0, channels: int = 1
) -> npt.NDArray[np.float64]:
    t = np.arange(round(seconds * rate)) / rate
    x = 10 ** (db / 20) * np.sin(2 * np.pi * freq * t)
    if channels == 2:
        return np.stack([x, 0.5 * np.sin(2 * np.pi * freq * 1.5 * t) * 10 ** (db / 20)], axis=1)
    return x


def noise(
    seconds: float, rate: int = 48000, channels: int = 1, seed: int = 0
) -> npt.NDArray[np.float64]:
    rng = np.random.default_rng(seed)
    x = 0.2 * rng.standard_normal((round(seconds * rate), channels))
    return np.clip(x, -0.9, 0.9)[:, 0] if channels == 1 else np.clip(x, -0.9, 0.9)


@pytest.fixture
def write_mix(tmp_path: Path) -> MixWriter:
    """`write_mix(toml_text, name="mix.toml", **sources)` writes the mix and each source
    given as `filename=(array, rate)` or `filename=(array, rate, subtype)` into tmp_path."""

    def write(text: str, name: str = "mix.toml", **sources: tuple[Any, ...]) -> Path:
        for filename, spec in sources.items():
            array, rate, *rest = spec
            subtype = rest[0] if rest else "FLOAT"
            fname = filename.replace("__", ".")
            sf.write(str(tmp_path / fname), array, int(rate), subtype=str(subtype))
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip())
        return path

    return write
