"""Type stubs of the Rust extension `mixrender._engine` (kept by hand, checked by stubtest)."""

from typing import Any, final

import numpy as np
import numpy.typing as npt

__all__ = ["PLAN_VERSION", "Renderer", "__version__"]

PLAN_VERSION: int
__version__: str

@final
class Renderer:
    """One render's engine, driven block by block."""

    def __new__(cls, plan: bytes, max_block: int, threads: int) -> Renderer: ...
    @property
    def frames(self) -> int: ...
    @property
    def position(self) -> int: ...
    def wanted(self, n: int) -> list[int]: ...
    def process(self, inputs: list[npt.NDArray[np.floating[Any]]], n: int) -> None: ...
    def write(self, out: npt.NDArray[Any]) -> None: ...
    def stats(self) -> tuple[tuple[float, float], tuple[int, int]]: ...
