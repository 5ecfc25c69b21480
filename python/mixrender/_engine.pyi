"""Type stubs of the Rust extension `mixrender._engine` (kept by hand, checked by stubtest)."""

import os
from collections.abc import Sequence
from typing import Any, final

import numpy as np
import numpy.typing as npt

__all__ = ["PLAN_VERSION", "Meter", "Renderer", "__version__", "probe_wav"]

PLAN_VERSION: int
__version__: str

def probe_wav(path: str | os.PathLike[str]) -> tuple[int, int, int, str] | None:
    """`(frames, channels, sample_rate, subtype)` of a WAV file the engine reads itself,
    None for any other file (soundfile reads it, or explains why not). ValueError (the reason,
    one line) for such a WAV file that is cut short (its data chunk runs past the end of the
    file) or whose sample rate is outside 8000..384000 Hz."""

@final
class Renderer:
    """One render's engine, driven block by block.

    Every method that runs the engine releases the GIL and raises, for what the engine
    refuses: `mixrender.errors.MixError` for the plan, `SourceError` for a source that
    fails during the render (cut short, unreadable, holding NaN or infinity, another channel
    count than planned) or an impulse response the engine refuses (built with
    `SourceError.from_engine`), `RenderError` for the rest
    (misuse, thread pool, output file). A Ctrl-C during a call is raised as
    `KeyboardInterrupt` when the call returns."""

    def __new__(
        cls,
        plan: bytes,
        max_block: int,
        threads: int,
        irs: Sequence[tuple[npt.NDArray[np.floating[Any]], int]] | None = None,
        stems: bool = False,
        ir_paths: Sequence[str] | None = None,
    ) -> Renderer:
        """`irs`: the impulse responses the plan's convolution inserts index, each
        `(array, sample_rate)` with a C-contiguous (frames,) or (frames, channels) float32 or
        float64 array; copied into the engine, which resamples any at another rate; one it
        refuses (not 1 or 2 channels of finite samples) is a `SourceError` naming its file
        from `ir_paths`. `stems`: whether `write_stem` will be called."""
    @property
    def frames(self) -> int: ...
    @property
    def position(self) -> int: ...
    def wanted(self, n: int) -> list[int]: ...
    def open_file(
        self,
        track: int,
        path: str | os.PathLike[str],
        frames: int,
        channels: int,
        sample_rate: int,
        digest: bool = True,
    ) -> bool: ...
    def name_sources(self, labels: list[tuple[str, str]]) -> None: ...
    def source_digests(self) -> list[str | None]: ...
    def open_output(
        self, path: str | os.PathLike[str], sample_rate: int, bit_depth: int
    ) -> None: ...
    def close_output(self) -> str | None: ...
    def process(self, inputs: list[npt.NDArray[np.floating[Any]] | None], n: int) -> None: ...
    def write(self, out: npt.NDArray[Any]) -> None: ...
    def stem_names(self) -> list[str]: ...
    def write_stem(self, k: int, out: npt.NDArray[Any]) -> None: ...
    def stats(self) -> tuple[tuple[float, float], tuple[int, int]]: ...
    def enable_meter(self, sample_rate: int, clipped: bool, octave_bands: bool = True) -> None: ...
    def meter_report(self) -> dict[str, Any] | None: ...
    def enable_levels(self) -> None: ...
    def levels(
        self,
    ) -> list[tuple[str, list[tuple[float | None, float | None, float, float | None]]]]: ...

@final
class Meter:
    """Streaming BS.1770-4 / EBU R 128 loudness, Annex 2 true peak and levels of a signal.

    `channels`: 1, 2, 5 (L, R, C, Ls, Rs) or 6 (L, R, C, LFE, Ls, Rs); else ValueError.
    """

    def __new__(cls, sample_rate: int, channels: int) -> Meter: ...
    @property
    def sample_rate(self) -> int: ...
    @property
    def channels(self) -> int: ...
    def process(self, block: npt.NDArray[np.floating[Any]]) -> None:
        """Feeds a C-contiguous (frames, channels) float32/float64 block (read in place)."""
    def report(self) -> dict[str, Any]:
        """A new dict: frames, sample_rate, channels, sample_peak_dbfs, true_peak_dbtp,
        integrated_lufs, loudness_range_lu, momentary_lufs, short_term_lufs,
        max_momentary_lufs, max_short_term_lufs, rms_dbfs, crest_db, correlation,
        dc_offset, octave_bands_db ({"31.5": dB, ..., "16000": dB}); None if undefined."""
