"""End-to-end renders against the format's formulas, through the Python API and files."""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import mixrender
from conftest import MixWriter, noise, tone
from mixrender.mix import Mix, RenderOptions

HEAD = """
format = "mixrender/1"
[session]
sample_rate = 48000
pan_law = "{law}"
end = "auto"
tail_s = 0.0
[render]
bit_depth = {bits}
"""


def head(law: str = "-3dB", bits: int = 32) -> str:
    return HEAD.format(law=law, bits=bits)


def test_unity_track_at_centre_with_0db_law_equals_its_source_to_the_bit(
    write_mix: MixWriter, tmp_path: Path
) -> None:
    for channels in (1, 2):
        src = noise(0.5, channels=channels, seed=channels).astype(np.float32)
        mix = write_mix(
            head("0dB") + '[[track]]\nname = "T"\nsource = "s.wav"\n',
            s__wav=(src, 48000, "FLOAT"),
        )
        out = tmp_path / f"out{channels}.wav"
        mixrender.load(mix).render(out)
        got, rate = sf.read(str(out), dtype="float32", always_2d=True)
        want = src[:, None] if channels == 1 else src
        assert rate == 48000 and got.shape == (len(src), 2)
        assert np.array_equal(got[:, 0].view(np.uint32), want[:, 0].view(np.uint32))
        assert np.array_equal(got[:, 1].view(np.uint32), want[:, -1].view(np.uint32))


def test_minus_3db_law_at_centre_and_hard_pan(write_mix: MixWriter) -> None:
    src = np.full(1000, 0.5)
    for pan, far in ((0.0, None), (1.0, 0), (-1.0, 1)):
        mix = write_mix(
            head() + f'[[track]]\nname = "T"\nsource = "s.wav"\npan = {pan}\n',
            s__wav=(src, 48000, "DOUBLE"),
        )
        out = mixrender.load(mix).render(dtype="float64")
        if far is None:
            db = 20 * np.log10(out[500] / 0.5)
            assert db == pytest.approx([-3.0103, -3.0103], abs=5e-5)
        else:
            assert np.all(out[:, far] == 0.0)
            assert out[500, 1 - far] == pytest.approx(0.5, abs=1e-15)


def test_automation_step_lands_on_the_exact_frame_and_linear_ramp_matches(
    write_mix: MixWriter,
) -> None:
    src = np.full(48000, 0.25)
    mix = write_mix(
        head("0dB")
        + """
        [[track]]
        name = "T"
        source = "s.wav"
        [track.automation]
        gain_db = [[0.0, 0.0], [0.25, 0.0], [0.25, -6.0], [0.5, -6.0], [0.75, 6.0]]
        """.replace("        ", ""),
        s__wav=(src, 48000, "DOUBLE"),
    )
    for block in (64, 1000):
        out = mixrender.load(mix).render(dtype="float64", block_size=block)[:, 0]
        assert out[11999] == 0.25
        assert out[12000] == pytest.approx(0.25 * 10 ** (-6 / 20), rel=1e-15)
        n = np.arange(24000, 36001)
        want = 0.25 * 10 ** ((-6.0 + 12.0 * (n - 24000) / 12000) / 20)
        assert np.max(np.abs(out[n] - want)) <= 1e-9


SENDS = """
[[track]]
name = "T"
source = "s.wav"
gain_db = {fader}
pan_law = "0dB"
sends = [{{ to = "Aux", level_db = 0.0, tap = "{tap}" }}]
[[bus]]
name = "Aux"
"""


@pytest.mark.parametrize(
    ("tap", "fader", "send_gain"),
    [
        ("pre_fader", -144.0, 1.0),
        ("post_fader", -144.0, 0.0),
        ("post_fader", -6.0, 10 ** (-6 / 20)),
        ("pre_fader", -6.0, 1.0),
        ("pre_inserts", -20.0, 1.0),
    ],
)
def test_sends_take_their_tap(
    write_mix: MixWriter, tap: str, fader: float, send_gain: float
) -> None:
    mix = write_mix(
        head() + SENDS.format(tap=tap, fader=fader), s__wav=(np.full(480, 0.5), 48000, "DOUBLE")
    )
    out = mixrender.load(mix).render(dtype="float64")
    direct = 0.5 * (10 ** (fader / 20) if fader > -144 else 0.0)
    assert out[100, 0] == pytest.approx(direct + 0.5 * send_gain, abs=1e-15)


SOLO = """
[[track]]
name = "A"
source = "a.wav"
pan = -1.0
output = "Bus"
solo = {solo_a}
mute = {mute_a}
[[track]]
name = "B"
source = "b.wav"
pan = 1.0
sends = [{{ to = "Bus", level_db = -144.0 }}]
solo = {solo_b}
[[track]]
name = "C"
source = "c.wav"
pan = 1.0
output = "Bus2"
[[bus]]
name = "Bus"
solo = {solo_bus}
[[bus]]
name = "Bus2"
"""


@pytest.mark.parametrize(
    ("solo_a", "mute_a", "solo_b", "solo_bus", "sounding"),
    [
        (False, False, False, False, {"A", "B", "C"}),
        (True, False, False, False, {"A"}),
        (False, False, True, False, {"B"}),
        (True, True, False, False, set()),  # mute wins over solo on the same track
        (False, False, False, True, {"A", "B"}),  # a soloed bus keeps what feeds it (B by send)
    ],
)
def test_solo_in_place_and_mute(
    write_mix: MixWriter,
    solo_a: bool,
    mute_a: bool,
    solo_b: bool,
    solo_bus: bool,
    sounding: set[str],
) -> None:
    levels = {"A": 0.1, "B": 0.2, "C": 0.4}
    text = SOLO.format(
        solo_a=str(solo_a).lower(),
        mute_a=str(mute_a).lower(),
        solo_b=str(solo_b).lower(),
        solo_bus=str(solo_bus).lower(),
    )
    mix = write_mix(
        head("0dB") + text,
        **{f"{k.lower()}__wav": (np.full(480, v), 48000, "DOUBLE") for k, v in levels.items()},
    )
    left, right = mixrender.load(mix).render(dtype="float64")[100]
    assert left == pytest.approx(levels["A"] if "A" in sounding else 0.0, abs=1e-15)
    want_right = sum(levels[k] for k in "BC" if k in sounding)
    assert right == pytest.approx(want_right, abs=1e-15)


def test_a_vca_adds_its_gain_and_its_automation(write_mix: MixWriter) -> None:
    mix = write_mix(
        head("0dB")
        + """
[[track]]
name = "T"
source = "s.wav"
gain_db = -4.0
[[vca]]
name = "V"
gain_db = -2.0
members = ["T"]
[vca.automation]
gain_db = [[0.0, -2.0], [0.005, -2.0], [0.005, 3.0]]
""",
        s__wav=(np.full(480, 0.5), 48000, "DOUBLE"),
    )
    out = mixrender.load(mix).render(dtype="float64")[:, 0]
    assert out[239] == pytest.approx(0.5 * 10 ** (-6 / 20), rel=1e-14)
    assert out[240] == pytest.approx(0.5 * 10 ** (-1 / 20), rel=1e-14)


def test_a_441_source_in_a_48k_session_stays_a_clean_1khz_sine(write_mix: MixWriter) -> None:
    src = tone(2.0, rate=44100, freq=1000.0, db=-6.0)
    mix = write_mix(
        head("0dB") + '[[track]]\nname = "T"\nsource = "s.wav"\n', s__wav=(src, 44100, "PCM_24")
    )
    out = mixrender.load(mix).render(dtype="float64")
    assert out.shape[0] == -(-len(src) * 48000 // 44100)
    x = out[24000:72000, 0]  # 1 s from the middle
    n = len(x)
    window = np.blackman(n)
    spec = np.abs(np.fft.rfft(x * window)) ** 2
    freqs = np.fft.rfftfreq(n, 1 / 48000)
    peak = int(np.argmax(spec))
    assert freqs[peak] == pytest.approx(1000.0, abs=1.0)
    band = (freqs >= 20) & (freqs <= 20000)
    fundamental = np.abs(freqs - 1000.0) <= 8.0
    signal_power = spec[fundamental].sum()
    residual = spec[band & ~fundamental].sum()
    thd_n = 10 * np.log10(residual / signal_power)
    assert thd_n < -100.0, f"THD+N {thd_n:.1f} dB"
    amplitude = np.sqrt(2 * np.mean(x**2))
    assert 20 * np.log10(amplitude) == pytest.approx(-6.0, abs=0.01)


def test_offsets_end_and_tail(write_mix: MixWriter) -> None:
    text = """
format = "mixrender/1"
[session]
sample_rate = 48000
tempo_bpm = 120.0
end = "auto"
tail_s = 0.25
[[track]]
name = "T"
source = "s.wav"
offset_s = "2:1"
pan_law = "0dB"
"""
    mix = write_mix(text, s__wav=(np.full(4800, 0.5), 48000, "DOUBLE"))
    out = mixrender.load(mix).render(dtype="float64")
    # bar 2 at 120 bpm in 4/4 = 2.0 s; the source lasts 0.1 s; the tail 0.25 s
    assert out.shape == (96000 + 4800 + 12000, 2)
    assert out[95999, 0] == 0.0 and out[96000, 0] == 0.5 and out[96000 + 4800, 0] == 0.0
    fixed = write_mix(text.replace('end = "auto"\ntail_s = 0.25', "end = 1.0"), name="fixed.toml")
    assert mixrender.load(fixed).render().shape == (48000, 2)


def test_in_memory_sources_render_like_files(write_mix: MixWriter) -> None:
    src = noise(0.3, channels=2, seed=5).astype(np.float32)
    mix = write_mix(
        head() + '[[track]]\nname = "T"\nsource = "s.wav"\npan = 0.3\n', s__wav=(src, 48000)
    )
    from_file = mixrender.load(mix).render()
    in_memory = mixrender.load(mix, sources={"s.wav": (src, 48000)}).render()
    assert np.array_equal(from_file, in_memory)


def test_integer_outputs_are_dithered_with_the_seed_and_clips_are_counted(
    write_mix: MixWriter, tmp_path: Path
) -> None:
    src = tone(0.2, db=-30.0)
    src[100:110] = 1.0
    text = (
        head(bits=16) + '[[track]]\nname = "T"\nsource = "s.wav"\npan_law = "0dB"\ngain_db = 3.0\n'
    )
    mix = write_mix(text, s__wav=(src, 48000, "DOUBLE"))
    a = mixrender.load(mix).render(tmp_path / "a.wav")
    b = mixrender.load(mix).render(tmp_path / "b.wav")
    assert a.audio_sha256 == b.audio_sha256
    assert (tmp_path / "a.wav").read_bytes() == (tmp_path / "b.wav").read_bytes()
    assert a.clipped_samples == 20
    assert a.peak_before_clip_dbfs == pytest.approx(3.0, abs=1e-9)
    assert a.sample_peak_dbfs == pytest.approx(0.0, abs=1e-9)  # the output, clipped
    reseeded = write_mix(text + "", name="seed.toml")
    reseeded.write_text(reseeded.read_text().replace("bit_depth = 16", "bit_depth = 16\nseed = 7"))
    c = mixrender.load(reseeded).render(tmp_path / "c.wav")
    assert c.audio_sha256 != a.audio_sha256
    pcm, _ = sf.read(str(tmp_path / "a.wav"), dtype="int16")
    assert pcm[105, 0] == 32767
    # Dither is at most 1 LSB: the quantised signal stays within 1.5 LSB of the ideal.
    ideal = src[200:] * 10 ** (3 / 20) * 32768
    assert np.max(np.abs(pcm[200:, 0] - ideal)) <= 1.5


@pytest.mark.parametrize("ext", [".flac", ".aiff"])
def test_other_formats_by_extension_have_the_same_audio_hash(
    write_mix: MixWriter, tmp_path: Path, ext: str
) -> None:
    mix = write_mix(
        head(bits=24) + '[[track]]\nname = "T"\nsource = "s.wav"\n', s__wav=(noise(0.2), 48000)
    )
    wav = mixrender.load(mix).render(tmp_path / "x.wav")
    other = mixrender.load(mix).render(tmp_path / f"x{ext}")
    assert wav.audio_sha256 == other.audio_sha256
    a, _ = sf.read(str(tmp_path / "x.wav"), dtype="int32")
    b, _ = sf.read(str(tmp_path / f"x{ext}"), dtype="int32")
    assert np.array_equal(a, b)


def test_flac_with_32_bit_float_is_refused(write_mix: MixWriter, tmp_path: Path) -> None:
    mix = write_mix(
        head(bits=32) + '[[track]]\nname = "T"\nsource = "s.wav"\n', s__wav=(noise(0.1), 48000)
    )
    with pytest.raises(mixrender.MixError, match="FLAC"):
        mixrender.load(mix).render(tmp_path / "x.flac")


def test_a_failed_render_leaves_no_file_behind(write_mix: MixWriter, tmp_path: Path) -> None:
    mix = write_mix(
        head() + '[[track]]\nname = "T"\nsource = "s.flac"\n', s__flac=(noise(2.0), 48000, "PCM_16")
    )
    src = tmp_path / "s.flac"
    data = src.read_bytes()
    src.write_bytes(data[: len(data) // 2])  # truncated after the header was written
    out = tmp_path / "out.wav"
    with pytest.raises(mixrender.SourceError) as e:
        mixrender.load(mix).render(out, block_size=1024)
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert "s.flac" in str(e.value)


def test_mono_below_hz_folds_the_low_side_to_mono_and_keeps_the_mid(
    write_mix: MixWriter,
) -> None:
    # A 40 Hz side (L = -R) and a 40 Hz mid through width's mono_below_hz = 400: the side
    # comes out as the 2nd-order Butterworth high-pass passes it, the mid as it went in.
    rate, f, fc = 48000, 40.0, 400.0
    t = np.arange(rate) / rate
    side, mid = 0.3 * np.sin(2 * np.pi * f * t), 0.2 * np.sin(2 * np.pi * f * t + 1.0)
    src = np.stack([mid + side, mid - side], axis=1)
    text = head("0dB") + (
        '[[track]]\nname = "T"\nsource = "s.wav"\n'
        '  [[track.insert]]\n  type = "width"\n  mono_below_hz = 400.0\n'
    )
    out = mixrender.load(write_mix(text, s__wav=(src, rate, "DOUBLE"))).render(dtype="float64")
    steady = slice(rate // 2, rate)
    got_side = (out[:, 0] - out[:, 1])[steady] / 2
    w = np.tan(np.pi * f / rate) / np.tan(np.pi * fc / rate)
    want = w**2 / np.sqrt(1 + w**4)
    ratio = np.sqrt(np.mean(got_side**2) / np.mean(side[steady] ** 2))
    assert 20 * np.log10(ratio) == pytest.approx(20 * np.log10(want), abs=0.01)
    assert np.allclose((out[:, 0] + out[:, 1]) / 2, mid, rtol=0, atol=1e-15)


def test_tilt_gives_its_slope_in_db_per_octave_from_the_pivot(write_mix: MixWriter) -> None:
    # Sines two octaves below and three above the pivot through +2.5 dB/oct: -5 and +7.5 dB,
    # within the design's 0.5 dB.
    rate = 48000
    t = np.arange(rate) / rate
    for f, want in ((250.0, -5.0), (8000.0, 7.5)):
        src = 0.1 * np.sin(2 * np.pi * f * t)
        text = head("0dB") + (
            '[[track]]\nname = "T"\nsource = "s.wav"\n'
            '  [[track.insert]]\n  type = "tilt"\n  gain_db = 2.5\n  freq_hz = 1000.0\n'
        )
        out = mixrender.load(write_mix(text, s__wav=(src, rate, "DOUBLE"))).render(dtype="float64")
        steady = slice(rate // 2, rate)
        got = 10 * np.log10(np.mean(out[steady, 0] ** 2) / np.mean(src[steady] ** 2))
        assert got == pytest.approx(want, abs=0.5), (f, got)


def test_rough_render_keeps_faders_and_bypasses_inserts_sends_and_automation(
    write_mix: MixWriter,
) -> None:
    mix = write_mix(
        head("0dB")
        + """
[[track]]
name = "T"
source = "s.wav"
gain_db = -6.0
sends = [{ to = "Aux", level_db = 0.0 }]
  [[track.insert]]
  type = "gain"
  gain_db = -20.0
  [track.automation]
  gain_db = [[0.0, -40.0], [0.01, -40.0]]
[[bus]]
name = "Aux"
""",
        s__wav=(np.full(480, 0.5), 48000, "DOUBLE"),
    )
    full = mixrender.load(mix).render(dtype="float64")
    rough = mixrender.load(mix).render(dtype="float64", rough=True)
    assert rough[100, 0] == pytest.approx(0.5 * 10 ** (-6 / 20), rel=1e-14)
    assert full[100, 0] == pytest.approx(0.5 * 10 ** (-60 / 20) + 0.5 * 10 ** (-60 / 20), rel=1e-12)


@pytest.mark.parametrize("bits", [16, 24, 32])
def test_the_engine_writes_wav_as_soundfile_would(
    write_mix: MixWriter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bits: int
) -> None:
    mix = write_mix(
        head(bits=bits) + '[[track]]\nname = "T"\nsource = "s.wav"\n', s__wav=(noise(0.3), 48000)
    )
    engine = mixrender.load(mix).render(tmp_path / "engine.wav", block_size=1000)
    monkeypatch.setattr(mixrender.writer, "_WAV_MAX_BYTES", 0)  # soundfile writes instead
    python = mixrender.load(mix).render(tmp_path / "soundfile.wav", block_size=1000)
    assert engine.audio_sha256 == python.audio_sha256
    info = sf.info(str(tmp_path / "engine.wav"))
    assert (info.subtype, info.channels, info.frames) == (
        {16: "PCM_16", 24: "PCM_24", 32: "FLOAT"}[bits],
        2,
        engine.frames,
    )
    dtype = "float32" if bits == 32 else "int32"
    a, _ = sf.read(str(tmp_path / "engine.wav"), dtype=dtype)
    b, _ = sf.read(str(tmp_path / "soundfile.wav"), dtype=dtype)
    assert np.array_equal(a, b) and np.abs(a).max() > 0


def test_render_options_name_every_keyword_of_render() -> None:
    """`Mix.render`'s overloads take `**RenderOptions`; its implementation lists the same
    keywords with their defaults, so that neither can gain or lose one alone."""
    params = inspect.signature(Mix.render).parameters.values()
    keywords = {p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY}
    declared = RenderOptions.__required_keys__ | RenderOptions.__optional_keys__
    assert declared == keywords
    assert not RenderOptions.__required_keys__
    assert "threads" in keywords and "lock" in keywords
