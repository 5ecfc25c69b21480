"""Lock files: what a render was made from, so that a recall months later is provably exact.

`render` writes `<mix stem>.lock` beside the mix: the mixrender and format versions, the
SHA-256, length, rate and channels of every source and impulse response (`[[source]]`
entries; an impulse response's has `ir = true` and its `path` as the mix writes it), the
canonical resolved plan and its hash, and the hash of the rendered audio. `verify`
re-renders and names what differs: a source's or impulse response's bytes, keys of the
plan, or (with all unchanged) the audio alone.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._version import __version__
from .errors import MixError
from .mixfile import MixFile
from .render import BlockRender, RenderReport, loudness_gain, render
from .sources import IrInfo, SourceInfo, probe_irs


def lock_path(mix: Path) -> Path:
    return mix.with_suffix(".lock")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def source_hash(info: SourceInfo) -> str:
    """The source file's bytes, or an in-memory array's dtype, shape and samples."""
    if info.path is not None:
        return sha256_file(info.path)
    assert info.array is not None
    h = hashlib.sha256(f"{info.array.dtype.str}{info.array.shape}".encode())
    h.update(info.array.tobytes())
    return h.hexdigest()


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    # A JSON string is a valid TOML basic string (json.dumps never writes `\\/`).
    return json.dumps(str(value))


def write_lock(
    mix: MixFile,
    job: BlockRender,
    report: RenderReport,
    digests: list[str | None] | None = None,
) -> Path:
    """Writes the lock beside the mix, atomically. `digests` are source hashes already
    known (the engine's, from the bytes it rendered), per track; the others are read here."""
    known = digests or [None] * len(job.infos)
    out = Path(report.output) if report.output else None
    lines = [
        f"# mixrender lock: what {mix.path.name} was rendered from.",
        "# Written by `mixrender render`; `mixrender verify` re-renders and compares.",
        f"mixrender_version = {_toml(__version__)}",
        f"format = {_toml(mix.format)}",
        f"output = {_toml(os.path.relpath(out, mix.path.parent) if out else '')}",
        f"frames = {report.frames}",
        f"sample_rate = {report.sample_rate}",
        f"bit_depth = {report.bit_depth}",
        f"plan_sha256 = {_toml(hashlib.sha256(job.plan).hexdigest())}",
        f"audio_sha256 = {_toml(report.audio_sha256)}",
        f"plan = {_toml(job.plan.decode())}",
    ]
    for track, info, digest in zip(mix.tracks, job.infos, known, strict=True):
        lines += [
            "",
            "[[source]]",
            f"track = {_toml(track.name)}",
            f"path = {_toml(track.source)}",
            f"sha256 = {_toml(digest or source_hash(info))}",
            f"frames = {info.frames}",
            f"sample_rate = {info.sample_rate}",
            f"channels = {info.channels}",
        ]
    # Probed here rather than taken from `job`: a batch writes the locks of cached jobs
    # from their plan alone, without a render.
    for ir in probe_irs(mix):
        lines += [
            "",
            "[[source]]",
            "ir = true",
            f"path = {_toml(ir.written)}",
            f"sha256 = {_toml(source_hash(ir))}",
            f"frames = {ir.frames}",
            f"sample_rate = {ir.sample_rate}",
            f"channels = {ir.channels}",
        ]
    path = lock_path(mix.path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text("\n".join(lines) + "\n")
    os.replace(tmp, path)
    return path


def read_lock(mix: Path) -> dict[str, Any]:
    path = lock_path(mix)
    if not path.exists():
        raise MixError(f"{path}: no lock file; render the mix first (`mixrender render {mix}`)")
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except (tomllib.TOMLDecodeError, OSError) as e:
        raise MixError(f"{path}: cannot read the lock file ({e})") from None


def _names(plan: Any) -> Any:
    """The plan with strips, sends and VCAs keyed by name, so that differences read as names."""
    if not isinstance(plan, dict):
        return plan
    strips = [s["name"] for s in plan.get("strips", [])]
    out = dict(plan)
    resolved = {}
    for s in plan.get("strips", []):
        s = dict(s)
        s["sends"] = {
            strips[d["to"]]: {k: v for k, v in d.items() if k != "to"} for d in s["sends"]
        }
        if isinstance(s.get("output"), dict):
            s["output"] = strips[s["output"]["strip"]]
        s["inserts"] = {i["name"]: i for i in s["inserts"]}
        resolved[s.pop("name")] = s
    out["strips"] = resolved
    out["vcas"] = {v["name"]: v for v in plan.get("vcas", [])}
    return out


def plan_differences(old: Any, new: Any, path: str = "") -> Iterator[str]:
    """Key paths where two plans differ, as `strips > Lead Vox > gain_db`."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new), key=str):
            where = f"{path} > {key}" if path else str(key)
            if key not in old:
                yield f"{where} (new)"
            elif key not in new:
                yield f"{where} (removed)"
            else:
                yield from plan_differences(old[key], new[key], where)
    elif old != new:
        yield path or "(every setting)"


def _ir_differences(infos: list[IrInfo], locked: dict[Any, dict[str, Any]]) -> list[str]:
    """What changed in the impulse responses since the lock: new, changed or no longer used
    ones, by `path` as the mix writes it."""
    found = []
    for ir in infos:
        entry = locked.pop(ir.written, None)
        if entry is None:
            found.append(f"impulse response {ir.written} ({ir.where}) is new since the render")
        elif source_hash(ir) != entry.get("sha256"):
            found.append(
                f"impulse response {ir.written} ({ir.where}) changed: its bytes differ from "
                "those the render was made from"
            )
    found += [f"impulse response {p} is no longer used since the render" for p in locked]
    return found


@dataclass
class Verification:
    """What `verify` found; `identical` when the render is the one the lock describes."""

    identical: bool
    differences: list[str] = field(default_factory=list)


def verify(mix: MixFile, *, threads: int | None = None) -> Verification:
    lock = read_lock(mix.path)
    found: list[str] = []
    gain = loudness_gain(mix, threads=threads)
    job = BlockRender(mix, threads=threads, meter=False, loudness_gain_db=gain)
    entries = lock.get("source", [])
    locked = {s.get("track"): s for s in entries if not s.get("ir")}
    locked_irs = {s.get("path"): s for s in entries if s.get("ir")}
    for track, info in zip(mix.tracks, job.infos, strict=True):
        entry = locked.pop(track.name, None)
        if entry is None:
            found.append(f'source of track "{track.name}" is new since the render')
        elif source_hash(info) != entry.get("sha256"):
            found.append(
                f'source {track.source} (track "{track.name}") changed: its bytes differ '
                "from those the render was made from"
            )
    found += [f'track "{name}" was removed since the render' for name in locked]
    found += _ir_differences(job.ir_infos, locked_irs)
    if hashlib.sha256(job.plan).hexdigest() != lock.get("plan_sha256"):
        old = _names(json.loads(lock.get("plan", "{}")))
        new = _names(json.loads(job.plan))
        keys = list(plan_differences(old, new))
        found.append(
            "the mix's settings changed: "
            + "; ".join(keys[:20])
            + (" ..." if len(keys) > 20 else "")
        )
    if found:
        return Verification(False, found)
    out = Path(lock.get("output") or "verify.wav")
    with tempfile.TemporaryDirectory(prefix="mixrender-verify-") as tmp:
        report, _, _ = render(mix, Path(tmp) / f"verify{out.suffix or '.wav'}", threads=threads)
    if report.audio_sha256 == lock.get("audio_sha256"):
        return Verification(True)
    version = lock.get("mixrender_version")
    why = (
        f"the engine changed (the lock was made by mixrender {version}, this is {__version__})"
        if version != __version__
        else "the same mixrender gave other bits from the same settings and sources: "
        "something is wrong"
    )
    return Verification(
        False, [f"the audio differs while the settings and sources are the same: {why}"]
    )
