"""Lock files: what a render was made from, so that a recall months later is provably exact.

`render` writes `<mix stem>.lock` beside the mix: the mixrender and format versions, the
SHA-256, length, rate and channels of every source and impulse response (`[[source]]`
entries; an impulse response's has `ir = true` and its `path` as the mix writes it), the
resolved plan and its hash, and the hash of the rendered audio. `verify` re-renders and
names what differs: a source's or impulse response's bytes, the mix's values (in its own
terms: `Plate: reverb decay_s 2.2 -> 2.6`), or (with all unchanged) the audio alone.

The lock is text made for git: it holds no output path (a render to any folder writes the
same lock), the plan is JSON with sorted keys, one key or one lane point per line, in a TOML
multi-line literal string (so that a one-value change of the mix changes one line of it
besides the hashes), and it is written only when its bytes change. A lock of the earlier
layout (an `output` key, the plan on one line) still reads and verifies.
"""

from __future__ import annotations

import errno
import hashlib
import json
import tempfile
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._version import __version__
from .errors import MixError
from .files import not_regular, read_regular
from .mixfile import MixFile, toml_type
from .render import (
    BlockRender,
    RenderReport,
    loudness_gain,
    publish_texts,
    render,
    same_text,
    write_text_temp,
)
from .sources import IrInfo, SourceInfo, probe_irs


def lock_path(mix: Path) -> Path:
    return mix.with_suffix(".lock")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    reason = not_regular(path)
    if reason is not None:  # checked at probe time too; a FIFO must never block here
        raise OSError(errno.EINVAL, reason, str(path))
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


def _lines(value: Any, indent: str = "") -> list[str]:
    """`value` as JSON text, sorted keys, one key per line; a list of plain values (a lane's
    point) on one line."""
    inner = indent + " "
    if isinstance(value, dict) and value:
        keys = sorted(value)
        out = ["{"]
        for i, key in enumerate(keys):
            body = _lines(value[key], inner)
            body[0] = f"{inner}{json.dumps(str(key), ensure_ascii=False)}: {body[0]}"
            if i < len(keys) - 1:
                body[-1] += ","
            out += body
        return [*out, indent + "}"]
    if isinstance(value, list) and any(isinstance(v, dict | list) for v in value):
        out = ["["]
        for i, item in enumerate(value):
            body = _lines(item, inner)
            body[0] = inner + body[0]
            if i < len(value) - 1:
                body[-1] += ","
            out += body
        return [*out, indent + "]"]
    return [json.dumps(value, ensure_ascii=False, allow_nan=False)]


def plan_text(plan: bytes) -> str:
    """The plan as the lock holds it: readable, sorted JSON, and a valid TOML multi-line
    literal string (no apostrophe, no control character but the line breaks)."""
    text = "\n".join(_lines(json.loads(plan)))
    return text.replace("'", "\\u0027").replace("\x7f", "\\u007f")


def write_lock(
    mix: MixFile,
    job: BlockRender,
    report: RenderReport,
    digests: list[str | None] | None = None,
) -> Path:
    """Writes the lock beside the mix, atomically, and only when its bytes change (an
    unchanged lock keeps its mtime). `digests` are source hashes already known (the
    engine's, from the bytes it rendered), per track; the others are read here."""
    path = lock_path(mix.path)
    text = lock_text(mix, job, report, digests)
    if not same_text(path, text):
        publish_texts([write_text_temp("lock file", path, text)])
    return path


def lock_text(
    mix: MixFile,
    job: BlockRender,
    report: RenderReport,
    digests: list[str | None] | None = None,
) -> str:
    """The lock's text (see `write_lock`)."""
    known = digests or [None] * len(job.infos)
    lines = [
        f"# mixrender lock: what {mix.path.name} was rendered from.",
        "# Written by `mixrender render`; `mixrender verify` re-renders and compares.",
        f"mixrender_version = {_toml(__version__)}",
        f"format = {_toml(mix.format)}",
        f"frames = {report.frames}",
        f"sample_rate = {report.sample_rate}",
        f"bit_depth = {report.bit_depth}",
        f"plan_sha256 = {_toml(hashlib.sha256(job.plan).hexdigest())}",
        f"audio_sha256 = {_toml(report.audio_sha256)}",
        f"plan = '''\n{plan_text(job.plan)}'''",
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
    return "\n".join(lines) + "\n"


def read_lock(mix: Path) -> dict[str, Any]:
    path = lock_path(mix)
    if not path.exists():
        raise MixError(f"{path}: no lock file; render the mix first (`mixrender render {mix}`)")
    try:
        text = read_regular(path).decode("utf-8")
        lock = tomllib.loads(text)
    except OSError as e:
        raise MixError(f"{path}: cannot read the lock file: {e.strerror or e}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError) as e:
        raise MixError(f"{path}: cannot read the lock file ({e or 'nested too deep'})") from None
    check_lock_shape(path, lock)
    return lock


#: The keys of a lock that `verify` reads, and their TOML types (str, int, bool, list).
_LOCK_KEYS: dict[str, tuple[type, bool]] = {
    "mixrender_version": (str, False),
    "format": (str, False),
    "output": (str, False),
    "frames": (int, False),
    "sample_rate": (int, False),
    "bit_depth": (int, False),
    "plan_sha256": (str, True),
    "audio_sha256": (str, True),
    "plan": (str, True),
    "source": (list, False),
}
_SOURCE_KEYS: dict[str, tuple[type, bool]] = {
    "track": (str, False),
    "path": (str, False),
    "ir": (bool, False),
    "sha256": (str, True),
    "frames": (int, False),
    "sample_rate": (int, False),
    "channels": (int, False),
}
_TOML_TYPES = {str: "a string", int: "an integer", bool: "true/false", list: "a list"}


def _check_keys(
    path: Path, where: str, table: dict[str, Any], keys: dict[str, tuple[type, bool]]
) -> None:
    for key, (kind, required) in keys.items():
        if key not in table:
            if required:
                raise MixError(
                    f"{path}: {where}{key} is missing; the lock is damaged: render the mix "
                    "again to write a new one"
                )
            continue
        value = table[key]
        ok = isinstance(value, kind) and (kind is bool or not isinstance(value, bool))
        if not ok:
            raise MixError(
                f"{path}: {where}{key} is {toml_type(value, integers=True)}, not "
                f"{_TOML_TYPES[kind]}; the lock is damaged: render the mix again to write a new one"
            )


def check_lock_shape(path: Path, lock: dict[str, Any]) -> None:
    """Raise MixError naming the first key of the lock that `verify` cannot use: missing,
    of another type, a table where a list of tables belongs, a plan that is not a JSON
    object, a `[[source]]` without its `track` (or, for an impulse response, `path`)."""
    _check_keys(path, "", lock, _LOCK_KEYS)
    try:
        plan = json.loads(lock["plan"])
    except (ValueError, RecursionError):
        plan = None
    if not isinstance(plan, dict):
        raise MixError(
            f"{path}: plan is not the JSON object a render writes (a lock of another layout, "
            "or damaged); re-lock with `mixrender render` on its mix"
        )
    for number, entry in enumerate(lock.get("source", []), start=1):
        where = f"source[{number}] > "
        if not isinstance(entry, dict):
            raise MixError(
                f"{path}: source[{number}] is {toml_type(entry, integers=True)}, not a table; "
                "write each as [[source]] (or render the mix again to write a new lock)"
            )
        _check_keys(path, where, entry, _SOURCE_KEYS)
        name = "path" if entry.get("ir") else "track"
        if name not in entry:
            _check_keys(path, where, entry, {name: (str, True)})


def _names(plan: Any) -> Any:
    """The plan with strips, sends, inserts and VCAs keyed by name, so that differences read
    as names."""
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
    if isinstance(plan.get("master"), dict):
        master = dict(plan["master"])
        master["inserts"] = {i["name"]: i for i in master.get("inserts", [])}
        out["master"] = master
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


def _is_lane(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"points"}


_MISSING = object()


def _leaves(old: Any, new: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """(path, old, new) where two named plans differ; a lane is one leaf; a side missing is
    `_MISSING`."""
    if isinstance(old, dict) and isinstance(new, dict) and not (_is_lane(old) and _is_lane(new)):
        for key in sorted(set(old) | set(new), key=str):
            yield from _leaves(old.get(key, _MISSING), new.get(key, _MISSING), (*path, key))
    elif (
        isinstance(old, list)
        and isinstance(new, list)
        and len(old) == len(new)
        and any(isinstance(v, dict) for v in (*old, *new))
    ):
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            yield from _leaves(a, b, (*path, i))
    elif old != new:
        yield (path, old, new)


def _words(path: tuple[Any, ...], plan: dict[str, Any]) -> tuple[str, str]:
    """Who and what a plan path is in the mix's terms: ("Plate", "reverb decay_s")."""

    def insert_words(owner: dict[str, Any], rest: tuple[Any, ...]) -> str:
        name = rest[0]
        kind = owner.get("inserts", {}).get(name, {}).get("type", "insert")
        label = kind if name == kind else f"{name} ({kind})"
        if len(rest) >= 3 and rest[1] == "bands" and isinstance(rest[2], int):
            rest = (rest[0], f"bands.{rest[2] + 1}", *rest[3:])
        return " ".join([label, *(".".join(map(str, rest[1:])),)]).strip()

    head = path[0] if path else ""
    if head == "strips" and len(path) >= 2:
        who, rest = str(path[1]), path[2:]
        strip = plan.get("strips", {}).get(path[1], {})
        if not rest:
            return who, ""
        if rest[0] == "inserts" and len(rest) >= 2:
            return who, insert_words(strip, rest[1:])
        if rest[0] == "sends" and len(rest) >= 2:
            return who, f"send to {rest[1]} {'.'.join(map(str, rest[2:]))}".strip()
        if rest[0] == "vcas":
            return who, "VCA membership"
        if rest[0] == "solo_muted":
            return who, "silenced by a solo"
        return who, " ".join(map(str, rest))
    if head == "vcas" and len(path) >= 2:
        return f"VCA {path[1]}", " ".join(map(str, path[2:]))
    if head == "master" and len(path) >= 2:
        if path[1] == "inserts" and len(path) >= 3:
            return "master", insert_words(plan.get("master", {}), path[2:])
        if path[1] == "loudness_gain_db":
            return "master", "loudness normalisation gain_db"
        return "master", " ".join(map(str, path[1:]))
    if head == "output":
        return "render", " ".join(map(str, path[1:]))
    if head == "frames":
        return "length", "frames"
    return "plan", " ".join(map(str, path))


def plan_changes(old_plan: Any, new_plan: Any) -> list[str]:
    """What changed between two plans, in the mix's terms with old and new values:
    `Plate: reverb decay_s 2.2 -> 2.6`, `Lead Vox: gain_db lane: point at 0:01.0 ...`."""
    from .diff import plan_lane_changes, shown_value

    old, new = _names(old_plan), _names(new_plan)
    rate = int(new.get("sample_rate") or old.get("sample_rate") or 48000)
    found = []
    for path, a, b in _leaves(old, new):
        who, what = _words(path, new if b is not _MISSING else old)
        where = f"{who}: {what}" if what else who
        if a is _MISSING:
            found.append(f"{where} (new)")
        elif b is _MISSING:
            found.append(f"{where} (removed)")
        elif _is_lane(a) and _is_lane(b):
            unit_key = str(path[-1])
            found.append(f"{where} {plan_lane_changes(a, b, rate, unit_key)}")
        elif path[-2:] == ("source", "offset") and isinstance(a, int) and isinstance(b, int):
            # The plan holds frames; the mix writes seconds.
            found.append(f"{who}: offset_s {shown_value(a / rate)} -> {shown_value(b / rate)}")
        else:
            found.append(f"{where} {shown_value(a)} -> {shown_value(b)}")
    return found


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
        try:
            locked_plan = json.loads(lock.get("plan", "{}"))
        except (TypeError, ValueError):
            raise MixError(
                f"{lock_path(mix.path)}: the settings it recorded cannot be read (a lock of "
                f"another layout?); re-lock with `mixrender render {mix.path}`"
            ) from None
        try:
            changes = plan_changes(locked_plan, json.loads(job.plan))
        except (KeyError, TypeError, IndexError, AttributeError, ValueError):  # hand-edited
            changes = [
                "the mix's settings changed (the lock records them in a form a render does "
                "not write)"
            ]
        found += changes[:20] + ([f"... and {len(changes) - 20} more"] if len(changes) > 20 else [])
        if not changes:
            found.append("the mix's settings changed")
    if found:
        return Verification(False, found)
    # The audio hash is that of the samples, whatever the container: a WAV serves any lock.
    with tempfile.TemporaryDirectory(prefix="mixrender-verify-") as tmp:
        report, _, _ = render(mix, Path(tmp) / "verify.wav", threads=threads)
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
