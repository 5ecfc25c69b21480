"""The content-addressed cache: a render's key is the SHA-256 of what decides every bit of its
output (the mixrender version, the output's format, the canonical plan bytes, the bytes of every
source and impulse response); its entry is the audio, then the JSON report that completes it.
Sources are hashed once per batch run (remembered by path, size and mtime)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, cast

from .._version import __version__
from ..errors import MixError
from ..lock import read_lock, sha256_file
from ..mixfile import MixFile
from ..render import RenderReport
from ..safepath import temp_path, unlink_quietly
from ..sources import IrInfo, SourceInfo, impulse_responses

#: Bumped when the cache's layout or key changes, so that old entries are never misread.
_CACHE_LAYOUT = b"mixrender-batch-cache/1"


class _Hashes:
    """SHA-256 of input files, each read once per batch run. Remembered by path, size and
    modification time, so that a file rewritten during the batch is read again."""

    def __init__(self) -> None:
        self._known: dict[tuple[str, int, int], str] = {}

    def __call__(self, path: Path) -> tuple[tuple[str, int, int], str]:
        st = path.stat()
        stamp = (str(path), st.st_size, st.st_mtime_ns)
        digest = self._known.get(stamp)
        if digest is None:
            digest = self._known[stamp] = sha256_file(path)
        return stamp, digest


def _inputs(mix: MixFile, infos: Sequence[SourceInfo]) -> list[Path]:
    """Every file the render reads: the sources in track order, then the impulse responses in
    the order the engine receives them (the order of the lock's `[[source]]` entries too)."""
    return [info.path for info in infos if info.path is not None] + impulse_responses(mix)


def cache_key(plan: bytes, input_hashes: Sequence[str], suffix: str) -> str:
    """The key of a render: what decides every bit of its output file. Each part is length
    prefixed, so that no two different lists of parts give the same stream of bytes."""
    h = hashlib.sha256()
    parts = [_CACHE_LAYOUT, __version__.encode(), suffix.lower().encode(), plan]
    for part in parts + [d.encode() for d in input_hashes]:
        h.update(len(part).to_bytes(8, "little"))
        h.update(part)
    return h.hexdigest()


def _cache_paths(cache: Path, key: str, suffix: str) -> tuple[Path, Path]:
    folder = cache / key[:2]
    return folder / f"{key}{suffix.lower()}", folder / f"{key}.json"


def _cache_lookup(cache: Path, key: str, suffix: str) -> dict[str, Any] | None:
    """The stored report of `key`, or None. The JSON is written after the audio, so its
    presence means the entry is complete; a size check catches a file damaged since."""
    audio, meta = _cache_paths(cache, key, suffix)
    try:
        entry = json.loads(meta.read_text())
        if audio.stat().st_size != entry["bytes"] or entry["key"] != key:
            return None
        return cast(dict[str, Any], entry["report"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _cache_store(cache: Path, key: str, output: Path, report: RenderReport) -> None:
    """Copies a fresh render into the cache: the audio, then the JSON that completes it."""
    audio, meta = _cache_paths(cache, key, output.suffix)
    audio.parent.mkdir(parents=True, exist_ok=True)
    entry = {
        "key": key,
        "mixrender_version": __version__,
        "bytes": output.stat().st_size,
        "report": report.to_dict(),
    }
    _copy_atomic(output, audio)
    _write_atomic(meta, json.dumps(entry, indent=1, sort_keys=True))


def _copy_atomic(src: Path, dst: Path) -> None:
    tmp = temp_path(dst)
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, tmp)  # a copy, not a link: editing an output must not edit the cache
        os.replace(tmp, dst)
    finally:
        unlink_quietly(tmp)


def _write_atomic(path: Path, text: str) -> None:
    tmp = temp_path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        unlink_quietly(tmp)


@dataclass(frozen=True)
class _Planned:
    """The part of a BlockRender that write_lock reads (the plan and the source infos), for a
    cached job: building a real one would set up an engine only to write a lock."""

    plan: bytes
    infos: list[SourceInfo]


def _lock_is_current(
    mix: MixFile,
    planned: _Planned,
    digests: Sequence[str],
    irs: Sequence[IrInfo],
    report: RenderReport,
) -> bool:
    """Whether the lock beside the mix already says what write_lock would write now, so that a
    re-run of a finished batch neither rewrites every lock nor reads every source again."""
    try:
        lock = read_lock(mix.path)
    except MixError:
        return False
    entries = lock.get("source", [])  # the sources in track order, then the impulse responses
    return (
        "output" not in lock  # a lock of the earlier layout is re-written
        and lock.get("mixrender_version") == __version__
        and lock.get("format") == mix.format
        and lock.get("audio_sha256") == report.audio_sha256
        and lock.get("plan_sha256") == hashlib.sha256(planned.plan).hexdigest()
        and [s.get("sha256") for s in entries] == list(digests)
        and [s.get("track") for s in entries if not s.get("ir")] == [t.name for t in mix.tracks]
        and [s.get("path") for s in entries if s.get("ir")] == [i.written for i in irs]
    )


def _report_from(stored: dict[str, Any], mix: Path, output: Path) -> RenderReport | None:
    names = {f.name for f in fields(RenderReport)}
    known = {k: v for k, v in stored.items() if k in names}
    try:
        return RenderReport(**{**known, "mix": str(mix), "output": str(output)})
    except TypeError:  # a field this version needs is missing: treat as not cached
        return None
