"""The batch report: the counts by status, the wall time and the rate, and every job's result."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._version import __version__
from .cache import _write_atomic
from .jobs import BatchError, JobResult


def summary(results: Sequence[JobResult], seconds: float) -> dict[str, Any]:
    """Counts by status, the wall time and the rate, as the report and the CLI show them."""
    counts = {s: sum(r.status == s for r in results) for s in ("rendered", "cached", "failed")}
    rate = 60.0 * len(results) / seconds if seconds > 0 else 0.0
    return {"jobs": len(results), **counts, "seconds": seconds, "jobs_per_minute": rate}


def write_report(
    path: str | os.PathLike[str], results: Sequence[JobResult], seconds: float
) -> None:
    """Writes the batch report: the summary and every job's result, as one JSON object."""
    doc = {
        "mixrender_version": __version__,
        "summary": summary(results, seconds),
        "jobs": [r.to_dict() for r in results],
    }
    try:
        _write_atomic(Path(path).absolute(), json.dumps(doc, indent=2) + "\n")
    except OSError as e:
        raise BatchError(f"{path}: cannot write the report ({e})") from None
