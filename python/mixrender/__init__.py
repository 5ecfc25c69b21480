"""mixrender: a TOML mix file in, a bit-identical stereo render out.

import mixrender
mix = mixrender.load("song.toml")
report = mix.render("song.wav")        # writes the file, returns a RenderReport
audio = mix.render()                   # or: the master as a (frames, 2) float32 array
"""

from __future__ import annotations

from ._version import __version__
from .batch import JobResult, batch
from .compare import Comparison, compare
from .errors import (
    MixError,
    MixFileError,
    MixrenderError,
    RenderError,
    RoutingError,
    SourceError,
    UnsupportedError,
)
from .mix import Mix, load
from .render import RenderReport
from .report import Report, report
from .translate import Translation, translate

__all__ = [
    "Comparison",
    "JobResult",
    "Mix",
    "MixError",
    "MixFileError",
    "MixrenderError",
    "RenderError",
    "RenderReport",
    "Report",
    "RoutingError",
    "SourceError",
    "Translation",
    "UnsupportedError",
    "__version__",
    "batch",
    "compare",
    "load",
    "report",
    "translate",
]
