"""From a validated mix file to the engine's plan: canonical JSON bytes.

Names become indices, times become frames (the spec's rounding), lanes get their
effective shapes, solo is resolved, and what a rough render bypasses is dropped. The
bytes are canonical (sorted keys, round-trip floats), so the same mix and sources give
the same plan on any machine, and the plan's hash can key a cache.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from . import _engine, schema
from .errors import MixFileError, RenderError
from .mixfile import MixFile, note_seconds
from .model import Insert, Lane, Strip
from .sources import SourceInfo, impulse_responses

PLAN_VERSION: int = _engine.PLAN_VERSION
"""The plan layout the engine reads (the engine's own constant)."""

Json = dict[str, Any]


def frame_of(seconds: float, sample_rate: int) -> int:
    """`round(t * sample_rate)` in float64 with halves away from zero (not Python's round)."""
    x = seconds * sample_rate
    whole = math.floor(x)
    return int(whole) + (1 if x - whole >= 0.5 else 0)


def resampled_frames(frames: int, source_rate: int, sample_rate: int) -> int:
    """`ceil(frames * sample_rate / source_rate)`, exactly, in integers."""
    return -(-frames * sample_rate // source_rate)


def _lane(value: float, lane: Lane | None, sample_rate: int, *, stepped: bool = False) -> Json:
    if lane is None:
        return {"points": [[0, float(value), "linear", 0.0]]}
    points = []
    for p in lane.points:
        shape = "step" if stepped else (p.shape or lane.curve)
        tension = p.tension if p.tension is not None else lane.tension
        points.append([frame_of(p.seconds, sample_rate), float(p.value), shape, float(tension)])
    return {"points": points}


class _Planner:
    def __init__(self, mix: MixFile, infos: Sequence[SourceInfo], rough: bool) -> None:
        self.mix, self.infos, self.rough = mix, infos, rough
        self.sr = mix.session.sample_rate
        self.strips: list[Strip] = [*mix.tracks, *mix.buses]
        self.index = {s.name: i for i, s in enumerate(self.strips)}
        self.impulse_responses = impulse_responses(mix)

    def lane(self, auto: Mapping[str, Lane], target: str, value: float, **kw: bool) -> Json:
        return _lane(value, None if self.rough else auto.get(target), self.sr, **kw)

    def insert(self, owner: str, auto: Mapping[str, Lane], ins: Insert) -> Json:
        """An insert as the engine reads it: automatable numeric keys as lanes, the rest as
        they are (the declaration in `schema` decides; the loader refused lanes on others)."""
        out: Json = {"type": ins.type, "name": ins.name, "bypass": ins.bypass}
        params = dict(ins.params)
        keys = schema.INSERT_TYPES[ins.type].keys
        for key in keys:
            if key.resolves_to is not None and params.get(key.name) is not None:
                # a note value: its length at the session's tempo
                seconds = note_seconds(params[key.name], self.mix.session)
                params[key.resolves_to] = 1000.0 * seconds
        for key in keys:
            name = key.name
            if name in schema.INSERT_COMMON_NAMES or key.resolves_to is not None:
                continue
            value = params.get(name)
            if key.index_of == "ir":
                out[name] = self.impulse_responses.index(ins.params["ir_path"])
            elif key.index_of == "strip":
                out[name] = None if value is None else self.index[value]
            elif name == "bands":
                prefix = f"{ins.name}.bands"
                bands = value or ()
                out[name] = [self.band(auto, f"{prefix}.{i}", b) for i, b in enumerate(bands, 1)]
            elif not key.automatable or key.kind not in ("float", "int") or value is None:
                out[name] = value  # a plain value: the engine never moves it while rendering
            else:
                out[name] = self.lane(auto, f"{ins.name}.{name}", float(value))
        return out

    def band(self, auto: Mapping[str, Lane], prefix: str, band: Mapping[str, Any]) -> Json:
        def lane(key: str, default: float | None = None) -> Json | None:
            value = band.get(key, default)
            return None if value is None else self.lane(auto, f"{prefix}.{key}", float(value))

        return {
            "type": band["type"],
            "freq_hz": lane("freq_hz"),
            "gain_db": lane("gain_db", 0.0),
            "q": lane("q"),
            "slope_db_oct": band.get("slope_db_oct"),
        }

    def inserts(
        self, owner: str, auto: Mapping[str, Lane], inserts: Sequence[Insert]
    ) -> list[Json]:
        # A rough render bypasses every insert, so it renders even with ones not supported yet.
        return [] if self.rough else [self.insert(owner, auto, i) for i in inserts]

    def soloed_silenced(self) -> list[bool]:
        """Per strip: silenced by a solo elsewhere (tracks only; solo never mutes a bus)."""
        soloed = {s.name for s in self.strips if s.solo}
        if not soloed:
            return [False] * len(self.strips)

        def reaches(name: str, seen: frozenset[str] = frozenset()) -> bool:
            if name in soloed:
                return True
            s = self.strips[self.index[name]]
            nxt = [s.output, *(send.to for send in s.sends)]
            return any(n != "master" and n not in seen and reaches(n, seen | {name}) for n in nxt)

        return [s.kind == "track" and not reaches(s.name) for s in self.strips]

    def strip(self, i: int, s: Strip, silenced: bool) -> Json:
        a = s.automation
        source = None
        if s.kind == "track":
            info = self.infos[i]
            source = {
                "channels": info.channels,
                "sample_rate": info.sample_rate,
                "frames": info.frames,
                "offset": frame_of(s.offset_s, self.sr),
            }
        sends = (
            []
            if self.rough
            else [
                {
                    "to": self.index[d.to],
                    "tap": d.tap,
                    "level_db": self.lane(a, f"sends.{d.to}.level_db", d.level_db),
                    "pan": self.lane(a, f"sends.{d.to}.pan", d.pan),
                }
                for d in s.sends
            ]
        )
        out: Json = {
            "name": s.name,
            "source": source,
            "clip_gain_db": s.clip_gain_db,
            "polarity": s.polarity,
            "pan_law": s.pan_law or self.mix.session.pan_law,
            "gain_db": self.lane(a, "gain_db", s.gain_db),
            "pan": self.lane(a, "pan", s.pan),
            "width": self.lane(a, "width", s.width),
            "mute": self.lane(a, "mute", 1.0 if s.mute else 0.0, stepped=True),
            "solo_muted": silenced,
            "vcas": [k for k, v in enumerate(self.mix.vcas) if s.name in v.members],
            "output": "master" if s.output == "master" else {"strip": self.index[s.output]},
            "sends": sends,
            "inserts": self.inserts(s.label, a, s.inserts),
        }
        # Only where it does something, so that the plan (and the lock) of a mix without a trim
        # stays as it was.
        trim = self.lane(a, "trim_db", s.trim_db)
        if trim["points"] != [[0, 0.0, "linear", 0.0]]:
            out["trim_db"] = trim
        return out

    def frames(self) -> int:
        session = self.mix.session
        if session.end is not None:
            return frame_of(session.end, self.sr)
        last, longest = 0, None
        for s, info in zip(self.mix.tracks, self.infos, strict=True):
            length = resampled_frames(info.frames, info.sample_rate, self.sr)
            if frame_of(s.offset_s, self.sr) + length > last:
                last, longest = frame_of(s.offset_s, self.sr) + length, s
        frames = last + frame_of(session.tail_s, self.sr)
        limit = schema.MAX_OUTPUT_S * self.sr
        if frames > limit:
            what = f"{longest.label} ends at {last / self.sr:.3f} s" if longest else "the tail"
            raise MixFileError(
                self.mix.path,
                self.mix.line_of("session", "end") or self.mix.line_of("session"),
                "session > end",
                f'end = "auto" makes the output {frames / self.sr:.3f} s long ({what}); the '
                f"output may last at most {schema.MAX_OUTPUT_S} s (4 hours) at the session "
                "rate: set an end, or shorten the sources",
            )
        return frames

    def plan(self) -> Json:
        silenced = self.soloed_silenced()
        m = self.mix
        return {
            "version": PLAN_VERSION,
            "sample_rate": self.sr,
            "frames": self.frames(),
            "strips": [self.strip(i, s, silenced[i]) for i, s in enumerate(self.strips)],
            "vcas": [
                {"name": v.name, "gain_db": self.lane(v.automation, "gain_db", v.gain_db)}
                for v in m.vcas
            ],
            "master": {
                "gain_db": self.lane(m.master.automation, "gain_db", m.master.gain_db),
                "inserts": self.inserts("master", m.master.automation, m.master.inserts),
            },
            "output": {
                "bit_depth": m.render.bit_depth,
                "dither": m.render.dither and m.render.bit_depth != 32,
                "seed": m.render.seed,
            },
        }


def loudness_at_input(mix: MixFile) -> bool:
    """Whether the loudness normalisation's gain goes to the master's input, before its
    inserts: when the mix asks for a loudness and the master's inserts hold a limiter, whose
    ceiling then holds the peaks the gain raises. Otherwise it goes after the master's gain."""
    return mix.render.loudness_lufs is not None and any(
        i.type == "limiter" for i in mix.master.inserts
    )


def build_plan(
    mix: MixFile,
    infos: Sequence[SourceInfo],
    *,
    rough: bool = False,
    loudness_gain_db: float = 0.0,
) -> Json:
    """The engine plan for `mix` with its sources' `infos` (in track order), with the
    loudness normalisation's gain (found by metering passes) on the master: at its input
    when `loudness_at_input`, else after its gain.

    Every insert type the format declares is rendered; a rough render bypasses inserts.
    """
    plan = _Planner(mix, infos, rough).plan()
    plan["master"]["loudness_gain_db"] = float(loudness_gain_db)
    if not rough and loudness_at_input(mix):
        # Only then, so that the plan (and the lock) of every other mix stays as it was.
        plan["master"]["loudness_gain_at"] = "input"
    return plan


def plan_bytes(plan: Json) -> bytes:
    """Canonical JSON: sorted keys, no spaces, shortest round-trip floats, no NaN."""
    try:
        text = json.dumps(plan, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except ValueError as e:  # a NaN slipped through validation: a bug, said plainly
        raise RenderError(
            f"a setting of the mix resolved to a number that is not finite ({e}); this is a "
            "bug in mixrender: please report it, with the mix file"
        ) from None
    return text.encode()
