"""The channel strip in a mix: latency compensated on every path, sidechains keyed and
aligned, insert automation on the grid, every insert block-size invariant."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import mixrender
from conftest import MixWriter, noise, tone

HEAD = """
format = "mixrender/1"
[session]
sample_rate = 48000
pan_law = "0dB"
tail_s = 0.0
[render]
bit_depth = 32
"""


def click(frames: int = 24000, at: int = 1000, level: float = 0.25) -> np.ndarray:
    x = np.zeros(frames)
    x[at] = level
    return x


def first(x: np.ndarray) -> int:
    return int(np.flatnonzero(np.abs(x) > 1e-9)[0])


def test_a_click_through_a_lookahead_limiter_reaches_the_bus_on_the_same_sample(
    write_mix: MixWriter,
) -> None:
    text = (
        HEAD
        + """
[[track]]
name = "Limited"
source = "c.wav"
pan = -1.0
output = "Bus"
  [[track.insert]]
  type = "limiter"
  lookahead_ms = 5.0
  ceiling_db = -1.0
[[track]]
name = "Plain"
source = "c.wav"
pan = 1.0
output = "Bus"
[[bus]]
name = "Bus"
"""
    )
    mix = write_mix(text, c__wav=(click(), 48000, "DOUBLE"))
    out = mixrender.load(mix).render(dtype="float64")
    assert out.shape == (24000, 2)
    assert first(out[:, 0]) == first(out[:, 1]) == 1000  # aligned with each other and the source
    assert out[1000, 0] == pytest.approx(0.25, abs=1e-12)


@pytest.mark.parametrize(
    "insert",
    [
        'type = "limiter"\nlookahead_ms = 3.0\ntrue_peak = true',
        'type = "saturation"\ndrive_db = 0.0\noversample = 4',
    ],
)
def test_the_master_output_is_aligned_with_the_sources(write_mix: MixWriter, insert: str) -> None:
    text = HEAD + '[[track]]\nname = "T"\nsource = "c.wav"\n[[master.insert]]\n' + insert + "\n"
    mix = write_mix(text, c__wav=(click(level=0.1), 48000, "DOUBLE"))
    out = mixrender.load(mix).render(dtype="float64")
    assert out.shape == (24000, 2)
    peak = int(np.argmax(np.abs(out[:, 0])))
    assert peak == 1000


def test_sends_from_paths_of_different_latency_arrive_together(write_mix: MixWriter) -> None:
    text = (
        HEAD
        + """
[[track]]
name = "A"
source = "c.wav"
pan = -1.0
sends = [{ to = "Aux", level_db = 0.0, tap = "post_fader", pan = -1.0 }]
  [[track.insert]]
  type = "saturation"
  drive_db = -20.0
  output_db = 20.0
[[track]]
name = "B"
source = "c.wav"
pan = 1.0
mute = true
sends = [{ to = "Aux", level_db = 0.0, tap = "pre_inserts", pan = 1.0 }]
[[bus]]
name = "Aux"
gain_db = -6.0
"""
    )
    mix = write_mix(text, c__wav=(click(), 48000, "DOUBLE"))
    out = mixrender.load(mix).render(dtype="float64")
    # A direct and A's send on the left; B is muted, so its send is silent on the right.
    assert int(np.argmax(np.abs(out[:, 0]))) == 1000
    assert np.all(out[:, 1] == 0.0)


SIDECHAIN = (
    HEAD
    + """
[[track]]
name = "Kick"
source = "kick.wav"
mute = {mute}
  [[track.insert]]
  type = "limiter"
  lookahead_ms = 2.0
[[track]]
name = "Bass"
source = "bass.wav"
  [[track.insert]]
  type = "compressor"
  threshold_db = -30.0
  ratio = 10.0
  attack_ms = 0.0
  release_ms = 20.0
  sidechain = "Kick"
"""
)


@pytest.mark.parametrize("mute", [False, True])
def test_a_sidechain_ducks_from_the_key_onset_even_with_the_key_muted(
    write_mix: MixWriter, tmp_path: Path, mute: bool
) -> None:
    kick = np.zeros(24000)
    kick[12000:12480] = 0.4 * np.sin(2 * np.pi * 60 * np.arange(480) / 48000) + 0.4
    bass = np.full(24000, 0.1)
    mix = write_mix(
        SIDECHAIN.format(mute=str(mute).lower()),
        kick__wav=(kick, 48000, "DOUBLE"),
        bass__wav=(bass, 48000, "DOUBLE"),
    )
    out = mixrender.load(mix).render(dtype="float64")
    left = out[:, 0]
    if not mute:
        left = left - kick  # the kick passes its limiter untouched (below the ceiling)
    assert np.allclose(left[:11990], 0.1, atol=1e-12)  # no key, no reduction
    assert left[11999] == pytest.approx(0.1, abs=1e-12)
    assert left[12000] < 0.05  # ducked on the key's first sample: the key is aligned
    assert left[23000] == pytest.approx(0.1, rel=0.01)  # released


ALL_INSERTS = (
    HEAD.replace("tail_s = 0.0", "tail_s = 0.2")
    + """
[[track]]
name = "Vox"
source = "v.wav"
sends = [{ to = "Verb", level_db = -10.0, tap = "pre_fader" }]
  [[track.insert]]
  type = "eq"
  bands = [{ type = "highpass", freq_hz = 90.0, slope_db_oct = 24 },
           { type = "bell", freq_hz = 3000.0, gain_db = -3.0, q = 1.4 },
           { type = "highshelf", freq_hz = 9000.0, gain_db = 2.0 }]
  [[track.insert]]
  type = "compressor"
  threshold_db = -24.0
  ratio = 3.0
  knee_db = 6.0
  detector = "rms"
  sidechain = "Drums"
  sidechain_hpf_hz = 100.0
  mix = 0.8
  [[track.insert]]
  type = "deesser"
  [[track.insert]]
  type = "saturation"
  drive_db = 9.0
  mix = 0.5
  [track.automation]
  "eq.bands.2.gain_db" = [[0.0, -3.0], [0.4, 3.0]]
  "compressor.threshold_db" = [[0.0, -24.0], [0.5, -12.0]]
  "saturation.drive_db" = [[0.1, 9.0], [0.3, 0.0, "smooth"]]
[[track]]
name = "Drums"
source = "d.wav"
  [[track.insert]]
  type = "gate"
  threshold_db = -30.0
  [[track.insert]]
  type = "limiter"
  lookahead_ms = 4.0
  true_peak = true
[[bus]]
name = "Verb"
  [[bus.insert]]
  type = "compressor"
  stereo_link = false
[master]
  [[master.insert]]
  type = "limiter"
  ceiling_db = -1.0
"""
)


def test_every_insert_in_one_mix_is_block_size_and_thread_invariant(
    write_mix: MixWriter, tmp_path: Path
) -> None:
    mix = write_mix(
        ALL_INSERTS,
        v__wav=(tone(0.6, freq=220.0, db=-6.0) + 0.3 * noise(0.6, seed=1), 48000, "FLOAT"),
        d__wav=(noise(0.6, channels=2, seed=2), 44100, "PCM_24"),
    )
    m = mixrender.load(mix)
    reference = m.render(dtype="float64", block_size=4096, threads=1)
    assert np.max(np.abs(reference)) > 0.05
    for block, threads in ((1000, 2), (64, 1), (333, 2)):
        other = m.render(dtype="float64", block_size=block, threads=threads)
        assert np.array_equal(reference.view(np.uint64), other.view(np.uint64)), (block, threads)


def test_a_bypassed_insert_keeps_its_latency(write_mix: MixWriter) -> None:
    text = (
        HEAD
        + """
[[track]]
name = "T"
source = "c.wav"
  [[track.insert]]
  type = "limiter"
  lookahead_ms = 5.0
  bypass = {bypass}
[[track]]
name = "U"
source = "c.wav"
pan = 1.0
"""
    )
    for bypass in ("true", "false"):
        mix = write_mix(text.format(bypass=bypass), c__wav=(click(), 48000, "DOUBLE"))
        out = mixrender.load(mix).render(dtype="float64")
        assert first(out[:, 0]) == 1000, bypass


def test_automating_a_latency_key_is_refused(write_mix: MixWriter) -> None:
    text = (
        HEAD
        + """
[[track]]
name = "T"
source = "c.wav"
  [[track.insert]]
  type = "limiter"
  [track.automation]
  "limiter.lookahead_ms" = [[0.0, 5.0], [0.1, 2.0]]
"""
    )
    mix = write_mix(text, c__wav=(click(), 48000, "DOUBLE"))
    # Refused when the mix loads (the declaration says it is not automatable), not at render.
    with pytest.raises(mixrender.MixFileError, match="lookahead_ms cannot be automated") as e:
        mixrender.load(mix)
    assert "mix.toml:15:" in str(e.value)


# Bus polarity: "A" and "C" sum into the bus "B" (a saturation driven hard, then a compressor
# keyed from the track "D", which goes straight to the master); B also feeds the bus "E"
# from its pre-inserts tap, through a soft saturation. Every level is kept under full scale,
# so that the float output is the master's sum as it is.
POLARITY_MIX = (
    HEAD
    + """
[[track]]
name = "A"
source = "a.wav"
pan = -0.3
polarity = {a}
output = "B"
[[track]]
name = "C"
source = "c.wav"
clip_gain_db = -2.0
polarity = {c}
output = "B"
[[track]]
name = "D"
source = "d.wav"
pan = 0.4
mute = {mute_d}
[[bus]]
name = "B"
polarity = {b}
gain_db = {b_gain}
mute = {mute_b}
sends = [{{ to = "E", level_db = -6.0, tap = "pre_inserts" }}]
  [[bus.insert]]
  type = "saturation"
  drive_db = 9.0
  oversample = 4
  output_db = -6.0
  [[bus.insert]]
  type = "compressor"
  threshold_db = -30.0
  ratio = 4.0
  attack_ms = 1.0
  sidechain = "D"
[[bus]]
name = "E"
gain_db = -3.0
mute = {mute_e}
  [[bus.insert]]
  type = "saturation"
  shape = "soft"
  drive_db = 6.0
  oversample = 2
"""
)


def polarity_sources() -> dict[str, tuple[np.ndarray, int, str]]:
    # Asymmetric sources: positive half-waves larger than negative ones, and an offset.
    a = tone(0.25, freq=220.0, db=-8.0)
    a = np.where(a > 0, a, 0.3 * a) + 0.05
    c = tone(0.25, freq=330.0, db=-10.0, channels=2)
    c = np.where(c > 0, c, 0.5 * c)
    d = noise(0.25, seed=5) * 0.5
    return {
        "a__wav": (a, 48000, "DOUBLE"),
        "c__wav": (c, 48000, "DOUBLE"),
        "d__wav": (d, 48000, "DOUBLE"),
    }


def render_polarity(write_mix: MixWriter, *, rough: bool = False, **keys: str) -> np.ndarray:
    values = {"a": "false", "c": "false", "b": "false", "b_gain": "0.0"}
    values |= {"mute_b": "false", "mute_d": "false", "mute_e": "false"} | keys
    mix = write_mix(POLARITY_MIX.format(**values), **polarity_sources())
    out = mixrender.load(mix).render(dtype="float64", rough=rough)
    assert np.max(np.abs(out)) < 1.0  # nothing clipped: the output is the master's sum
    return out


def test_bus_polarity_negates_the_bus_and_leaves_a_direct_track_alone(
    write_mix: MixWriter,
) -> None:
    plain = render_polarity(write_mix)
    inverted = render_polarity(write_mix, b="true")
    # Each direct input of the master alone, the others silent (adding a silent input
    # changes no bit). D muted still keys B's compressor; B's fader off leaves its
    # pre-inserts send to E.
    d = render_polarity(write_mix, mute_b="true")
    b = render_polarity(write_mix, mute_d="true", mute_e="true")
    e = render_polarity(write_mix, mute_d="true", b_gain="-144.0")
    assert min(np.max(np.abs(x)) for x in (d, b, e)) > 0.01
    assert np.array_equal(render_polarity(write_mix, b="true", mute_d="true", mute_e="true"), -b)
    assert np.array_equal(render_polarity(write_mix, b="true", mute_d="true", b_gain="-144.0"), -e)
    assert np.array_equal(render_polarity(write_mix, b="true", mute_b="true"), d)
    # The master sums D, then B, then E (tracks before buses).
    assert np.array_equal(plain, (d + b) + e)
    assert np.array_equal(inverted, (d - b) - e)


def test_bus_polarity_inverts_at_the_head_of_the_strip(write_mix: MixWriter) -> None:
    # Inverting the bus's summed input is inverting each of its inputs: the tracks' own
    # polarity (at their source) is the reference, bit for bit, through the bus's nonlinear
    # inserts, its keyed compressor and its pre-inserts send. Inverted after its inserts
    # (before the pre-fader tap, or at the output) the bus would leave E as it was.
    inputs_inverted = render_polarity(write_mix, a="true", c="true")
    bus_inverted = render_polarity(write_mix, b="true")
    assert np.array_equal(bus_inverted, inputs_inverted)
    e_inputs = render_polarity(write_mix, a="true", c="true", mute_d="true", b_gain="-144.0")
    e_bus = render_polarity(write_mix, b="true", mute_d="true", b_gain="-144.0")
    e_plain = render_polarity(write_mix, mute_d="true", b_gain="-144.0")
    assert np.max(np.abs(e_plain)) > 0.01
    assert np.array_equal(e_bus, e_inputs)
    assert not np.allclose(e_bus, e_plain, atol=1e-3)


def test_a_rough_render_keeps_bus_polarity(write_mix: MixWriter) -> None:
    plain = render_polarity(write_mix, rough=True)
    bus_inverted = render_polarity(write_mix, rough=True, b="true")
    inputs_inverted = render_polarity(write_mix, rough=True, a="true", c="true")
    d = render_polarity(write_mix, rough=True, mute_b="true")
    b = render_polarity(write_mix, rough=True, mute_d="true")
    assert min(np.max(np.abs(x)) for x in (d, b)) > 0.01
    assert np.array_equal(bus_inverted, inputs_inverted)
    # Rough: no inserts and no sends, so the master is D plus B, B inverted or not.
    assert np.array_equal(plain, d + b)
    assert np.array_equal(bus_inverted, d - b)
