"""mixrender: a TOML mix file in, a bit-identical stereo render out.

import mixrender
mix = mixrender.load("song.toml")
report = mix.render("song.wav")        # writes the file, returns a RenderReport
audio = mix.render()                   # or: the master as a (frames, 2) float32 array
"""

from __future__ import annotations

from ._version import __version__
from .batch import JobResult, batch
from .errors import (
    MixError,
    MixFileError,
    RenderError,
    RoutingError,
    SourceError,
    UnsupportedError,
)
from .mix import Mix, load
from .render import RenderReport

__all__ = [
    "JobResult",
    "Mix",
    "MixError",
    "MixFileError",
    "RenderError",
    "RenderReport",
    "RoutingError",
    "SourceError",
    "UnsupportedError",
    "__version__",
    "batch",
    "load",
]
