"""The mix format ``mixrender/1`` as data: every table, key, type, default and range.

This module is the one source of truth for what a mix file may contain. The loader
(:mod:`mixrender.mixfile`) validates against these definitions, :func:`json_schema`
generates a JSON Schema (draft 2020-12) from them, and documentation can be generated from
the same. Keep it declarative: facts live here, the logic that applies them lives in the
loader. Ranges are inclusive and follow the spec's "Clarifications (normative)"; where the
spec gives no range, the one here is a deliberate, documented choice.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final, Literal

FORMAT: Final = "mixrender/1"
"""The exact value of the top-level ``format`` key."""
FORMAT_MAJOR: Final = 1

Kind = Literal[
    "bool",  # true / false
    "int",  # a TOML integer
    "float",  # a TOML integer or float, finite
    "str",  # any string
    "enum",  # one of `choices` (strings)
    "position",  # a timeline position: seconds, or "bar:beat"; `choices` adds spellings ("auto")
    "note",  # a note value such as "1/8", "1/8d", "1/4t" (needs session.tempo_bpm)
    "list",  # a list: of `item`, or positional `items`
    "table",  # one nested table, described by `table`
    "tables",  # a list of tables: each `table`, or one of `variants` chosen by its "type" key
    "lanes",  # an automation table: lane target -> lane
]


@dataclass(frozen=True)
class Key:
    """One key of a table: its type, default, range and whether it may be automated."""

    name: str
    kind: Kind
    doc: str
    default: Any = None
    """The value when absent; None means "absent / off" unless `required`."""
    required: bool = False
    min: float | None = None
    max: float | None = None
    max_fs: float | None = None
    """Upper bound as a fraction of the session's sample_rate (freq_hz: 0.49)."""
    choices: tuple[Any, ...] = ()
    """Allowed values (enum strings, int values), or extra spellings of a position."""
    off: float | None = None
    """The value that spells "off" (-144 for a gain), named in range messages."""
    automatable: bool = False
    item: Key | None = None
    items: tuple[Key, ...] = ()
    table: Table | None = None
    variants: tuple[Table, ...] = ()
    pattern: str | None = None
    """A regular expression the string must match (documentation and JSON Schema)."""
    example: str | None = None
    """A TOML line to suggest when the key is missing."""
    index_of: Literal["strip", "ir"] | None = None
    """The string names a strip (a track or bus) or an impulse response file; the plan carries
    its index (into the plan's strips, or the impulse responses handed beside the plan)."""
    resolves_to: str | None = None
    """The plan carries this key resolved into that one (a note value into milliseconds), so
    it is not planned itself, and that key is always planned."""


@dataclass(frozen=True)
class Table:
    """A TOML table: a session, a track, one insert type, one eq band type, a lane..."""

    name: str
    doc: str
    keys: tuple[Key, ...]
    group: str = ""
    """For insert types, the family it belongs to ("dynamics", "tone", ...)."""

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(key.name for key in self.keys)

    def key(self, name: str) -> Key | None:
        for key in self.keys:
            if key.name == name:
                return key
        return None


# --- shared vocabulary --------------------------------------------------------------------

PAN_LAWS: Final = ("-3dB", "-4.5dB", "-6dB", "0dB")
TAPS: Final = ("post_fader", "pre_fader", "pre_inserts")
CURVES: Final = ("linear", "step", "smooth", "fast_start", "fast_end", "bezier")
DITHERS: Final = ("tpdf", "none")
BIT_DEPTHS: Final = (16, 24, 32)
SLOPES: Final = (6, 12, 18, 24, 36, 48)
Q_SLOPE: Final = 12
"""The only high/low-pass slope that takes a `q`; 6 is first order, higher are Butterworth."""
OVERSAMPLE: Final = (1, 2, 4, 8, 16)
METER_UNITS: Final = (1, 2, 4, 8, 16, 32, 64)
NOTE_DIVISIONS: Final = (1, 2, 4, 8, 16, 32, 64, 128)

MASTER: Final = "master"
"""The reserved name of the master bus, as an `output`."""
NAME_FORBIDDEN: Final = "./"
"""Characters no track, bus or insert name may contain (lane targets and files use them)."""
RESERVED_INSERT_NAMES: Final = ("sends",)
OFF_DB: Final = -144.0
MAX_POSITION_S: Final = 86400.0

# Limits (docs/limits.md): a mix is untrusted input, and these bound the time and memory of
# loading, checking and rendering one. Each is an error at load time naming the limit.
MAX_STRIPS: Final = 2048
"""Tracks + buses of one mix."""
MAX_LANE_POINTS: Final = 1_000_000
"""Points of one automation lane."""
MAX_OUTPUT_S: Final = 4 * 3600
"""The longest output, in seconds at the session rate (an explicit `end` or "auto")."""
MAX_NESTING: Final = 64
"""The deepest nesting of tables and arrays in the TOML text."""
MAX_MIX_BYTES: Final = 64 << 20
"""The largest mix file read (bounds the total of lane points; a real mix has kilobytes)."""
BAR_BEAT_PATTERN: Final = r"^\s*(\d+)\s*:\s*(\d+(?:\.\d*)?)\s*$"
"""Musical time: bar and beat, counting from 1; the beat may have a fraction ("33:2.5")."""
NOTE_PATTERN: Final = r"^\s*1\s*/\s*(\d+)\s*([dt]?)\s*$"
"""A note value: 1/d, dotted (d, x1.5) or triplet (t, x2/3)."""
NAME_PATTERN: Final = r"^[^./]*\S[^./]*$"

_OFF_GAIN = "-144 means off"


def _f(
    name: str,
    doc: str,
    default: float | None,
    lo: float | None,
    hi: float | None = None,
    *,
    max_fs: float | None = None,
    off: float | None = None,
    automatable: bool = True,
    required: bool = False,
) -> Key:
    return Key(
        name,
        "float",
        doc,
        default=default,
        required=required,
        min=lo,
        max=hi,
        max_fs=max_fs,
        off=off,
        automatable=automatable,
    )


def _gain(name: str, doc: str, default: float | None, hi: float, **kw: Any) -> Key:
    return _f(name, doc, default, OFF_DB, hi, off=OFF_DB, **kw)


def _freq(name: str, doc: str, default: float | None, **kw: Any) -> Key:
    return _f(name, doc, default, 1.0, max_fs=0.49, **kw)


def _off_hz(name: str, doc: str, **kw: Any) -> Key:
    """A frequency that is off unless the mix gives it."""
    return _freq(name, f"{doc}; default off", None, **kw)


def _ms(
    name: str,
    doc: str,
    default: float,
    hi: float = 10000.0,
    lo: float = 0.0,
    *,
    automatable: bool = True,
) -> Key:
    return _f(name, doc, default, lo, hi, automatable=automatable)


def _bool(name: str, doc: str, default: bool) -> Key:
    return Key(name, "bool", doc, default=default)


def _enum(name: str, doc: str, choices: tuple[str, ...], default: str | None) -> Key:
    return Key(name, "enum", doc, default=default, choices=choices)


def _name(doc: str) -> Key:
    return Key("name", "str", doc, required=True, pattern=NAME_PATTERN, example='name = "Lead Vox"')


_MIX = _f("mix", "wet/dry balance: (1 - mix) * dry + mix * wet", 1.0, 0.0, 1.0)

# --- automation -----------------------------------------------------------------------------

POINT: Final = Key(
    "point",
    "list",
    '[time, value], [time, value, "shape"] or [time, value, "bezier", tension]; '
    'time in seconds or "bar:beat"; the shape applies to the segment after the point',
    items=(
        Key("time", "position", "where the point sits", min=0.0, max=MAX_POSITION_S),
        Key("value", "float", "the key's value, in its own unit; 0/1 or false/true for mute"),
        Key("shape", "enum", "shape of the segment after this point", choices=CURVES),
        _f("tension", "bezier tension", None, -1.0, 1.0, automatable=False),
    ),
)

LANE: Final = Table(
    "lane",
    "An automation lane written as a table; a plain list of points is the same with defaults.",
    (
        Key("points", "list", "the breakpoints, in time order", required=True, item=POINT),
        _enum("curve", "the lane's default segment shape", CURVES, "linear"),
        _f("tension", "tension of bezier segments", 0.0, -1.0, 1.0, automatable=False),
    ),
)

_AUTOMATION = Key(
    "automation",
    "lanes",
    'lanes: target = [[time, value], ...] or {points, curve, tension}; targets are "gain_db", '
    '"trim_db", "pan", "width", "mute", "sends.<bus>.level_db", "sends.<bus>.pan", '
    '"<insert>.<key>" and "<eq insert>.bands.<N>.<gain_db|freq_hz|q>"',
    default=MappingProxyType({}),
)
_MASTER_AUTOMATION = Key(
    "automation", "lanes", 'lanes: "gain_db" and "<insert>.<key>"', default=MappingProxyType({})
)
_VCA_AUTOMATION = Key("automation", "lanes", 'lanes: "gain_db"', default=MappingProxyType({}))

# --- inserts ----------------------------------------------------------------------------------

INSERT_COMMON: Final = (
    Key("type", "enum", "the insert type", required=True),
    Key(
        "name",
        "str",
        'unique within the strip; default: the type, numbered when repeated ("eq", "eq2")',
        pattern=NAME_PATTERN,
    ),
    _bool("bypass", "pass the signal through untouched (latency is kept)", False),
)
"""Keys every insert takes; they are not part of an insert's params."""


def _insert(name: str, group: str, doc: str, *keys: Key) -> Table:
    kind = Key("type", "enum", "the insert type", required=True, choices=(name,))
    return Table(name, doc, (kind, *INSERT_COMMON[1:], *keys), group=group)


_SIDECHAIN = Key(
    "sidechain",
    "str",
    "a track or bus whose pre-fader signal keys the detector; default: the insert's own input",
    index_of="strip",
)

_BAND_FREQ = _freq("freq_hz", "the band's frequency (corner or centre)", None, required=True)
_BAND_GAIN = _f("gain_db", "the band's gain", 0.0, -48.0, 48.0)
_SLOPE = Key(
    "slope_db_oct",
    "int",
    "12 is one cookbook biquad; 6 is first order; 18..48 are Butterworth",
    default=Q_SLOPE,
    choices=SLOPES,
)


def _q(default: float, doc: str = "the band's Q") -> Key:
    return _f("q", doc, default, 0.01, 100.0)


def _band(name: str, doc: str, *keys: Key) -> Table:
    kind = Key("type", "enum", "the band type", required=True, choices=(name,))
    return Table(name, doc, (kind, _BAND_FREQ, *keys))


_PASS_Q = _q(0.7071, "Q of the 12 dB/oct filter only; refused at other slopes")

BAND_TYPES: Final = {
    table.name: table
    for table in (
        _band("highpass", "removes what is below freq_hz", _SLOPE, _PASS_Q),
        _band("lowpass", "removes what is above freq_hz", _SLOPE, _PASS_Q),
        _band("bell", "a peaking band (RBJ cookbook)", _BAND_GAIN, _q(1.0)),
        _band("lowshelf", "a low shelf (cookbook Q form)", _BAND_GAIN, _q(0.707)),
        _band("highshelf", "a high shelf (cookbook Q form)", _BAND_GAIN, _q(0.707)),
        _band("notch", "a notch (cookbook)", _q(1.0)),
        _band("bandpass", "a band-pass, constant 0 dB peak (cookbook)", _q(1.0)),
    )
}
"""EQ band types by name; each table lists the keys a band of that type takes."""

BAND_TYPES_WITH_SLOPE: Final = ("highpass", "lowpass")

INSERT_TYPES: Final = {
    table.name: table
    for table in (
        _insert(
            "gain",
            "level",
            "a plain gain and polarity switch",
            _gain("gain_db", "the gain", 0.0, 48.0),
            _bool("polarity", "true inverts", False),
        ),
        _insert(
            "eq",
            "tone",
            "a parametric EQ (RBJ Audio EQ Cookbook)",
            Key(
                "bands",
                "tables",
                "the bands, in order; each {type, freq_hz, gain_db, q, slope_db_oct}",
                default=(),
                variants=tuple(BAND_TYPES.values()),
            ),
        ),
        _insert(
            "compressor",
            "dynamics",
            "a feed-forward compressor (Giannoulis, Massberg and Reiss, 2012)",
            _f("threshold_db", "where compression starts", -20.0, OFF_DB, 0.0),
            _f("ratio", "input dB over output dB above the threshold", 4.0, 1.0),
            _f("knee_db", "soft knee width, centred on the threshold", 0.0, 0.0, 48.0),
            _ms("attack_ms", "attack time constant", 10.0),
            _ms("release_ms", "release time constant", 100.0),
            _f("makeup_db", "gain after compression", 0.0, -48.0, 48.0),
            _enum("detector", "level detector", ("peak", "rms"), "peak"),
            _ms("rms_ms", "RMS averaging time constant", 10.0, lo=0.01),
            _SIDECHAIN,
            _off_hz("sidechain_hpf_hz", "high-pass on the detector"),
            _bool("stereo_link", "one gain for both channels", True),
            _MIX,
        ),
        _insert(
            "gate",
            "dynamics",
            "a noise gate",
            _f("threshold_db", "below this the gate closes", -50.0, OFF_DB, 0.0),
            _f("range_db", "attenuation when closed", -80.0, OFF_DB, 0.0),
            _ms("attack_ms", "opening time constant", 1.0),
            _ms("hold_ms", "time held open after the signal drops", 20.0),
            _ms("release_ms", "closing time constant", 100.0),
            _SIDECHAIN,
        ),
        _insert(
            "limiter",
            "dynamics",
            "a lookahead peak limiter",
            _f("ceiling_db", "the output ceiling", -1.0, -60.0, 0.0),
            _ms("release_ms", "release time constant", 50.0),
            _ms(
                "lookahead_ms",
                "lookahead (reported as latency; fixed for the render)",
                5.0,
                hi=100.0,
                automatable=False,
            ),
            _bool("true_peak", "limit the true (inter-sample) peak", False),
        ),
        _insert(
            "deesser",
            "dynamics",
            "a de-esser",
            _freq("freq_hz", "detector high-pass and split frequency", 6500.0),
            _f("threshold_db", "where reduction starts", -30.0, OFF_DB, 0.0),
            _f("range_db", "the most reduction", -12.0, OFF_DB, 0.0),
            _bool("split", "reduce only the band above freq_hz", True),
        ),
        _insert(
            "saturation",
            "colour",
            "a waveshaper",
            _f("drive_db", "gain into the shaper", 6.0, -48.0, 48.0),
            _enum("shape", "the curve", ("tanh", "soft"), "tanh"),
            Key(
                "oversample",
                "int",
                "oversampling factor (sets the latency; fixed for the render)",
                default=8,
                choices=OVERSAMPLE,
            ),
            _f("output_db", "gain after the shaper", 0.0, -48.0, 48.0),
            _MIX,
        ),
        _insert(
            "delay",
            "space",
            "a feedback delay; give time_ms or time",
            _f("time_ms", "the delay time in milliseconds", None, 0.0, 10000.0),
            Key(
                "time",
                "note",
                'the delay time as a note value ("1/8", "1/8d", "1/4t"); needs tempo_bpm',
                pattern=NOTE_PATTERN,
                resolves_to="time_ms",
            ),
            _f("feedback", "feedback gain", 0.3, -0.99, 0.99),
            _bool("ping_pong", "alternate left and right (makes the signal stereo)", False),
            _off_hz("lowcut_hz", "high-pass in the feedback path"),
            _off_hz("highcut_hz", "low-pass in the feedback path"),
            _MIX,
        ),
        _insert(
            "reverb",
            "space",
            "an algorithmic reverb",
            _f("decay_s", "decay time", 1.8, 0.01, 60.0),
            _ms("predelay_ms", "time before the reverb starts", 0.0, hi=1000.0),
            _f("size", "room size", 0.5, 0.0, 1.0),
            _freq("damping_hz", "high-frequency damping", 8000.0),
            _f("width", "stereo width of the tail", 1.0, 0.0, 2.0),
            _MIX,
        ),
        _insert(
            "convolution",
            "space",
            "a convolution reverb with an impulse response file",
            Key(
                "ir",
                "str",
                "the impulse response (a WAV file), relative to the mix file",
                required=True,
                index_of="ir",
            ),
            _ms("predelay_ms", "time before the response starts", 0.0, hi=1000.0),
            _gain("gain_db", "gain of the wet path", 0.0, 48.0),
            _MIX,
        ),
        _insert(
            "width",
            "stereo",
            "stereo width (mid/side)",
            _f("width", "0 = mono, 1 = as is, up to 2", 1.0, 0.0, 2.0),
            _off_hz(
                "mono_below_hz",
                "the side signal is high-passed here (2nd-order Butterworth), so the low end "
                "folds to mono",
                automatable=False,
            ),
        ),
        _insert(
            "tilt",
            "tone",
            "a spectral tilt: gain_db * log2(f / freq_hz) dB, within 0.5 dB over 20 Hz - 20 kHz",
            _f("gain_db", "the tilt, in dB per octave (positive: brighter)", 0.0, -6.0, 6.0),
            _f("freq_hz", "the pivot, where the gain is 0 dB", 1000.0, 20.0, 20000.0),
        ),
    )
}
"""The v1 insert types by name; each table lists the keys that type takes."""

INSERT_COMMON_NAMES: Final = tuple(key.name for key in INSERT_COMMON)
SIDECHAIN_TYPES: Final = tuple(name for name, t in INSERT_TYPES.items() if t.key("sidechain"))

_INSERTS = Key(
    "insert",
    "tables",
    "inserts in signal order, each [[<strip>.insert]] with a type",
    default=(),
    variants=tuple(INSERT_TYPES.values()),
)

# --- strips -----------------------------------------------------------------------------------

SEND: Final = Table(
    "send",
    "one entry of a strip's sends list",
    (
        Key("to", "str", "the destination bus", required=True),
        _gain("level_db", "the send level", None, 24.0, required=True),
        _enum("tap", "where the send takes its signal", TAPS, "post_fader"),
        _f("pan", "where the send places its signal in the bus", 0.0, -1.0, 1.0),
    ),
)

_STRIP_COMMON = (
    _gain("gain_db", "the fader, after the inserts", 0.0, 24.0),
    _f(
        "trim_db",
        "post-fader trim, added in dB to the fader and its lane: the revision knob for an "
        "automated fader",
        0.0,
        -48.0,
        24.0,
    ),
    _f("pan", "mono: pan law; stereo: balance", 0.0, -1.0, 1.0),
    _f("width", "stereo width: 0 = mono fold, 1 = as is, up to 2", 1.0, 0.0, 2.0),
    _bool("polarity", "true inverts", False),
    Key("mute", "bool", "silence the strip and its sends", default=False, automatable=True),
    _bool("solo", "solo in place", False),
    Key("output", "str", 'a bus name or "master"', default=MASTER),
    Key("pan_law", "enum", "overrides the session's pan law", choices=PAN_LAWS),
    Key("sends", "tables", "sends to buses, at most one per bus", default=(), table=SEND),
    _INSERTS,
    _AUTOMATION,
)

TRACK: Final = Table(
    "track",
    "a source file and its channel strip",
    (
        _name("unique among tracks and buses; no '.' or '/'; not \"master\""),
        Key(
            "source",
            "str",
            "the audio file, relative to the mix file",
            required=True,
            example='source = "stems/vocal.wav"',
        ),
        Key(
            "offset_s",
            "position",
            "where the source's first sample sits on the timeline",
            default=0.0,
            min=0.0,
            max=MAX_POSITION_S,
        ),
        _f("clip_gain_db", "gain staging before every insert", 0.0, -96.0, 48.0, automatable=False),
        *_STRIP_COMMON,
    ),
)

BUS: Final = Table(
    "bus",
    "a mix bus or aux return: a strip fed by outputs and sends",
    (_name("unique among tracks and buses; no '.' or '/'; not \"master\""), *_STRIP_COMMON),
)

MASTER_TABLE: Final = Table(
    "master",
    "the master bus",
    (
        _gain("gain_db", "the master fader, after the master inserts", 0.0, 24.0),
        _INSERTS,
        _MASTER_AUTOMATION,
    ),
)

VCA: Final = Table(
    "vca",
    "a VCA group: its gain_db is added to its members' faders",
    (
        Key("name", "str", "unique among VCAs", required=True),
        _gain("gain_db", "added to each member's fader", 0.0, 24.0),
        Key(
            "members",
            "list",
            "track and bus names",
            required=True,
            item=Key("member", "str", "a track or bus name"),
        ),
        _VCA_AUTOMATION,
    ),
)

# --- session, render, top level ----------------------------------------------------------------

SESSION: Final = Table(
    "session",
    "timeline settings",
    (
        Key("name", "str", "a title for people"),
        Key(
            "sample_rate",
            "int",
            "the output sample rate",
            required=True,
            min=8000,
            max=384000,
            example="sample_rate = 48000",
        ),
        _f(
            "tempo_bpm",
            "beats a minute; needed for bar:beat and note values",
            None,
            1.0,
            999.0,
            automatable=False,
        ),
        Key(
            "meter",
            "list",
            "[beats a bar, the beat's note value]; [6, 8] counts six eighths",
            default=(4, 4),
            items=(
                Key("beats", "int", "beats a bar", min=1, max=64),
                Key("unit", "int", "the note value of a beat", choices=METER_UNITS),
            ),
        ),
        _enum("pan_law", "pan law of mono strips", PAN_LAWS, "-3dB"),
        Key(
            "end",
            "position",
            '"auto" (last source + tail_s), seconds or "bar:beat"',
            default="auto",
            choices=("auto",),
            min=0.0,
            max=MAX_POSITION_S,
        ),
        _f(
            "tail_s",
            'with end = "auto": time after the last source',
            2.0,
            0.0,
            3600.0,
            automatable=False,
        ),
    ),
)

RENDER: Final = Table(
    "render",
    "output settings",
    (
        Key(
            "bit_depth",
            "int",
            "16, 24 or 32 (IEEE float, no dither)",
            default=24,
            choices=BIT_DEPTHS,
        ),
        _enum("dither", '"tpdf" (default for 16 and 24 bit) or "none"', DITHERS, "tpdf"),
        Key("seed", "int", "seeds the dither noise", default=0, min=0, max=2**63 - 1),
        _f(
            "loudness_lufs",
            "integrated loudness target of the master; default off",
            None,
            -70.0,
            0.0,
            automatable=False,
        ),
        _f(
            "true_peak_ceiling_db",
            "with loudness_lufs: the highest true peak allowed",
            -1.0,
            -20.0,
            0.0,
            automatable=False,
        ),
    ),
)

TOP: Final = Table(
    "mix",
    "a mix file",
    (
        Key(
            "format",
            "enum",
            'exactly "mixrender/1"',
            required=True,
            choices=(FORMAT,),
            example=f'format = "{FORMAT}"',
        ),
        Key(
            "session",
            "table",
            "timeline settings",
            required=True,
            table=SESSION,
            example="[session]\nsample_rate = 48000",
        ),
        Key("render", "table", "output settings", default=MappingProxyType({}), table=RENDER),
        Key("track", "tables", "[[track]]: the tracks, in order", default=(), table=TRACK),
        Key("bus", "tables", "[[bus]]: the buses, in order", default=(), table=BUS),
        Key("master", "table", "the master bus", default=MappingProxyType({}), table=MASTER_TABLE),
        Key("vca", "tables", "[[vca]]: VCA groups", default=(), table=VCA),
    ),
)
"""The whole file."""


def lane_keys(table: Table) -> dict[str, Key]:
    """The keys of a table that automation lanes may target, by name."""
    return {key.name: key for key in table.keys if key.automatable}


# --- JSON Schema ---------------------------------------------------------------------------------

_JSON_MAX_RATE = 384000


def json_schema() -> dict[str, Any]:
    """A JSON Schema (draft 2020-12) of ``mixrender/1``, generated from the tables above.

    It checks structure, types, enums and static ranges. What it cannot express (ranges that
    depend on the sample rate, names that must exist, routing cycles, lane targets written
    as dotted TOML keys) is left to the loader; the descriptions say so where it matters.
    """
    schema = _table_schema(TOP)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:mixrender:format:1",
        "title": f"mixrender mix file ({FORMAT})",
        **schema,
        "$defs": {
            "lane": {
                "description": LANE.doc,
                "anyOf": [_key_schema(LANE.keys[0]), _table_schema(LANE)],
            },
            "lanes": {
                "type": "object",
                "description": "lane target -> lane; dotted TOML keys nest, so a value may "
                "also be a table of further target parts",
                "additionalProperties": {
                    "anyOf": [{"$ref": "#/$defs/lane"}, {"$ref": "#/$defs/lanes"}]
                },
            },
        },
    }


def _table_schema(table: Table) -> dict[str, Any]:
    return {
        "type": "object",
        "description": table.doc,
        "properties": {key.name: _key_schema(key) for key in table.keys},
        "required": [key.name for key in table.keys if key.required],
        "additionalProperties": False,
    }


def _number_bounds(key: Key) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if key.min is not None:
        out["minimum"] = key.min
    if key.max is not None:
        out["maximum"] = key.max
    elif key.max_fs is not None:
        out["maximum"] = key.max_fs * _JSON_MAX_RATE
    return out


def _describe(key: Key) -> str:
    notes = [key.doc]
    if key.max_fs is not None:
        notes.append(f"at most {key.max_fs} x sample_rate")
    if key.off is not None:
        notes.append(f"{key.off:g} means off")
    if key.automatable:
        notes.append("automatable")
    return "; ".join(notes)


def _key_schema(key: Key) -> dict[str, Any]:
    out: dict[str, Any] = {"description": _describe(key)}
    if key.default is not None and key.kind not in ("table", "lanes"):
        out["default"] = list(key.default) if isinstance(key.default, tuple) else key.default
    if key.kind == "bool":
        out["type"] = "boolean"
    elif key.kind in ("int", "float"):
        out["type"] = "integer" if key.kind == "int" else "number"
        if key.choices:
            out["enum"] = list(key.choices)
        out.update(_number_bounds(key))
    elif key.kind == "str":
        out["type"] = "string"
        if key.pattern:
            out["pattern"] = key.pattern
    elif key.kind == "enum":
        out["type"] = "string"
        if key.choices:
            out["enum"] = list(key.choices)
    elif key.kind == "note":
        out.update(type="string", pattern=NOTE_PATTERN)
    elif key.kind == "position":
        options: list[dict[str, Any]] = [
            {"type": "number", **_number_bounds(key)},
            {"type": "string", "pattern": BAR_BEAT_PATTERN},
        ]
        options += [{"const": choice} for choice in key.choices]
        out["anyOf"] = options
    elif key.kind == "list":
        out["type"] = "array"
        if key.items:
            out["prefixItems"] = [_key_schema(item) for item in key.items]
            if key is POINT:
                out.update(minItems=2, maxItems=len(key.items))
                out["prefixItems"][1]["type"] = ["number", "boolean"]  # mute lanes: true/false
            else:
                out.update(minItems=len(key.items), maxItems=len(key.items))
            out["items"] = False
        elif key.item is not None:
            out["items"] = _key_schema(key.item)
    elif key.kind == "table":
        assert key.table is not None
        out.update(_table_schema(key.table))
        out["description"] = key.doc
    elif key.kind == "tables":
        out["type"] = "array"
        if key.table is not None:
            out["items"] = _table_schema(key.table)
        else:
            out["items"] = {"oneOf": [_variant_schema(t) for t in key.variants]}
    elif key.kind == "lanes":
        out["$ref"] = "#/$defs/lanes"
    return out


def _variant_schema(table: Table) -> dict[str, Any]:
    schema = _table_schema(table)
    schema["properties"]["type"] = {"const": table.name, "description": table.doc}
    return schema


def main(argv: list[str]) -> int:
    """``--json``: print the JSON Schema. (The engine's Rust files are written by
    ``python -m mixrender.rustgen``.)"""
    import json
    import sys

    if argv == ["--json"]:
        sys.stdout.write(json.dumps(json_schema(), indent=2, sort_keys=True) + "\n")
        return 0
    sys.stderr.write("usage: python -m mixrender.schema --json\n")
    return 2


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
