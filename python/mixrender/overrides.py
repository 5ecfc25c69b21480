"""Static values an automation lane overrides: valid, and without effect.

A lane's value overrides the static key (the spec's Automation section), so `gain_db = 1.0`
on a track with a `gain_db` lane does nothing. `check` and `render` warn about such a value
when it differs from the key's default (the default is what a file gets without writing the
key, so it tells nothing); a key with no default (a send's `level_db`, an eq band's
`freq_hz`: required; a delay's `time_ms`, a filter's `lowcut_hz`: absent means off, so
writing it matters) is never warned about. `diff` marks any change of an overridden value.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from . import schema
from .mixfile import MixFile
from .model import Insert, Lane


@dataclass(frozen=True)
class Override:
    """One static value that a lane of its owner overrides."""

    where: str
    """The key as messages show it: 'track "Lead Vox" > gain_db'."""
    target: str
    """The lane's target: "gain_db", "sends.Plate.level_db", "comp.threshold_db"."""
    value: Any
    default: Any

    @property
    def matters(self) -> bool:
        """Whether it is worth a warning: written other than the default (see the module)."""
        return self.default is not None and self.value != self.default

    def message(self) -> str:
        key = self.target.rsplit(".", 1)[-1]
        fader = "." not in self.target or self.target.startswith("sends.")
        sets = _SETS.get(key, "its value") if fader else "its value"
        lane = "its automation lane" if self.target == key else f'its lane "{self.target}"'
        return f"{self.where} = {_toml(self.value)} has no effect: {lane} sets {sets}"


#: What a lane on a fader or send key sets, in words.
_SETS = {
    "gain_db": "the level",
    "level_db": "the level",
    "pan": "the pan",
    "width": "the width",
    "mute": "the mute",
}


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        short = f"{value:.1f}"
        return short if float(short) == value else repr(value)
    return repr(value) if isinstance(value, str) else str(value)


def _inserts(
    owner: str, inserts: tuple[Insert, ...], lanes: Mapping[str, Lane]
) -> Iterator[Override]:
    for ins in inserts:
        table = schema.INSERT_TYPES[ins.type]
        where = f'{owner} > insert "{ins.name}"'
        for name, key in schema.lane_keys(table).items():
            target = f"{ins.name}.{name}"
            if target in lanes and ins.params.get(name) is not None:
                yield Override(f"{where} > {name}", target, ins.params[name], key.default)
        for number, band in enumerate(ins.params.get("bands") or (), 1):
            band_keys = schema.lane_keys(schema.BAND_TYPES[band["type"]])
            for name, key in band_keys.items():
                target = f"{ins.name}.bands.{number}.{name}"
                if target in lanes and band.get(name) is not None:
                    yield Override(
                        f"{where} > band {number} > {name}", target, band[name], key.default
                    )


def overrides(mix: MixFile) -> list[Override]:
    """Every static value of `mix` that a lane overrides, in file order (tracks, buses,
    VCAs, master)."""
    found: list[Override] = []
    for strip in (*mix.tracks, *mix.buses):
        table = schema.TRACK if strip.kind == "track" else schema.BUS
        lanes = strip.automation
        for name, key in schema.lane_keys(table).items():
            if name in lanes:
                found.append(
                    Override(f"{strip.label} > {name}", name, getattr(strip, name), key.default)
                )
        for send in strip.sends:
            for name, key in schema.lane_keys(schema.SEND).items():
                target = f"sends.{send.to}.{name}"
                if target in lanes:
                    found.append(
                        Override(
                            f'{strip.label} > send to "{send.to}" > {name}',
                            target,
                            getattr(send, name),
                            key.default,
                        )
                    )
        found += _inserts(strip.label, strip.inserts, lanes)
    for vca in mix.vcas:
        if "gain_db" in vca.automation:
            default = schema.lane_keys(schema.VCA)["gain_db"].default
            found.append(Override(f'vca "{vca.name}" > gain_db', "gain_db", vca.gain_db, default))
    master = mix.master
    if "gain_db" in master.automation:
        default = schema.lane_keys(schema.MASTER_TABLE)["gain_db"].default
        found.append(Override("master > gain_db", "gain_db", master.gain_db, default))
    found += _inserts("master", master.inserts, master.automation)
    return found


def override_warnings(mix: MixFile) -> list[str]:
    """The warnings `check` and `render` print: overridden values other than the default."""
    return [o.message() for o in overrides(mix) if o.matters]
