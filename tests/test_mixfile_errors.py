"""The mix-file loader: a full mix loads and resolves; every kind of mistake is refused.

Each error test writes a small mix file and checks that the message names the file, the
right line and the path inside the mix, so a user can go straight to the mistake. Pure
parsing: no audio is read.
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
import tomllib
from pathlib import Path

import pytest

if importlib.util.find_spec("mixrender") is None:  # not installed: use the source tree
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))

from mixrender import schema
from mixrender.errors import MixFileError, RoutingError
from mixrender.mixfile import load_mixfile, note_seconds, parse_mixfile
from mixrender.model import mix_error

HEAD = """\
format = "mixrender/1"

[session]
sample_rate = 48000
tempo_bpm = 120.0
"""
"""Lines 1-5 of most mixes below; their own text starts on line 6."""


def write(tmp_path: Path, text: str, name: str = "song.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def refused(
    tmp_path: Path,
    text: str,
    *,
    line: int | None,
    path: str,
    contains: tuple[str, ...] = (),
    error: type[MixFileError] = MixFileError,
) -> MixFileError:
    """Load `text` and check the error: its class, file, line, path and words."""
    file = write(tmp_path, text)
    with pytest.raises(error) as caught:
        load_mixfile(file)
    exc = caught.value
    message = str(exc)
    where = f"{file}:{line}: " if line is not None else f"{file}: "
    assert message.startswith(where), f"expected {where!r} in {message!r}"
    assert exc.line == line, message
    assert exc.path == path, message
    assert f": {path}: " in message or not path, message
    for words in contains:
        assert words in message, f"{words!r} not in {message!r}"
    return exc


def line_of(text: str, needle: str, nth: int = 1) -> int:
    """The 1-based line of the nth line containing `needle` (so tests need no hand counting)."""
    hits = [number for number, line in enumerate(text.splitlines(), start=1) if needle in line]
    return hits[nth - 1]


# --- a realistic mix with every key -----------------------------------------------------------

FULL = """\
format = "mixrender/1"        # required

[session]
name = "Ballad, mix 3"
sample_rate = 48000
tempo_bpm = 92.0
meter = [4, 4]
pan_law = "-3dB"
end = "auto"
tail_s = 3.0

[render]
bit_depth = 24
dither = "tpdf"
seed = 7
loudness_lufs = -14.0
true_peak_ceiling_db = -1.0

[[track]]
name = "Lead Vox"
source = "stems/Lead_Vocal.wav"
offset_s = "2:1"
clip_gain_db = 0.0
gain_db = -3.5
pan = -0.1
width = 1.0
polarity = false
mute = false
solo = false
output = "Vocals"
pan_law = "-4.5dB"
sends = [
  { to = "Plate", level_db = -14.0 },
  { to = "Slap",  level_db = -20.0, tap = "pre_fader", pan = 0.3 },
  { to = "Crush", level_db = -6.0,  tap = "pre_inserts" },
]

  [[track.insert]]
  type = "eq"
  bands = [
    { type = "highpass", freq_hz = 90.0, slope_db_oct = 12 },
    { type = "bell", freq_hz = 3200.0, gain_db = -2.5, q = 1.4 },
    { type = "highshelf", freq_hz = 10000.0, gain_db = 1.5 },
    { type = "lowpass", freq_hz = 18000.0, slope_db_oct = 24 },
    { type = "lowshelf", freq_hz = 120.0 },
    { type = "notch", freq_hz = 60.0, q = 8.0 },
    { type = "bandpass", freq_hz = 1000.0 },
  ]

  [[track.insert]]
  type = "compressor"
  threshold_db = -18.0
  ratio = 3.0
  attack_ms = 10.0
  release_ms = 120.0
  knee_db = 6.0
  makeup_db = 2.0
  detector = "rms"
  rms_ms = 20.0
  sidechain_hpf_hz = 100.0
  stereo_link = true
  mix = 0.8

  [[track.insert]]
  type = "eq"
  bands = [{ type = "bell", freq_hz = 250.0, gain_db = -1.0 }]

  [[track.insert]]
  type = "deesser"
  freq_hz = 6500.0
  threshold_db = -30.0
  range_db = -12.0
  split = true

  [[track.insert]]
  name = "warmth"
  type = "saturation"
  drive_db = 6.0
  shape = "soft"
  oversample = 8
  output_db = -1.0
  mix = 0.5
  bypass = true

  [track.automation]
  gain_db = [[0.0, -3.5], [61.2, -3.5], [62.0, -1.5], ["33:1", -1.5], ["41:1", -3.5]]
  "sends.Plate.level_db" = { points = [[0.0, -14.0], [62.0, -10.0]], curve = "smooth" }
  sends.Slap.pan = [[0.0, 0.3], [10.0, -0.3, "bezier", 0.5], [20.0, 0.0]]
  "compressor.threshold_db" = [[0.0, -18.0], [90.0, -22.0]]
  eq.bands.2.gain_db = { points = [
    [0.0, -2.5],
    ["9:2.5", 0.0, "fast_end"],  # bar 9, half way through beat 2
  ], curve = "bezier", tension = -0.25 }
  mute = [[0.0, 0], [30.0, true], [31.0, 0]]

[[track]]
name = "Kick"
source = "/abs/stems/kick.wav"
output = "Drums"
  [[track.insert]]
  type = "gate"
  threshold_db = -40.0
  range_db = -60.0
  attack_ms = 0.5
  hold_ms = 30.0
  release_ms = 80.0
  sidechain = "Snare"

  [[track.insert]]
  type = "gain"
  gain_db = 2.0
  polarity = true

[[track]]
name = "Snare"
source = "stems/snare.wav"
output = "Drums"

[[bus]]
name = "Vocals"
gain_db = 0.0
pan = 0.0
width = 1.0
polarity = false
mute = false
solo = false
output = "master"
pan_law = "0dB"
sends = [{ to = "Plate", level_db = -20.0 }]
  [[bus.insert]]
  type = "compressor"
  threshold_db = -12.0
  ratio = 2.0
  sidechain = "Kick"

[[bus]]
name = "Drums"
  [[bus.insert]]
  type = "width"
  width = 1.2
  mono_below_hz = 120.0

[[bus]]
name = "Plate"
  [[bus.insert]]
  type = "reverb"
  decay_s = 2.2
  predelay_ms = 20.0
  size = 0.6
  damping_hz = 7000.0
  width = 1.0
  mix = 1.0

[[bus]]
name = "Slap"
  [[bus.insert]]
  type = "delay"
  time = "1/8d"
  feedback = 0.2
  ping_pong = true
  lowcut_hz = 200.0
  highcut_hz = 6000.0
  mix = 1.0
  [[bus.insert]]
  type = "delay"
  time_ms = 120.0
  [bus.automation]
  "delay2.time_ms" = [[0.0, 120.0], [5.0, 240.0, "step"]]

[[bus]]
name = "Crush"
  [[bus.insert]]
  type = "convolution"
  ir = "irs/hall.wav"
  predelay_ms = 5.0
  gain_db = -3.0
  mix = 0.7

[master]
gain_db = 0.0
  [[master.insert]]
  type = "limiter"
  ceiling_db = -1.0
  release_ms = 50.0
  lookahead_ms = 5.0
  true_peak = true
  [master.automation]
  gain_db = [[0.0, 0.0], ["65:1", -144.0]]
  "limiter.ceiling_db" = [[0.0, -1.0]]

[[vca]]
name = "All Vox"
gain_db = -1.0
members = ["Lead Vox", "Vocals"]
  [vca.automation]
  gain_db = [[0.0, -1.0], [30.0, 0.0]]
"""


def test_full_mix_loads_and_resolves(tmp_path: Path) -> None:
    mix = load_mixfile(write(tmp_path, FULL))
    assert mix.path == tmp_path / "song.toml"
    assert mix.format == "mixrender/1"
    beat = 60.0 / 92.0

    s = mix.session
    assert (s.name, s.sample_rate, s.tempo_bpm, s.meter) == ("Ballad, mix 3", 48000, 92.0, (4, 4))
    assert (s.pan_law, s.end, s.tail_s) == ("-3dB", None, 3.0)
    r = mix.render
    assert (r.bit_depth, r.dither, r.seed, r.loudness_lufs, r.true_peak_ceiling_db) == (
        24,
        True,
        7,
        -14.0,
        -1.0,
    )

    assert [t.name for t in mix.tracks] == ["Lead Vox", "Kick", "Snare"]
    assert [b.name for b in mix.buses] == ["Vocals", "Drums", "Plate", "Slap", "Crush"]
    vox = mix.strip("Lead Vox")
    assert vox.label == 'track "Lead Vox"'
    assert vox.line == line_of(FULL, "[[track]]")
    assert vox.offset_s == pytest.approx(4 * beat)  # "2:1": one bar of four beats
    assert vox.source_path == tmp_path / "stems" / "Lead_Vocal.wav"
    assert mix.strip("Kick").source_path == Path("/abs/stems/kick.wav")
    assert (vox.gain_db, vox.pan, vox.output, vox.pan_law) == (-3.5, -0.1, "Vocals", "-4.5dB")
    assert [(x.to, x.level_db, x.tap, x.pan, x.index) for x in vox.sends] == [
        ("Plate", -14.0, "post_fader", 0.0, 1),
        ("Slap", -20.0, "pre_fader", 0.3, 2),
        ("Crush", -6.0, "pre_inserts", 0.0, 3),
    ]
    assert vox.sends[1].line == line_of(FULL, '{ to = "Slap"')

    names = [i.name for i in vox.inserts]
    assert names == ["eq", "compressor", "eq2", "deesser", "warmth"]
    eq = vox.inserts[0]
    assert eq.line == line_of(FULL, "[[track.insert]]")
    bands = eq.params["bands"]
    assert dict(bands[0]) == {"type": "highpass", "freq_hz": 90.0, "slope_db_oct": 12, "q": 0.7071}
    assert bands[1]["q"] == 1.4 and bands[2]["q"] == 0.707 and bands[2]["gain_db"] == 1.5
    assert bands[3]["q"] is None  # 24 dB/oct is Butterworth: no q
    assert bands[4]["gain_db"] == 0.0 and bands[4]["q"] == 0.707
    assert bands[6]["q"] == 1.0
    comp = vox.inserts[1].params
    assert comp["sidechain"] is None and comp["detector"] == "rms" and comp["mix"] == 0.8
    assert set(comp) == set(schema.INSERT_TYPES["compressor"].names) - {"type", "name", "bypass"}
    assert vox.inserts[4].bypass and vox.inserts[4].params["oversample"] == 8

    lanes = vox.automation
    assert list(lanes) == [
        "gain_db",
        "sends.Plate.level_db",
        "sends.Slap.pan",
        "compressor.threshold_db",
        "eq.bands.2.gain_db",
        "mute",
    ]
    gain = lanes["gain_db"]
    assert gain.curve == "linear" and gain.tension == 0.0
    assert [p.seconds for p in gain.points][-2:] == pytest.approx([128 * beat, 160 * beat])
    assert gain.points[0].line == line_of(FULL, "gain_db = [[0.0, -3.5]")
    assert lanes["sends.Plate.level_db"].curve == "smooth"
    slap = lanes["sends.Slap.pan"].points[1]
    assert (slap.shape, slap.tension, slap.value) == ("bezier", 0.5, -0.3)
    band = lanes["eq.bands.2.gain_db"]
    assert (band.curve, band.tension) == ("bezier", -0.25)
    assert band.points[1].seconds == pytest.approx((8 * 4 + 1.5) * beat)
    assert band.points[1].shape == "fast_end"
    mute = lanes["mute"]
    assert mute.curve == "step" and [p.value for p in mute.points] == [0.0, 1.0, 0.0]

    kick = mix.strip("Kick")
    assert kick.inserts[0].params["sidechain"] == "Snare"
    assert kick.inserts[1].params == {"gain_db": 2.0, "polarity": True}
    assert (kick.offset_s, kick.clip_gain_db, kick.width, kick.sends) == (0.0, 0.0, 1.0, ())

    vocals = mix.strip("Vocals")
    assert vocals.kind == "bus" and vocals.source is None and vocals.source_path is None
    assert vocals.label == 'bus "Vocals"'
    slap_bus = mix.strip("Slap")
    assert [i.name for i in slap_bus.inserts] == ["delay", "delay2"]
    assert slap_bus.inserts[0].params["time"] == "1/8d"
    assert slap_bus.inserts[0].params["time_ms"] is None
    assert note_seconds("1/8d", mix.session) == pytest.approx(0.75 * beat)
    assert slap_bus.automation["delay2.time_ms"].points[1].shape == "step"
    crush = mix.strip("Crush").inserts[0].params
    assert crush["ir"] == "irs/hall.wav" and crush["ir_path"] == tmp_path / "irs" / "hall.wav"
    reverb = mix.strip("Plate").inserts[0].params
    assert reverb["damping_hz"] == 7000.0 and reverb["size"] == 0.6

    assert mix.master.gain_db == 0.0
    assert mix.master.inserts[0].name == "limiter"
    assert mix.master.inserts[0].params["true_peak"] is True
    assert list(mix.master.automation) == ["gain_db", "limiter.ceiling_db"]
    assert mix.master.automation["gain_db"].points[1].seconds == pytest.approx(256 * beat)

    (vca,) = mix.vcas
    assert (vca.name, vca.gain_db, vca.members) == ("All Vox", -1.0, ("Lead Vox", "Vocals"))
    assert vca.line == line_of(FULL, "[[vca]]")
    assert list(vca.automation) == ["gain_db"]

    assert mix.line_of("track", 0, "sends", 1, "level_db") == line_of(FULL, '{ to = "Slap"')
    assert mix.line_of("bus", 3, "insert", 1, "time_ms") == line_of(FULL, "time_ms = 120.0")
    # A key that is not written falls back to its table: Slap's second [[bus.insert]].
    assert mix.line_of("bus", 3, "insert", 1, "feedback") == line_of(FULL, "[[bus.insert]]", 5)
    assert mix.line_of("nothing", "here") is None
    assert mix.keypath_of(mix.strip("Plate")) == ("bus", 2)
    with pytest.raises(KeyError):
        mix.strip("Nope")


def test_minimal_mix_fills_defaults(tmp_path: Path) -> None:
    text = HEAD + '[[track]]\nname = "A"\nsource = "a.wav"\n[render]\nbit_depth = 32\n'
    mix = load_mixfile(write(tmp_path, text))
    assert mix.session.meter == (4, 4) and mix.session.end is None and mix.session.tail_s == 2.0
    assert mix.render.bit_depth == 32 and mix.render.dither is False  # float output: no dither
    (track,) = mix.tracks
    assert (track.gain_db, track.pan, track.width, track.output) == (0.0, 0.0, 1.0, "master")
    assert (track.polarity, track.mute, track.solo, track.pan_law) == (False, False, False, None)
    assert mix.master.inserts == () and dict(mix.master.automation) == {}
    assert mix.buses == () and mix.vcas == ()


def test_meter_and_numeric_end(tmp_path: Path) -> None:
    text = """\
format = "mixrender/1"
[session]
sample_rate = 44100
tempo_bpm = 180
meter = [6, 8]
end = "3:4"
"""
    mix = load_mixfile(write(tmp_path, text))
    # Six eighths a bar at 180 eighths a minute: bar 3, beat 4 is 12 + 3 = 15 eighths in.
    assert mix.session.end == pytest.approx(15 * 60 / 180)
    assert note_seconds("1/4", mix.session) == pytest.approx(2 * 60 / 180)


def test_mix_error_helper_points_at_a_line(tmp_path: Path) -> None:
    text = HEAD + '[[track]]\nname = "A"\nsource = "a.wav"\n'
    mix = load_mixfile(write(tmp_path, text))
    track = mix.tracks[0]
    exc = mix_error(mix, (*mix.keypath_of(track), "source"), f"{track.label} > source", "bad")
    assert str(exc) == f'{mix.path}:8: track "A" > source: bad'
    assert isinstance(mix_error(mix, ("track", 0), "x", "y", error=RoutingError), RoutingError)


def test_json_schema_is_generated() -> None:
    generated = schema.json_schema()
    assert generated["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert set(generated["properties"]) == {
        "format",
        "session",
        "render",
        "track",
        "bus",
        "master",
        "vca",
    }
    assert generated["required"] == ["format", "session"]
    track = generated["properties"]["track"]["items"]
    assert track["properties"]["gain_db"]["minimum"] == -144.0
    assert track["additionalProperties"] is False
    json.dumps(generated)  # plain JSON data throughout


def test_json_schema_accepts_the_full_mix_and_refuses_a_typo() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(schema.json_schema())
    validator.check_schema(validator.schema)
    assert list(validator.iter_errors(tomllib.loads(FULL))) == []
    typo = tomllib.loads(HEAD + '[[track]]\nname = "A"\nsource = "a.wav"\ngian_db = 1.0\n')
    assert not validator.is_valid(typo)


# --- the file itself ------------------------------------------------------------------------------


def test_toml_syntax_error_names_its_line(tmp_path: Path) -> None:
    text = HEAD + "[[track]]\nname = \n"
    refused(tmp_path, text, line=7, path="", contains=("TOML syntax error",))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MixFileError, match="cannot read the mix file"):
        load_mixfile(tmp_path / "absent.toml")


def test_parse_mixfile_takes_text(tmp_path: Path) -> None:
    with pytest.raises(MixFileError) as caught:
        parse_mixfile('format = "mixrender/1"\n', tmp_path / "x.toml")
    assert str(caught.value).startswith(f"{tmp_path / 'x.toml'}:1: session: ")


# --- format ---------------------------------------------------------------------------------------


def test_missing_format(tmp_path: Path) -> None:
    text = "[session]\nsample_rate = 48000\n"
    refused(tmp_path, text, line=1, path="format", contains=('format = "mixrender/1"',))


def test_newer_format_major_is_refused(tmp_path: Path) -> None:
    text = 'format = "mixrender/2"\n[session]\nsample_rate = 48000\n'
    refused(
        tmp_path,
        text,
        line=1,
        path="format",
        contains=("mixrender/2 is a newer major version", "(mixrender/1)", "upgrade mixrender"),
    )


def test_other_format_is_explained(tmp_path: Path) -> None:
    text = '\n\nformat = "mixrender-1"\n[session]\nsample_rate = 48000\n'
    refused(tmp_path, text, line=3, path="format", contains=('expected format = "mixrender/1"',))


# --- keys, types, ranges --------------------------------------------------------------------------


def test_unknown_key_did_you_mean(tmp_path: Path) -> None:
    text = HEAD + '[[track]]\nname = "Lead Vox"\nsource = "a.wav"\ngian_db = -3.0\n'
    refused(
        tmp_path,
        text,
        line=9,
        path='track "Lead Vox" > gian_db',
        contains=('unknown key "gian_db"; did you mean "gain_db"?',),
    )


def test_unknown_key_without_close_match_lists_allowed(tmp_path: Path) -> None:
    text = HEAD + "flavour = 3\n"
    refused(
        tmp_path, text, line=6, path="session > flavour", contains=("allowed keys:", '"tempo_bpm"')
    )


def test_unknown_top_level_key(tmp_path: Path) -> None:
    text = HEAD + '[[tracks]]\nname = "A"\n'
    refused(tmp_path, text, line=6, path="tracks", contains=('did you mean "track"?',))


def test_send_level_out_of_range(tmp_path: Path) -> None:
    text = (
        HEAD
        + '[[track]]\nname = "Lead Vox"\nsource = "v.wav"\nsends = [\n'
        + '  { to = "Plate", level_db = -14.0 },\n'
        + '  { to = "Slap", level_db = 30.0 },\n]\n'
        + '[[bus]]\nname = "Plate"\n[[bus]]\nname = "Slap"\n'
    )
    refused(
        tmp_path,
        text,
        line=11,
        path='track "Lead Vox" > sends[2] > level_db',
        contains=("level_db = 30.0 is out of range; allowed -144 .. 24 (-144 means off)",),
    )


def test_insert_value_out_of_range(tmp_path: Path) -> None:
    text = (
        HEAD
        + '[[track]]\nname = "Lead Vox"\nsource = "v.wav"\n'
        + '  [[track.insert]]\n  name = "comp"\n  type = "compressor"\n  ratio = 0.5\n'
    )
    refused(
        tmp_path,
        text,
        line=12,
        path='track "Lead Vox" > insert "comp" > ratio',
        contains=("ratio = 0.5 is out of range; allowed >= 1",),
    )


def test_frequency_bound_follows_sample_rate(tmp_path: Path) -> None:
    text = (
        HEAD
        + '[[bus]]\nname = "Plate"\n  [[bus.insert]]\n  type = "reverb"\n  damping_hz = 30000.0\n'
    )
    refused(
        tmp_path,
        text,
        line=10,
        path='bus "Plate" > insert "reverb" > damping_hz',
        contains=("allowed 1 .. 23520 (0.49 x sample_rate)",),
    )


def test_default_frequency_above_a_low_sample_rate(tmp_path: Path) -> None:
    text = (
        'format = "mixrender/1"\n[session]\nsample_rate = 8000\n'
        + '[[bus]]\nname = "Plate"\n  [[bus.insert]]\n  type = "reverb"\n'
    )
    refused(
        tmp_path,
        text,
        line=6,
        path='bus "Plate" > insert "reverb" > damping_hz',
        contains=("damping_hz is not set", "to a value in 1 .. 3920"),
    )


def test_wrong_type(tmp_path: Path) -> None:
    text = HEAD + '[[track]]\nname = "A"\nsource = "a.wav"\npan = "left"\n'
    refused(
        tmp_path,
        text,
        line=9,
        path='track "A" > pan',
        contains=('pan = "left" must be a number (allowed -1 .. 1)',),
    )


def test_wrong_type_integer(tmp_path: Path) -> None:
    text = 'format = "mixrender/1"\n[session]\nsample_rate = 48000.0\n'
    refused(tmp_path, text, line=3, path="session > sample_rate", contains=("whole number",))


def test_wrong_type_bool(tmp_path: Path) -> None:
    text = HEAD + '[[track]]\nname = "A"\nsource = "a.wav"\nmute = 1\n'
    refused(tmp_path, text, line=9, path='track "A" > mute', contains=("must be true or false",))


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_nan_and_inf_refused(tmp_path: Path, value: str) -> None:
    text = HEAD + f'[[track]]\nname = "A"\nsource = "a.wav"\ngain_db = {value}\n'
    exc = refused(
        tmp_path, text, line=9, path='track "A" > gain_db', contains=("NaN and infinities",)
    )
    assert ("write -144 for off" in str(exc)) == (value == "-inf")


def test_nan_refused_in_a_lane(tmp_path: Path) -> None:
    text = HEAD + '[[track]]\nname = "A"\nsource = "a.wav"\n[track.automation]\npan = [[0, nan]]\n'
    refused(
        tmp_path,
        text,
        line=10,
        path='track "A" > automation > pan > point 1',
        contains=("NaN",),
    )


def test_missing_required_session_sample_rate(tmp_path: Path) -> None:
    text = 'format = "mixrender/1"\n\n[session]\ntempo_bpm = 90.0\n'
    refused(
        tmp_path,
        text,
        line=3,
        path="session > sample_rate",
        contains=('required key "sample_rate" is missing', "sample_rate = 48000"),
    )


def test_missing_session_table(tmp_path: Path) -> None:
    text = 'format = "mixrender/1"\n'
    refused(tmp_path, text, line=1, path="session", contains=("no [session] table",))


def test_missing_track_source(tmp_path: Path) -> None:
    text = HEAD + '\n[[track]]\nname = "Bass"\ngain_db = -2.0\n'
    refused(
        tmp_path,
        text,
        line=7,
        path='track "Bass" > source',
        contains=('required key "source" is missing',),
    )


def test_missing_track_name(tmp_path: Path) -> None:
    text = HEAD + '[[track]]\nname = "A"\nsource = "a.wav"\n[[track]]\nsource = "b.wav"\n'
    refused(tmp_path, text, line=9, path="track[2] > name", contains=("is missing",))


def test_single_bracket_track_table(tmp_path: Path) -> None:
    text = HEAD + '[track]\nname = "A"\nsource = "a.wav"\n'
    refused(tmp_path, text, line=6, path="track", contains=("[[track]] (double brackets)",))


def test_enum_did_you_mean(tmp_path: Path) -> None:
    text = HEAD + 'pan_law = "-3db"\n'
    refused(tmp_path, text, line=6, path="session > pan_law", contains=('did you mean "-3dB"?',))


def test_bus_takes_no_source(tmp_path: Path) -> None:
    text = HEAD + '[[bus]]\nname = "Verb"\nsource = "x.wav"\n'
    refused(tmp_path, text, line=8, path='bus "Verb" > source', contains=("a bus has no source",))


def test_tail_with_numeric_end(tmp_path: Path) -> None:
    text = HEAD + "end = 240.0\ntail_s = 3.0\n"
    refused(
        tmp_path,
        text,
        line=7,
        path="session > tail_s",
        contains=('tail_s only applies with end = "auto"', "end = 240.0"),
    )


def test_bit_depth_choices(tmp_path: Path) -> None:
    text = HEAD + "[render]\nbit_depth = 20\n"
    refused(
        tmp_path,
        text,
        line=7,
        path="render > bit_depth",
        contains=("bit_depth = 20 is not allowed; allowed 16, 24 or 32",),
    )


# --- names ----------------------------------------------------------------------------------------


def test_duplicate_names_across_tracks_and_buses(tmp_path: Path) -> None:
    text = HEAD + '[[track]]\nname = "Vox"\nsource = "a.wav"\n[[bus]]\nname = "Vox"\n'
    refused(
        tmp_path,
        text,
        line=10,
        path='bus "Vox" > name',
        contains=('duplicate name "Vox"', "the track on line 6", "one namespace"),
    )


def test_reserved_name_master(tmp_path: Path) -> None:
    text = HEAD + '[[bus]]\nname = "master"\n'
    refused(tmp_path, text, line=7, path='bus "master" > name', contains=("reserved",))


@pytest.mark.parametrize("name", ["Vox.1", "Vox/1"])
def test_names_without_dot_or_slash(tmp_path: Path, name: str) -> None:
    text = HEAD + f'[[track]]\nname = "{name}"\nsource = "a.wav"\n'
    refused(
        tmp_path,
        text,
        line=7,
        path=f'track "{name}" > name',
        contains=('names may not contain "." or "/"',),
    )


def test_empty_name(tmp_path: Path) -> None:
    text = HEAD + '[[track]]\nname = ""\nsource = "a.wav"\n'
    refused(tmp_path, text, line=7, path="track[1] > name", contains=("is empty",))


def test_duplicate_insert_names(tmp_path: Path) -> None:
    text = (
        HEAD
        + '[[bus]]\nname = "B"\n[[bus.insert]]\ntype = "gain"\nname = "g"\n'
        + '[[bus.insert]]\ntype = "eq"\nname = "g"\n'
    )
    refused(
        tmp_path,
        text,
        line=13,
        path='bus "B" > insert "g" > name',
        contains=('duplicate insert name "g"',),
    )


def test_insert_named_sends(tmp_path: Path) -> None:
    text = HEAD + '[[bus]]\nname = "B"\n[[bus.insert]]\ntype = "gain"\nname = "sends"\n'
    refused(tmp_path, text, line=10, path='bus "B" > insert "sends" > name', contains=("reserved",))


def test_duplicate_vca_names(tmp_path: Path) -> None:
    text = (
        HEAD
        + '[[track]]\nname = "A"\nsource = "a.wav"\n'
        + '[[vca]]\nname = "V"\nmembers = ["A"]\n[[vca]]\nname = "V"\nmembers = ["A"]\n'
    )
    refused(tmp_path, text, line=13, path='vca "V" > name', contains=("duplicate VCA name",))


# --- routing --------------------------------------------------------------------------------------

ROUTED = (
    HEAD
    + '[[track]]\nname = "Lead Vox"\nsource = "v.wav"\n'  # 6-8
    + '[[bus]]\nname = "Vocals"\n'  # 9-10
    + '[[bus]]\nname = "Plate"\n'  # 11-12
)


def test_output_to_unknown_bus_did_you_mean(tmp_path: Path) -> None:
    text = ROUTED.replace('source = "v.wav"\n', 'source = "v.wav"\noutput = "Vocal"\n')
    refused(
        tmp_path,
        text,
        line=9,
        path='track "Lead Vox" > output',
        contains=('output = "Vocal" names no bus; did you mean "Vocals"?',),
    )


def test_output_to_a_track(tmp_path: Path) -> None:
    text = ROUTED + '[[track]]\nname = "B"\nsource = "b.wav"\noutput = "Lead Vox"\n'
    refused(tmp_path, text, line=16, path='track "B" > output', contains=("is a track",))


def test_send_to_a_track(tmp_path: Path) -> None:
    text = (
        ROUTED
        + '[[track]]\nname = "B"\nsource = "b.wav"\nsends = [{ to = "Lead Vox", level_db = 0.0 }]\n'
    )
    refused(
        tmp_path,
        text,
        line=16,
        path='track "B" > sends[1] > to',
        contains=('to = "Lead Vox" is a track; sends go to a bus',),
    )


def test_send_to_itself(tmp_path: Path) -> None:
    text = ROUTED + 'sends = [{ to = "Plate", level_db = -6.0 }]\n'
    refused(
        tmp_path,
        text,
        line=13,
        path='bus "Plate" > sends[1] > to',
        contains=('"Plate" -> "Plate"', "sends to itself"),
        error=RoutingError,
    )


def test_send_to_unknown_bus(tmp_path: Path) -> None:
    text = ROUTED + '[[bus]]\nname = "Verb"\nsends = [{ to = "Plat", level_db = -6.0 }]\n'
    refused(
        tmp_path,
        text,
        line=15,
        path='bus "Verb" > sends[1] > to',
        contains=('to = "Plat" names no bus; did you mean "Plate"?',),
    )


def test_send_to_master(tmp_path: Path) -> None:
    text = ROUTED + 'sends = [{ to = "master", level_db = -6.0 }]\n'
    refused(
        tmp_path,
        text,
        line=13,
        path='bus "Plate" > sends[1] > to',
        contains=("no send destination",),
    )


def test_two_sends_to_one_destination(tmp_path: Path) -> None:
    text = ROUTED.replace(
        'source = "v.wav"\n',
        'source = "v.wav"\nsends = [\n  { to = "Plate", level_db = -6.0 },\n'
        '  { to = "Plate", level_db = -9.0 },\n]\n',
    )
    refused(
        tmp_path,
        text,
        line=11,
        path='track "Lead Vox" > sends[2] > to',
        contains=('a second send to "Plate" (sends[1] already goes there)',),
    )


def test_vca_member_unknown(tmp_path: Path) -> None:
    text = ROUTED + '[[vca]]\nname = "All Vox"\nmembers = ["Lead Vox", "Lead Vx"]\n'
    refused(
        tmp_path,
        text,
        line=15,
        path='vca "All Vox" > members[2]',
        contains=('"Lead Vx" is no track or bus; did you mean "Lead Vox"?',),
    )


def test_cycle_through_outputs(tmp_path: Path) -> None:
    text = HEAD + '[[bus]]\nname = "A"\noutput = "B"\n[[bus]]\nname = "B"\noutput = "A"\n'
    refused(
        tmp_path,
        text,
        line=11,
        path='bus "B" > output',
        contains=('routing cycle: "A" -> "B" -> "A"',),
        error=RoutingError,
    )


def test_cycle_through_sends(tmp_path: Path) -> None:
    text = (
        HEAD
        + '[[bus]]\nname = "Drums"\noutput = "Verb"\n'  # 6-8
        + '[[bus]]\nname = "Verb"\n'  # 9-10
        + 'sends = [{ to = "Echo", level_db = -10.0 }]\n'  # 11
        + '[[bus]]\nname = "Echo"\nsends = [{ to = "Drums", level_db = -10.0 }]\n'  # 12-14
    )
    exc = refused(
        tmp_path,
        text,
        line=14,
        path='bus "Echo" > sends[1] > to',
        contains=(
            'routing cycle: "Drums" -> "Verb" -> "Echo" -> "Drums"',
            '"Echo" sends to "Drums"',
        ),
        error=RoutingError,
    )
    assert isinstance(exc, MixFileError)


def test_cycle_through_sidechain(tmp_path: Path) -> None:
    text = (
        HEAD
        + '[[track]]\nname = "Kick"\nsource = "k.wav"\noutput = "Bass Bus"\n'  # 6-9
        + '[[bus]]\nname = "Bass Bus"\n'  # 10-11
        + '[[track]]\nname = "Bass"\nsource = "b.wav"\n'  # 12-14
        + '  [[track.insert]]\n  type = "compressor"\n  sidechain = "Bass Bus"\n'  # 15-17
        + '[[bus]]\nname = "Dummy"\n'
    )
    # Bass Bus keys Bass's compressor, but Bass feeds nothing back: no cycle yet.
    load_mixfile(write(tmp_path, text))
    cyclic = text.replace('source = "b.wav"\n', 'source = "b.wav"\noutput = "Bass Bus"\n')
    # Now Bass feeds the bus that keys it. The search starts at Kick (declaration order),
    # reaches Bass Bus, then Bass, whose output closes the cycle.
    refused(
        tmp_path,
        cyclic,
        line=15,
        path='track "Bass" > output',
        contains=(
            'routing cycle: "Bass Bus" -> "Bass" -> "Bass Bus"',
            '"Bass Bus" keys "compressor" on "Bass"; "Bass" outputs to "Bass Bus"',
        ),
        error=RoutingError,
    )


def test_sidechain_unknown(tmp_path: Path) -> None:
    text = ROUTED + '[[bus.insert]]\ntype = "gate"\nsidechain = "Lead Fox"\n'
    refused(
        tmp_path,
        text,
        line=15,
        path='bus "Plate" > insert "gate" > sidechain',
        contains=('did you mean "Lead Vox"?',),
    )


#: Every refusal of an output, a send's `to` and a sidechain, as the whole message words it
#: after the path: (what ROUTED's bus "Plate" gets appended, the line, the path, the words).
ROUTE_REFUSALS = [
    (
        'output = "Plate"\n',
        13,
        'bus "Plate" > output',
        'routing cycle: "Plate" -> "Plate" (bus "Plate" outputs to itself)',
    ),
    (
        'output = "Lead Vox"\n',
        13,
        'bus "Plate" > output',
        'output = "Lead Vox" is a track; output goes to a bus or "master"',
    ),
    (
        'output = "Zzz"\n',
        13,
        'bus "Plate" > output',
        'output = "Zzz" names no bus; outputs: "Vocals", "master"',
    ),
    (
        'sends = [{ to = "Plate", level_db = -6.0 }]\n',
        13,
        'bus "Plate" > sends[1] > to',
        'routing cycle: "Plate" -> "Plate" (bus "Plate" sends to itself)',
    ),
    (
        'sends = [{ to = "master", level_db = -6.0 }]\n',
        13,
        'bus "Plate" > sends[1] > to',
        'to = "master": the master is no send destination; sends go to a bus '
        '(output = "master" feeds the master)',
    ),
    (
        'sends = [{ to = "Lead Vox", level_db = -6.0 }]\n',
        13,
        'bus "Plate" > sends[1] > to',
        'to = "Lead Vox" is a track; sends go to a bus',
    ),
    (
        'sends = [{ to = "Zzz", level_db = -6.0 }]\n',
        13,
        'bus "Plate" > sends[1] > to',
        'to = "Zzz" names no bus; buses: "Vocals"',
    ),
    (
        '[[bus.insert]]\ntype = "gate"\nsidechain = "Plate"\n',
        15,
        'bus "Plate" > insert "gate" > sidechain',
        'routing cycle: "Plate" -> "Plate" (the sidechain of bus "Plate" is bus "Plate" '
        "itself); leave sidechain out to key from the insert's own input",
    ),
    (
        '[[bus.insert]]\ntype = "gate"\nsidechain = "master"\n',
        15,
        'bus "Plate" > insert "gate" > sidechain',
        'sidechain = "master": the master cannot key a sidechain; name a track or bus',
    ),
    (
        '[[bus.insert]]\ntype = "gate"\nsidechain = "Zzz"\n',
        15,
        'bus "Plate" > insert "gate" > sidechain',
        'sidechain = "Zzz" is no track or bus; tracks and buses: "Lead Vox", "Vocals", "Plate"',
    ),
]


@pytest.mark.parametrize(("appended", "line", "path", "words"), ROUTE_REFUSALS)
def test_route_refusals_word_by_word(
    tmp_path: Path, appended: str, line: int, path: str, words: str
) -> None:
    exc = refused(tmp_path, ROUTED + appended, line=line, path=path)
    assert str(exc).endswith(f": {path}: {words}"), str(exc)


def test_master_sidechain_refusals(tmp_path: Path) -> None:
    """The master's own inserts: a sidechain names a track or bus, never the master."""
    master = '[master]\n[[master.insert]]\ntype = "compressor"\nsidechain = "master"\n'
    exc = refused(
        tmp_path,
        ROUTED + master,
        line=16,
        path='master > insert "compressor" > sidechain',
    )
    assert str(exc).endswith(
        'sidechain = "master": the master cannot key a sidechain; name a track or bus'
    ), str(exc)


# --- inserts --------------------------------------------------------------------------------------


def test_unknown_insert_type(tmp_path: Path) -> None:
    text = HEAD + '[[bus]]\nname = "B"\n  [[bus.insert]]\n  type = "compresor"\n'
    refused(
        tmp_path,
        text,
        line=9,
        path='bus "B" > insert[1] > type',
        contains=('unknown insert type "compresor"; did you mean "compressor"?',),
    )


def test_unknown_insert_key(tmp_path: Path) -> None:
    text = (
        HEAD
        + '[[bus]]\nname = "B"\n  [[bus.insert]]\n  type = "compressor"\n  treshold_db = -20.0\n'
    )
    refused(
        tmp_path,
        text,
        line=10,
        path='bus "B" > insert "compressor" > treshold_db',
        contains=(
            'unknown key "treshold_db" for a compressor insert; did you mean "threshold_db"?',
        ),
    )


def test_eq_q_refused_at_slope_6(tmp_path: Path) -> None:
    text = (
        HEAD
        + '[[bus]]\nname = "B"\n  [[bus.insert]]\n  type = "eq"\n  bands = [\n'
        + '    { type = "bell", freq_hz = 400.0 },\n'
        + '    { type = "highpass", freq_hz = 80.0, slope_db_oct = 6, q = 0.9 },\n  ]\n'
    )
    refused(
        tmp_path,
        text,
        line=12,
        path='bus "B" > insert "eq" > bands[2] > q',
        contains=("q does not apply at slope_db_oct = 6",),
    )


def test_eq_q_refused_above_12(tmp_path: Path) -> None:
    text = (
        HEAD
        + '[[bus]]\nname = "B"\n  [[bus.insert]]\n  type = "eq"\n'
        + '  bands = [{ type = "lowpass", freq_hz = 8000.0, slope_db_oct = 24, q = 2.0 }]\n'
    )
    refused(
        tmp_path, text, line=10, path='bus "B" > insert "eq" > bands[1] > q', contains=("= 24",)
    )


def test_eq_band_key_of_another_type(tmp_path: Path) -> None:
    text = (
        HEAD
        + '[[bus]]\nname = "B"\n  [[bus.insert]]\n  type = "eq"\n'
        + '  bands = [{ type = "notch", freq_hz = 60.0, gain_db = -6.0 }]\n'
    )
    refused(
        tmp_path,
        text,
        line=10,
        path='bus "B" > insert "eq" > bands[1] > gain_db',
        contains=('unknown key "gain_db" for a notch band',),
    )


def test_eq_bad_slope(tmp_path: Path) -> None:
    text = (
        HEAD
        + '[[bus]]\nname = "B"\n  [[bus.insert]]\n  type = "eq"\n'
        + '  bands = [{ type = "highpass", freq_hz = 60.0, slope_db_oct = 10 }]\n'
    )
    refused(
        tmp_path,
        text,
        line=10,
        path='bus "B" > insert "eq" > bands[1] > slope_db_oct',
        contains=("allowed 6, 12, 18, 24, 36 or 48",),
    )


def test_default_insert_name_clash(tmp_path: Path) -> None:
    text = (
        HEAD
        + '[[bus]]\nname = "B"\n[[bus.insert]]\ntype = "eq"\nname = "eq2"\n'
        + '[[bus.insert]]\ntype = "eq"\n'
    )
    refused(tmp_path, text, line=11, path='bus "B" > insert "eq2"', contains=("by default",))


def test_delay_needs_a_time(tmp_path: Path) -> None:
    text = HEAD + '[[bus]]\nname = "B"\n[[bus.insert]]\ntype = "delay"\n'
    refused(tmp_path, text, line=8, path='bus "B" > insert "delay"', contains=("needs its time",))


def test_delay_note_value_form(tmp_path: Path) -> None:
    text = HEAD + '[[bus]]\nname = "B"\n[[bus.insert]]\ntype = "delay"\ntime = "1/8x"\n'
    refused(
        tmp_path,
        text,
        line=10,
        path='bus "B" > insert "delay" > time',
        contains=('time = "1/8x" is not a note value',),
    )


def test_delay_note_value_needs_tempo(tmp_path: Path) -> None:
    text = (
        'format = "mixrender/1"\n[session]\nsample_rate = 48000\n'
        + '[[bus]]\nname = "B"\n[[bus.insert]]\ntype = "delay"\ntime = "1/4t"\n'
    )
    refused(
        tmp_path,
        text,
        line=8,
        path='bus "B" > insert "delay" > time',
        contains=("needs tempo_bpm",),
    )


# --- automation -----------------------------------------------------------------------------------

LANES = (
    HEAD
    + '[[track]]\nname = "Lead Vox"\nsource = "v.wav"\n'  # 6-8
    + 'sends = [{ to = "Plate", level_db = -12.0 }]\n'  # 9
    + '  [[track.insert]]\n  type = "eq"\n'  # 10-11
    + '  bands = [{ type = "bell", freq_hz = 300.0 }, '
    + '{ type = "highpass", freq_hz = 80.0, slope_db_oct = 18 }]\n'  # 12
    + '  [[track.insert]]\n  name = "comp"\n  type = "compressor"\n'  # 13-15
    + "  [track.automation]\n"  # 16; the lanes start on line 17
)


def lanes(text: str) -> str:
    """The track above with `text` as its lanes, and the bus its send needs."""
    return LANES + text + '[[bus]]\nname = "Plate"\n'


def test_lane_unknown_target(tmp_path: Path) -> None:
    text = lanes("gian_db = [[0, 0]]\n")
    refused(
        tmp_path,
        text,
        line=17,
        path='track "Lead Vox" > automation > gian_db',
        contains=('unknown automation target "gian_db"; did you mean "gain_db"?',),
    )


def test_lane_send_that_does_not_exist(tmp_path: Path) -> None:
    text = lanes("sends.Plat.level_db = [[0, -10.0]]\n")
    refused(
        tmp_path,
        text,
        line=17,
        path='track "Lead Vox" > automation > sends.Plat.level_db',
        contains=('no send to "Plat"', 'did you mean "sends.Plate.level_db"?'),
    )


def test_lane_insert_that_does_not_exist(tmp_path: Path) -> None:
    text = lanes('"compressor.ratio" = [[0, 2.0]]\n')
    refused(
        tmp_path,
        text,
        line=17,
        path='track "Lead Vox" > automation > compressor.ratio',
        contains=('no insert named "compressor"', 'did you mean "comp.ratio"?'),
    )


def test_lane_points_out_of_order(tmp_path: Path) -> None:
    text = lanes("gain_db = [\n  [0.0, -3.0],\n  [10.0, -2.0],\n  [5.0, -1.0],\n]\n")
    refused(
        tmp_path,
        text,
        line=20,
        path='track "Lead Vox" > automation > gain_db > point 3',
        contains=("point 3 at 5.0 comes before point 2 at 10.0", "time order"),
    )


def test_lane_value_out_of_range(tmp_path: Path) -> None:
    text = lanes('"sends.Plate.level_db" = { points = [[0.0, -12.0],\n   [4.0, 30.0]] }\n')
    refused(
        tmp_path,
        text,
        line=18,
        path='track "Lead Vox" > automation > sends.Plate.level_db > point 2',
        contains=("value 30.0 for sends.Plate.level_db is out of range; allowed -144 .. 24",),
    )


def test_lane_insert_value_out_of_range(tmp_path: Path) -> None:
    text = lanes("comp.ratio = [[0, 4.0], [1, 0.5]]\n")
    refused(
        tmp_path,
        text,
        line=17,
        path='track "Lead Vox" > automation > comp.ratio > point 2',
        contains=("value 0.5 for comp.ratio is out of range; allowed >= 1",),
    )


def test_lane_bar_beat_without_tempo(tmp_path: Path) -> None:
    text = lanes('pan = [[0.0, 0.0], ["33:1", 0.5]]\n').replace("tempo_bpm = 120.0\n", "\n")
    refused(
        tmp_path,
        text,
        line=17,
        path='track "Lead Vox" > automation > pan > point 2',
        contains=('time "33:1" is musical time', "needs tempo_bpm"),
    )


def test_lane_bar_zero(tmp_path: Path) -> None:
    text = lanes('pan = [["0:1", 0.5]]\n')
    refused(
        tmp_path,
        text,
        line=17,
        path='track "Lead Vox" > automation > pan > point 1',
        contains=("bar 0 does not exist",),
    )


def test_lane_beat_beyond_the_bar(tmp_path: Path) -> None:
    text = lanes('pan = [["2:4.5", 0.5], ["2:5", 0.0]]\n')  # 4.5 is in a 4/4 bar; 5 is not
    refused(
        tmp_path,
        text,
        line=17,
        path='track "Lead Vox" > automation > pan > point 2',
        contains=("beat 5 is not in the bar", "below 5"),
    )


def test_offset_bar_beat_bad_form(tmp_path: Path) -> None:
    text = HEAD + '[[track]]\nname = "A"\nsource = "a.wav"\noffset_s = "33.1"\n'
    refused(
        tmp_path, text, line=9, path='track "A" > offset_s', contains=('"bar:beat"', "not a time")
    )


def test_lane_band_out_of_range(tmp_path: Path) -> None:
    text = lanes("eq.bands.3.gain_db = [[0, 1.0]]\n")
    refused(
        tmp_path,
        text,
        line=17,
        path='track "Lead Vox" > automation > eq.bands.3.gain_db',
        contains=('insert "eq" has 2 bands; band 3 does not exist',),
    )


def test_lane_band_q_at_slope_18(tmp_path: Path) -> None:
    text = lanes('"eq.bands.2.q" = [[0, 1.0]]\n')
    refused(
        tmp_path,
        text,
        line=17,
        path='track "Lead Vox" > automation > eq.bands.2.q',
        contains=("band 2 is an 18 dB/oct highpass, which has no q",),
    )


def test_lane_written_twice(tmp_path: Path) -> None:
    text = lanes('"sends.Plate.pan" = [[0, 0.1]]\nsends.Plate.pan = [[0, 0.2]]\n')
    refused(
        tmp_path,
        text,
        line=18,
        path='track "Lead Vox" > automation > sends.Plate.pan',
        contains=("a second lane for sends.Plate.pan (the first is on line 17)",),
    )


def test_lane_bad_shape(tmp_path: Path) -> None:
    text = lanes('pan = [[0, 0.1, "smoth"]]\n')
    refused(
        tmp_path,
        text,
        line=17,
        path='track "Lead Vox" > automation > pan > point 1',
        contains=('did you mean "smooth"?',),
    )


def test_lane_empty(tmp_path: Path) -> None:
    text = lanes("pan = []\n")
    refused(
        tmp_path,
        text,
        line=17,
        path='track "Lead Vox" > automation > pan',
        contains=("at least one",),
    )


def test_lane_unknown_lane_key(tmp_path: Path) -> None:
    text = lanes('pan = { points = [[0, 0.1]], curv = "step" }\n')
    refused(
        tmp_path,
        text,
        line=17,
        path='track "Lead Vox" > automation > pan > curv',
        contains=('did you mean "curve"?',),
    )


def test_mute_lane_values(tmp_path: Path) -> None:
    text = lanes("mute = [[0, 0], [1, 0.5]]\n")
    refused(
        tmp_path,
        text,
        line=17,
        path='track "Lead Vox" > automation > mute > point 2',
        contains=("must be 0 or 1",),
    )


def test_mute_lane_is_always_stepped(tmp_path: Path) -> None:
    text = lanes('mute = { points = [[0, 0], [1, 1]], curve = "smooth" }\n')
    refused(
        tmp_path,
        text,
        line=17,
        path='track "Lead Vox" > automation > mute > curve',
        contains=("a mute lane is always stepped",),
    )


def test_time_ms_lane_on_a_note_value_delay(tmp_path: Path) -> None:
    text = (
        HEAD
        + '[[bus]]\nname = "B"\n[[bus.insert]]\ntype = "delay"\ntime = "1/8"\n'
        + '[bus.automation]\n"delay.time_ms" = [[0, 100.0]]\n'
    )
    refused(
        tmp_path,
        text,
        line=12,
        path='bus "B" > automation > delay.time_ms',
        contains=('sets its time as a note value (time = "1/8")',),
    )


def test_point_with_tension_but_no_bezier(tmp_path: Path) -> None:
    text = lanes('pan = [[0, 0.0, "smooth", 0.5]]\n')
    refused(
        tmp_path,
        text,
        line=17,
        path='track "Lead Vox" > automation > pan > point 1',
        contains=('only a "bezier" point takes a tension',),
    )


def test_vca_lane_target(tmp_path: Path) -> None:
    text = (
        ROUTED + '[[vca]]\nname = "V"\nmembers = ["Lead Vox"]\n[vca.automation]\npan = [[0, 0]]\n'
    )
    refused(
        tmp_path,
        text,
        line=17,
        path='vca "V" > automation > pan',
        contains=('unknown automation target "pan"', '"gain_db"'),
    )


def test_master_lane_value(tmp_path: Path) -> None:
    text = HEAD + "[master.automation]\ngain_db = [[0, 0.0], [2, 25.0]]\n"
    refused(
        tmp_path,
        text,
        line=7,
        path="master > automation > gain_db > point 2",
        contains=("out of range",),
    )


def test_every_value_is_finite_in_the_full_mix(tmp_path: Path) -> None:
    mix = load_mixfile(write(tmp_path, FULL))
    for strip in (*mix.tracks, *mix.buses):
        for lane in strip.automation.values():
            assert all(math.isfinite(p.seconds) and math.isfinite(p.value) for p in lane.points)


def test_an_error_about_a_name_with_a_newline_is_one_line(tmp_path: Path) -> None:
    # Found by the fuzzing harness: a routing cycle printed a name's newline raw.
    mix = write(
        tmp_path,
        'format = "mixrender/1"\n[session]\nsample_rate = 48000\n'
        '[[track]]\nname = "line\\nbreak"\nsource = "a.wav"\n'
        'insert = [{type = "compressor", sidechain = "line\\nbreak"}]\n',
    )
    with pytest.raises(RoutingError) as caught:
        load_mixfile(mix)
    text = str(caught.value)
    assert "\n" not in text and "line\\nbreak" in text, text
