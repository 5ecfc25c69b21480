"""One declaration: `mixrender.schema` declares every key once; the loader, the JSON Schema and
the engine (its table generated into `rust/engine/src/params_gen.rs`) accept exactly the same
inserts, keys and ranges."""

from __future__ import annotations

import copy
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from mixrender import _engine, rustgen, schema
from mixrender.errors import MixError, MixFileError
from mixrender.mixfile import MixFile, parse_mixfile
from mixrender.plan import build_plan, plan_bytes

ROOT = Path(__file__).resolve().parent.parent


def test_the_generated_rust_is_current() -> None:
    for path, text in rustgen.rust_sources().items():
        committed = (ROOT / path).read_text(encoding="utf-8")
        assert committed == text, f"{path} is stale: python -m mixrender.rustgen"


def test_a_stale_generated_file_is_told_apart() -> None:
    """The staleness check compares the whole text: a key added to the declaration changes
    both generated files."""
    before = rustgen.rust_sources()
    tilt = schema.INSERT_TYPES["tilt"]
    extra = schema.Key("spare_db", "float", "a key only this test declares", 0.0, automatable=True)
    patched = dict(schema.INSERT_TYPES, tilt=schema.Table(tilt.name, tilt.doc, (*tilt.keys, extra)))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(schema, "INSERT_TYPES", patched)
        after = rustgen.rust_sources()
    assert after.keys() == before.keys()
    for path in before:
        assert after[path] != before[path], path
    assert "pub spare_db: Lane," in after[rustgen.RUST_PLAN]
    assert '(Self::Tilt(p), "spare_db") => Some((&p.spare_db).into()),' in after[rustgen.RUST_PLAN]


# --- the registry: each declared insert type has its processor, registered once -------------

REGISTRY = ROOT / "rust/engine/src/dsp/mod.rs"


def registered(text: str) -> list[tuple[str, str]]:
    """The (module, processor) lines of the `inserts! { ... }` registration in dsp/mod.rs."""
    found = re.search(r"^inserts! \{\n(.*?)^\}", text, re.M | re.S)
    assert found, f"{REGISTRY} has no inserts! {{ ... }} registration"
    return re.findall(r"^\s*([a-z_]+) => ([A-Za-z]+)\b", found.group(1), re.M)


def test_every_declared_insert_is_registered_once_and_nothing_else_is() -> None:
    lines = registered(REGISTRY.read_text(encoding="utf-8"))
    modules = [module for module, _ in lines]
    assert len(modules) == len(set(modules)), f"registered twice: {modules}"
    missing = set(schema.INSERT_TYPES) - set(modules)
    assert not missing, f"declared in schema.py but not registered in {REGISTRY}: {missing}"
    undeclared = set(modules) - set(schema.INSERT_TYPES)
    assert not undeclared, f"registered in {REGISTRY} but not declared in schema.py: {undeclared}"
    for module, processor in lines:
        assert processor == rustgen.rust_ident(module), (module, processor)
        source = (REGISTRY.parent / f"{module}.rs").read_text(encoding="utf-8")
        assert f"pub struct {processor} {{" in source, f"{module}.rs: no struct {processor}"
        constructor = rf"pub fn new\(\w+: &{processor}Params\b"
        assert re.search(constructor, source), f"{module}.rs: no {processor}::new"


def test_the_registry_check_sees_a_missing_and_an_extra_line() -> None:
    text = REGISTRY.read_text(encoding="utf-8")
    lines = registered(text)
    assert ("tilt", "Tilt") in lines and ("convolution", "Convolution") in lines
    without = re.sub(r"^\s*tilt => Tilt[,;]\n", "", text, flags=re.M)
    assert "tilt" not in dict(registered(without))
    extra = text.replace("    gain => Gain,\n", "    gain => Gain,\n    fuzz => Fuzz,\n")
    assert set(dict(registered(extra))) - set(schema.INSERT_TYPES) == {"fuzz"}


def test_the_engine_table_lists_every_insert_and_band_with_its_numeric_keys() -> None:
    text = (ROOT / rustgen.RUST_TABLE).read_text(encoding="utf-8")
    for tables in (schema.INSERT_TYPES, schema.BAND_TYPES):
        for name, table in tables.items():
            assert f'name: "{name}",' in text
            for key in table.keys:
                if key.kind in ("float", "int") and key.name not in schema.INSERT_COMMON_NAMES:
                    assert f'name: "{key.name}",' in text


# --- the loader, the JSON Schema and the engine accept the same set ---------------------------

RATE = 384000  # where a bound that is a fraction of the rate equals the JSON Schema's
END_S = 0.01


def numeric(table: schema.Table) -> list[schema.Key]:
    return [
        k
        for k in table.keys
        if k.kind in ("float", "int") and k.name not in schema.INSERT_COMMON_NAMES
    ]


def top(key: schema.Key) -> float | None:
    if key.max is not None:
        return key.max
    return None if key.max_fs is None else key.max_fs * RATE


def typical(key: schema.Key) -> float:
    value: float  # an int for an int key: TOML tells them apart
    if key.default is not None:
        value = key.default
        return value
    if key.choices:
        value = key.choices[0]
        return value
    if key.kind == "int" and key.min is not None:
        value = key.min
        return value
    return 100.0 if key.max_fs is not None else float(key.min or 0.0)


def toml_value(v: object) -> str:
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items()) + " }"
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return repr(v)


@dataclass
class Case:
    """One master insert: its keys and its lanes (target below the insert -> points)."""

    kind: str
    keys: dict[str, object] = field(default_factory=dict)
    lanes: dict[str, list[list[float]]] = field(default_factory=dict)

    def text(self) -> str:
        lines = [
            f'format = "{schema.FORMAT}"',
            "[session]",
            f"sample_rate = {RATE}",
            f"end = {END_S}",
            "[[master.insert]]",
            f'type = "{self.kind}"',
            *(f"{k} = {toml_value(v)}" for k, v in self.keys.items()),
        ]
        if self.lanes:
            lines.append("[master.automation]")
            lines += [f'"{self.kind}.{t}" = {toml_value(p)}' for t, p in self.lanes.items()]
        return "\n".join(lines) + "\n"


def base(kind: str, ir: Path) -> Case:
    """The insert with its required keys only."""
    case = Case(kind)
    if kind == "convolution":
        case.keys["ir"] = str(ir)
    if kind == "delay":
        case.keys["time_ms"] = 100.0
    return case


@pytest.fixture(scope="module")
def ir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ir") / "ir.wav"
    sf.write(path, np.linspace(0.5, 0.0, 64), 48000, subtype="DOUBLE")
    return path


def loader(case: Case, where: Path) -> MixFile | None:
    try:
        return parse_mixfile(case.text(), where / "mix.toml")
    except MixFileError:
        return None


def json_schema_accepts(case: Case) -> bool:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(schema.json_schema())
    return bool(validator.is_valid(tomllib.loads(case.text())))


def engine_accepts(plan: dict[str, object]) -> bool:
    irs = [(np.linspace(0.5, 0.0, 64), 48000)]
    try:
        _engine.Renderer(plan_bytes(plan), 256, 1, irs=irs)
    except MixError:  # the engine refuses a plan as the mix's error
        return False
    return True


def accepted_by_all(case: Case, where: Path) -> dict[str, object]:
    try:
        mix = parse_mixfile(case.text(), where / "mix.toml")
    except MixFileError as e:
        raise AssertionError(f"the loader refuses {case.text()}: {e}") from None
    assert json_schema_accepts(case), f"the JSON Schema refuses {case.text()}"
    plan = build_plan(mix, [])
    assert engine_accepts(plan), f"the engine refuses {case.text()}"
    return plan


def with_value(
    plan: dict[str, object], path: tuple[object, ...], value: float
) -> dict[str, object]:
    """The plan with the key at `path` (below the master's first insert) set to `value`."""
    out = copy.deepcopy(plan)
    node: Any = out["master"]["inserts"][0]  # type: ignore[index]
    for part in path[:-1]:
        node = node[part]
    old = node[path[-1]]
    if isinstance(old, dict):
        for point in old["points"]:
            point[1] = value
    else:
        node[path[-1]] = value
    return out


def test_every_insert_with_every_key_and_every_lane_is_accepted_by_all_three(
    ir: Path, tmp_path: Path
) -> None:
    inserts = _table_text().split("pub static BANDS")[0]
    assert set(schema.INSERT_TYPES) == set(
        re.findall(r'^    TableSpec \{ name: "([a-z_]+)",', inserts, re.M)
    )
    for kind, table in schema.INSERT_TYPES.items():
        case = base(kind, ir)
        for key in numeric(table):
            case.keys[key.name] = typical(key)
            hi = top(key)
            if key.automatable:
                lo = float(key.min) if key.min is not None else -1.0
                # A moving lane between the bounds, each reached.
                case.lanes[key.name] = [[0.0, lo], [END_S / 2, hi if hi is not None else lo + 1]]
        if kind == "eq":
            bands = []
            for number, (band_kind, band) in enumerate(schema.BAND_TYPES.items(), 1):
                keys: dict[str, object] = {"type": band_kind}
                for key in numeric(band):
                    keys[key.name] = typical(key)
                    if key.automatable:
                        lo, hi = float(key.min or 0.0), top(key)
                        lane = [[0.0, lo], [END_S / 2, hi]]
                        case.lanes[f"bands.{number}.{key.name}"] = lane  # type: ignore[assignment]
                bands.append(keys)
            case.keys["bands"] = bands
        plan = accepted_by_all(case, tmp_path)
        planned = plan["master"]["inserts"][0]  # type: ignore[index]
        for key in numeric(table):
            if key.kind != "float" or (key.name == "time_ms" and kind != "delay"):
                continue
            shown = planned[key.name]
            assert isinstance(shown, dict) == key.automatable, (kind, key.name, shown)


def _table_text() -> str:
    return (ROOT / rustgen.RUST_TABLE).read_text(encoding="utf-8")


def boundary_cases(ir: Path) -> Iterator[tuple[str, Case, tuple[object, ...], float, bool]]:
    """(label, case, plan path, value, valid): every numeric key of every insert and band
    type at its bounds (accepted) and just outside them (refused); keys with a list of values
    at each of them and at one that is not."""
    for kind, table in schema.INSERT_TYPES.items():
        for key in numeric(table):
            for value, valid in values(key):
                case = base(kind, ir)
                case.keys[key.name] = value
                yield f"{kind}.{key.name}={value}", case, (key.name,), value, valid
    for band_kind, band in schema.BAND_TYPES.items():
        for key in numeric(band):
            for value, valid in values(key):
                case = base("eq", ir)
                keys: dict[str, object] = {"type": band_kind, "freq_hz": 1000.0}
                keys[key.name] = value
                case.keys["bands"] = [keys]
                path = ("bands", 0, key.name)
                yield f"eq.{band_kind}.{key.name}={value}", case, path, value, valid


def values(key: schema.Key) -> Iterator[tuple[float, bool]]:
    if key.choices:
        for choice in key.choices:
            yield choice, True
        yield max(key.choices) + 1, False
        return
    step = 1 if key.kind == "int" else None
    if key.min is not None:
        yield key.min, True
        yield key.min - (step or outside(key.min)), False
    hi = top(key)
    if hi is not None:
        yield hi, True
        yield hi + (step or outside(hi)), False


def outside(bound: float) -> float:
    """A step just past a bound. Not one ulp: the engine's JSON reader (serde_json without
    its float_roundtrip feature) may read a float one ulp off."""
    return max(abs(bound), 1.0) * 1e-9


def test_bounds_are_the_same_for_the_loader_the_json_schema_and_the_engine(
    ir: Path, tmp_path: Path
) -> None:
    count = 0
    for label, case, path, value, valid in boundary_cases(ir):
        count += 1
        if valid:
            accepted_by_all(case, tmp_path)
            continue
        assert loader(case, tmp_path) is None, f"the loader accepts {label}"
        assert not json_schema_accepts(case), f"the JSON Schema accepts {label}"
        # The engine: the same insert with a valid value, then this one put into its plan.
        key = _key_of(case.kind, path)
        good = base(case.kind, ir)
        if case.kind == "eq":
            band = {**case.keys["bands"][0], key.name: typical(key)}  # type: ignore[index]
            good.keys["bands"] = [band]
        else:
            good.keys[key.name] = typical(key)
        plan = accepted_by_all(good, tmp_path)
        assert not engine_accepts(with_value(plan, path, value)), f"the engine accepts {label}"
    assert count > 100


def _key_of(kind: str, path: tuple[object, ...]) -> schema.Key:
    if kind == "eq":
        for band in schema.BAND_TYPES.values():
            found = band.key(str(path[-1]))
            if found is not None:
                return found
    found = schema.INSERT_TYPES[kind].key(str(path[-1]))
    assert found is not None
    return found


# The keys of the other tables that reach the engine: where each sits in a mix and in the plan.
OTHER_KEYS: dict[tuple[str, str], tuple[object, ...]] = {
    ("bus", "gain_db"): ("strips", 1, "gain_db"),
    ("bus", "trim_db"): ("strips", 1, "trim_db"),
    ("bus", "pan"): ("strips", 1, "pan"),
    ("bus", "width"): ("strips", 1, "width"),
    ("send", "level_db"): ("strips", 0, "sends", 0, "level_db"),
    ("send", "pan"): ("strips", 0, "sends", 0, "pan"),
    ("master", "gain_db"): ("master", "gain_db"),
    ("vca", "gain_db"): ("vcas", 0, "gain_db"),
    ("session", "sample_rate"): ("sample_rate",),
    ("render", "bit_depth"): ("output", "bit_depth"),
}

TABLES = {
    t.name: t
    for t in (
        schema.BUS,
        schema.SEND,
        schema.MASTER_TABLE,
        schema.VCA,
        schema.SESSION,
        schema.RENDER,
    )
}


def other_mix(table: str, key: str, value: float) -> str:
    """A mix with two buses (A sends to B), a VCA on B, and `key` of `table` set to `value`."""
    rate = value if (table, key) == ("session", "sample_rate") else RATE
    send: dict[str, object] = {"to": "B", "level_db": 0.0, "pan": 0.0}
    bus: dict[str, object] = {"name": "B"}
    vca: dict[str, object] = {"name": "V", "members": ["B"], "gain_db": 0.0}
    master: dict[str, object] = {}
    render: dict[str, object] = {"bit_depth": 24}
    tables = {"send": send, "bus": bus, "vca": vca, "master": master, "render": render}
    tables.get(table, {})[key] = value
    lines = [
        f'format = "{schema.FORMAT}"',
        f"[session]\nsample_rate = {toml_value(rate)}\nend = {END_S}",
        "[render]",
        *(f"{k} = {toml_value(v)}" for k, v in render.items()),
        "[master]",
        *(f"{k} = {toml_value(v)}" for k, v in master.items()),
        '[[bus]]\nname = "A"\noutput = "B"',
        f"sends = [{toml_value(send)}]",
        "[[bus]]",
        *(f"{k} = {toml_value(v)}" for k, v in bus.items()),
        "[[vca]]",
        *(f"{k} = {toml_value(v)}" for k, v in vca.items()),
    ]
    return "\n".join(lines) + "\n"


def test_the_other_tables_bounds_are_the_same_for_the_loader_the_json_schema_and_the_engine(
    tmp_path: Path,
) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(schema.json_schema())
    count = 0
    for (table, name), path in OTHER_KEYS.items():
        key = TABLES[table].key(name)
        assert key is not None and key.kind in ("float", "int"), (table, name)
        for value, valid in values(key):
            count += 1
            text = other_mix(table, name, value)
            label = f"{table}.{name} = {value}"
            try:
                mix: MixFile | None = parse_mixfile(text, tmp_path / "mix.toml")
            except MixFileError:
                mix = None
            assert (mix is not None) == valid, f"the loader on {label}"
            assert validator.is_valid(tomllib.loads(text)) == valid, f"the JSON Schema on {label}"
            # The engine: a valid plan with the value put in.
            ok = parse_mixfile(other_mix(table, name, typical(key)), tmp_path / "mix.toml")
            plan: Any = build_plan(ok, [])
            node = plan
            for part in path[:-1]:
                node = node[part]
            old = node.get(path[-1])
            if isinstance(old, dict) or key.automatable:
                node[path[-1]] = {"points": [[0, value, "linear", 0.0]]}
            else:
                node[path[-1]] = value
            assert engine_accepts(plan) == valid, f"the engine on {label}"
    assert count >= 30
