"""`trim_db` on tracks and buses: a post-fader trim added in dB to the fader, its lane and the
VCAs; the revision knob for an automated fader."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import soundfile as sf

import mixrender
from conftest import MixWriter, noise, tone

SR = 48000

#: Three tracks and a bus, every one straight to the master (so each has a stem of its own):
#: "Lead" rides its fader with a lane and has a compressor before it; "Pad" feeds the bus
#: "Keys" from its output; "Hat" is plain.
MIX = """
format = "mixrender/1"
[session]
sample_rate = 48000
end = 3.0
[render]
bit_depth = 32
[[track]]
name = "Lead"
source = "lead.wav"
gain_db = -3.0
{lead}
  [[track.insert]]
  type = "compressor"
  threshold_db = -30.0
  ratio = 4.0
[track.automation]
gain_db = [[0.0, -12.0], [1.0, -2.0, "smooth"], [2.0, -6.0], [2.5, -1.0]]
{lead_lanes}
[[track]]
name = "Pad"
source = "pad.wav"
gain_db = -2.0
output = "Keys"
[[track]]
name = "Hat"
source = "hat.wav"
gain_db = -8.0
[[bus]]
name = "Keys"
gain_db = {keys_gain}
{keys}
"""


def mix_text(lead: str = "", lead_lanes: str = "", keys: str = "", keys_gain: float = -1.0) -> str:
    return MIX.format(lead=lead, lead_lanes=lead_lanes, keys=keys, keys_gain=keys_gain)


def sources() -> dict[str, tuple[npt.NDArray[np.float64], int, str]]:
    return {
        "lead__wav": (noise(3.0, channels=2, seed=1) * 0.5, SR, "FLOAT"),
        "pad__wav": (tone(3.0, freq=220.0, db=-18.0, channels=2), SR, "FLOAT"),
        "hat__wav": (noise(3.0, seed=2) * 0.3, SR, "FLOAT"),
    }


def stems_of(write_mix: MixWriter, tmp_path: Path, text: str, name: str) -> dict[str, Path]:
    mix = write_mix(text, name=f"{name}.toml", **sources())
    folder = tmp_path / f"{name}_stems"
    mixrender.load(mix).render(stems=folder)
    return {p.stem: p for p in sorted(folder.iterdir())}


def read32(path: Path) -> npt.NDArray[np.float32]:
    data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    assert rate == SR and sf.info(str(path)).subtype == "FLOAT"
    out: npt.NDArray[np.float32] = data
    return out


def test_a_trim_raises_an_automated_track_by_exactly_its_db_and_nothing_else(
    write_mix: MixWriter, tmp_path: Path
) -> None:
    plain = stems_of(write_mix, tmp_path, mix_text(), "plain")
    trimmed = stems_of(write_mix, tmp_path, mix_text(lead="trim_db = 1.0"), "trimmed")
    assert list(plain) == list(trimmed) == ["Hat", "Keys", "Lead"]
    a, b = read32(plain["Lead"]), read32(trimmed["Lead"])
    # Where both samples are normal float32 numbers (not zero, not subnormal), their ratio is
    # +1 dB to float32 precision: two roundings of half an ulp each.
    where = (np.abs(a) > 1e-30) & (np.abs(b) > 1e-30)
    assert where.mean() > 0.99
    ratio = b[where].astype(np.float64) / a[where].astype(np.float64)
    want = 10.0 ** (1.0 / 20.0)
    assert np.max(np.abs(ratio / want - 1.0)) <= 2.5e-7
    assert np.array_equal(a == 0, b == 0)
    for other in ("Hat", "Keys"):
        assert plain[other].read_bytes() == trimmed[other].read_bytes(), other


def test_a_mix_without_trim_plans_as_before(write_mix: MixWriter) -> None:
    mix = write_mix(mix_text(), **sources())
    plan = json.loads(mixrender.load(mix).plan())
    assert all("trim_db" not in s for s in plan["strips"])
    zero = write_mix(mix_text(lead="trim_db = 0.0"), name="zero.toml")
    assert mixrender.load(zero).plan() == mixrender.load(mix).plan()
    trimmed = write_mix(mix_text(lead="trim_db = -2.5"), name="trimmed.toml")
    lead = json.loads(mixrender.load(trimmed).plan())["strips"][0]
    assert lead["trim_db"] == {"points": [[0, -2.5, "linear", 0.0]]}


def _piecewise(points: list[tuple[float, float]], t: float) -> float:
    """A linear lane's value at time t, in float64 (held before the first, after the last)."""
    times = [p[0] for p in points]
    values = [p[1] for p in points]
    return float(np.interp(t, times, values))


def test_a_trim_lane_adds_to_a_gain_lane_as_one_lane_of_their_sum(
    write_mix: MixWriter,
) -> None:
    gain = [(0.0, -20.0), (0.5, -2.0), (1.25, -9.0), (2.0, -9.0), (2.75, 0.0)]
    trim = [(0.0, 3.0), (0.75, -4.0), (1.5, 6.0), (2.5, -2.0)]
    times = sorted({t for t, _ in gain} | {t for t, _ in trim})
    summed = [(t, _piecewise(gain, t) + _piecewise(trim, t)) for t in times]

    def lanes(**lanes: list[tuple[float, float]]) -> str:
        out = "[track.automation]\n"
        for key, points in lanes.items():
            out += f"{key} = [{', '.join(f'[{t!r}, {v!r}]' for t, v in points)}]\n"
        return out

    def text(lanes_text: str) -> str:
        return f"""
format = "mixrender/1"
[session]
sample_rate = 48000
end = 3.0
[[track]]
name = "Lead"
source = "lead.wav"
{lanes_text}
"""

    lead = noise(3.0, channels=2, seed=5) * 0.1
    both = write_mix(text(lanes(gain_db=gain, trim_db=trim)), lead__wav=(lead, SR, "DOUBLE"))
    one = write_mix(text(lanes(gain_db=summed)), name="one.toml")
    untrimmed = write_mix(text(lanes(gain_db=gain)), name="untrimmed.toml")
    a = mixrender.load(both).render(dtype="float64")
    b = mixrender.load(one).render(dtype="float64")
    c = mixrender.load(untrimmed).render(dtype="float64")
    assert np.max(np.abs(a)) < 1.0  # nothing clipped
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-300)
    # ... and the trim did move it: at 0.75 s the trim is -4 dB.
    k = int(0.75 * SR)
    assert a[k, 0] / c[k, 0] == pytest.approx(10 ** (-4 / 20), rel=1e-9)


def test_a_trim_on_a_bus_adds_to_its_fader(write_mix: MixWriter, tmp_path: Path) -> None:
    trimmed = stems_of(write_mix, tmp_path, mix_text(keys="trim_db = -3.0"), "trimmed")
    summed = stems_of(write_mix, tmp_path, mix_text(keys_gain=-4.0), "summed")
    plain = stems_of(write_mix, tmp_path, mix_text(), "plain")
    # -1 dB fader + -3 dB trim is the -4 dB fader, to the bit.
    assert trimmed["Keys"].read_bytes() == summed["Keys"].read_bytes()
    a, b = read32(plain["Keys"]), read32(trimmed["Keys"])
    where = np.abs(a) > 1e-30
    ratio = b[where].astype(np.float64) / a[where].astype(np.float64)
    assert np.max(np.abs(ratio / 10 ** (-3 / 20) - 1.0)) <= 2.5e-7
    for other in ("Hat", "Lead"):
        assert plain[other].read_bytes() == trimmed[other].read_bytes(), other


def test_minus_144_in_the_gain_lane_is_off_whatever_the_trim(
    write_mix: MixWriter, tmp_path: Path
) -> None:
    lanes = (
        "trim_db = [[0.0, 24.0], [3.0, 10.0]]\ngain_db = [[0.0, -144.0], [1.0, -144.0], [2.0, 0.0]]"
    )
    text = mix_text(lead_lanes="").replace(
        'gain_db = [[0.0, -12.0], [1.0, -2.0, "smooth"], [2.0, -6.0], [2.5, -1.0]]', lanes
    )
    stems = stems_of(write_mix, tmp_path, text, "off")
    lead = read32(stems["Lead"])
    # Off (exactly 0) while the lane is at -144, through the compressor's latency-free path.
    assert np.all(lead[:SR] == 0.0)
    assert np.max(np.abs(lead[int(1.5 * SR) :])) > 0.01
    static = mix_text(lead="trim_db = 24.0").replace(
        'gain_db = [[0.0, -12.0], [1.0, -2.0, "smooth"], [2.0, -6.0], [2.5, -1.0]]', ""
    )
    static = static.replace("gain_db = -3.0\ntrim_db", "gain_db = -144.0\ntrim_db")
    stems = stems_of(write_mix, tmp_path, static, "static")
    assert np.all(read32(stems["Lead"]) == 0.0)
    vca = (
        mix_text(lead="trim_db = 24.0")
        + '[[vca]]\nname = "V"\ngain_db = -144.0\nmembers = ["Lead"]\n'
    )
    stems = stems_of(write_mix, tmp_path, vca, "vca")
    assert np.all(read32(stems["Lead"]) == 0.0)


@pytest.mark.parametrize(
    ("line", "value", "where"),
    [
        ("trim_db = 24.5", "trim_db = 24.5", "trim_db"),
        ("trim_db = -48.5", "trim_db = -48.5", "trim_db"),
        ("trim_db = -144.0", "trim_db = -144.0", "trim_db"),
    ],
)
def test_a_trim_out_of_range_is_refused(
    write_mix: MixWriter, line: str, value: str, where: str
) -> None:
    mix = write_mix(mix_text(lead=line), **sources())
    with pytest.raises(mixrender.MixFileError) as e:
        mixrender.load(mix)
    message = str(e.value)
    assert f'track "Lead" > {where}' in message
    assert f"{value} is out of range; allowed -48 .. 24" in message


def test_a_trim_lane_out_of_range_is_refused(write_mix: MixWriter) -> None:
    mix = write_mix(mix_text(lead_lanes="trim_db = [[0.0, 0.0], [1.0, 30.0]]"), **sources())
    with pytest.raises(mixrender.MixFileError) as e:
        mixrender.load(mix)
    message = str(e.value)
    assert 'track "Lead" > automation > trim_db > point 2' in message
    assert "value 30.0 for trim_db is out of range; allowed -48 .. 24" in message


def test_a_rough_render_keeps_a_static_trim_and_drops_its_lane(write_mix: MixWriter) -> None:
    plain = write_mix(mix_text(), **sources())
    static = write_mix(mix_text(lead="trim_db = 2.0"), name="static.toml")
    lane = write_mix(mix_text(lead_lanes="trim_db = [[0.0, 6.0], [2.0, -6.0]]"), name="lane.toml")
    a = mixrender.load(plain).render(rough=True, dtype="float64")
    b = mixrender.load(static).render(rough=True, dtype="float64")
    c = mixrender.load(lane).render(rough=True, dtype="float64")
    assert np.array_equal(a, c)
    assert not np.array_equal(a, b)
    # Rough: no compressor, static faders; the Lead alone is trimmed, so the difference is
    # the Lead's rough output times (10^(2/20) - 1).
    lead_only = mix_text().replace('source = "pad.wav"', 'source = "pad.wav"\nmute = true')
    lead_only = lead_only.replace('source = "hat.wav"', 'source = "hat.wav"\nmute = true')
    lead = mixrender.load(write_mix(lead_only, name="lead.toml")).render(
        rough=True, dtype="float64"
    )
    np.testing.assert_allclose(b - a, lead * (10 ** (2 / 20) - 1), rtol=1e-9, atol=1e-12)
