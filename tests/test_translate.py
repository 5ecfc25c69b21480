"""translate: playback-system previews and figures (issue 18), against independent references:
the RBJ cookbook written out here, the documented table of the models' responses, the
engine's own render of the documented chain, and signals whose correlation is known."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import soundfile as sf
from typer.testing import CliRunner

import mixrender
from conftest import MixWriter
from mixrender.analyze import analyze_file
from mixrender.cli import app
from mixrender.translate import SYSTEMS, response_db

RATE = 48000

#: The documented chains (docs/translate.md), written out independently of the module:
#: (width or None, [(type, freq_hz, gain_db, q, slope_db_oct)]).
CHAINS: dict[str, tuple[float | None, list[tuple[str, float, float, float | None, int]]]] = {
    "mono": (0.0, []),
    "earbuds": (
        None,
        [("highpass", 66, 0, 0.5, 12), ("bell", 700, -3.2, 0.42, 0), ("bell", 2400, 4.7, 0.65, 0)],
    ),
    "earbuds_sealed": (
        None,
        [
            ("lowshelf", 105, -2.6, None, 0),
            ("bell", 514, 4.4, 0.68, 0),
            ("bell", 4600, -3.4, 2.46, 0),
            ("bell", 8900, -6.0, 1.66, 0),
        ],
    ),
    "phone": (
        0.0,
        [
            ("highpass", 500, 0, 1.0, 12),
            ("highpass", 300, 0, None, 12),
            ("bell", 3000, 3.0, 1.0, 0),
            ("lowpass", 12000, 0, None, 12),
        ],
    ),
    "laptop": (
        0.6,
        [
            ("highpass", 250, 0, None, 24),
            ("bell", 1500, 2.0, 1.0, 0),
            ("lowpass", 10000, 0, None, 12),
        ],
    ),
    "car": (
        0.5,
        [
            ("highpass", 35, 0, None, 12),
            ("lowshelf", 90, 6.0, 0.7, 0),
            ("lowpass", 14000, 0, None, 12),
        ],
    ),
    "bt_speaker": (
        0.0,
        [
            ("highpass", 70, 0, None, 24),
            ("bell", 100, 4.0, 1.0, 0),
            ("lowpass", 15000, 0, None, 12),
        ],
    ),
}

#: The table of ../shared/references/playback-systems.md (dB at 48 kHz).
TABLE_HZ = [40, 60, 100, 200, 300, 500, 1000, 2000, 3000, 4000, 8000, 12000]
TABLE_DB = {
    "phone": [-79, -65, -47, -23, -10.7, -0.4, 1.2, 2.0, 3.1, 2.2, 0.0, -2.9],
    "laptop": [-64, -50, -32, -8.4, -0.8, 0.2, 1.2, 1.5, 0.6, 0.2, -1.1, -5.9],
    "earbuds": [-11.5, -7.0, -3.5, -2.0, -2.2, -2.6, -1.2, 2.9, 3.5, 2.6, 0.7, 0.2],
    "earbuds_sealed": [-2.5, -2.2, -1.1, 1.2, 2.7, 4.4, 2.2, 0.4, -0.5, -2.6, -5.3, -2.1],
    "car": [3.7, 4.5, 2.3, 0.3, 0.1, 0, 0, 0, 0, 0, -0.2, -1.3],
    "bt_speaker": [-18.7, -4.6, 3.8, 1.2, 0.5, 0.2, 0, 0, 0, 0, -0.1, -0.8],
    "mono": [0.0] * 12,
}


def rbj_db(chain: list[tuple[str, float, float, float | None, int]], f: float, fs: float) -> float:
    """The cookbook's magnitude, |H(e^jw)| in dB, of the chain (Butterworth above 12 dB/oct)."""
    h = 1.0 + 0j
    z = np.exp(-1j * 2 * math.pi * f / fs)
    for kind, f0, gain, q, slope in chain:
        w0 = 2 * math.pi * f0 / fs
        c, s = math.cos(w0), math.sin(w0)
        a = 10 ** (gain / 40)
        sections: list[tuple[list[float], list[float]]] = []
        if kind in ("highpass", "lowpass"):
            qs = [q or 1 / math.sqrt(2)] if slope == 12 else [0.5411961, 1.3065630]
            for qq in qs:
                al = s / (2 * qq)
                b = (
                    [(1 - c) / 2, 1 - c, (1 - c) / 2]
                    if kind == "lowpass"
                    else [(1 + c) / 2, -(1 + c), (1 + c) / 2]
                )
                sections.append((b, [1 + al, -2 * c, 1 - al]))
        elif kind == "bell":
            al = s / (2 * (q or 1.0))
            sections.append(([1 + al * a, -2 * c, 1 - al * a], [1 + al / a, -2 * c, 1 - al / a]))
        else:  # lowshelf
            al = s / (2 * (q or 1 / math.sqrt(2)))
            r = 2 * math.sqrt(a) * al
            sections.append(
                (
                    [
                        a * ((a + 1) - (a - 1) * c + r),
                        2 * a * ((a - 1) - (a + 1) * c),
                        a * ((a + 1) - (a - 1) * c - r),
                    ],
                    [
                        (a + 1) + (a - 1) * c + r,
                        -2 * ((a - 1) + (a + 1) * c),
                        (a + 1) + (a - 1) * c - r,
                    ],
                )
            )
        for b, den in sections:
            h *= (b[0] + b[1] * z + b[2] * z * z) / (den[0] + den[1] * z + den[2] * z * z)
    return 20 * math.log10(abs(h))


def test_the_models_match_the_documented_table() -> None:
    assert list(SYSTEMS) == list(CHAINS)
    for name, (_, chain) in CHAINS.items():
        ours = [rbj_db(chain, f, RATE) for f in TABLE_HZ]
        module = response_db(SYSTEMS[name], TABLE_HZ, RATE)
        for f, a, b, t in zip(TABLE_HZ, ours, module, TABLE_DB[name], strict=True):
            assert abs(a - t) < 0.5, f"{name} at {f} Hz: cookbook {a:.2f} dB, table {t} dB"
            assert abs(a - b) < 1e-6, f"{name} at {f} Hz: module {b:.4f} dB, cookbook {a:.4f}"


def _impulse_file(path: Path, seconds: float = 1.0) -> None:
    x = np.zeros(round(seconds * RATE), dtype=np.float32)
    x[RATE // 10] = 0.5
    sf.write(str(path), x, RATE, subtype="FLOAT")


def test_each_preview_measures_as_its_chain(tmp_path: Path) -> None:
    # An impulse through each system: the preview's spectrum, less the stated matching
    # gain, is the chain's cookbook response within 0.5 dB at the table's frequencies.
    src = tmp_path / "click.wav"
    _impulse_file(src)
    result = mixrender.translate(src, out=tmp_path / "out")
    assert [s.name for s in result.systems] == list(CHAINS)
    for s in result.systems:
        y, fs = sf.read(s.preview, dtype="float64", always_2d=True)
        assert fs == RATE
        spec = np.abs(np.fft.rfft(y[:, 0]))
        freqs = np.fft.rfftfreq(len(y), 1 / RATE)
        for f in TABLE_HZ:
            got = 20 * np.log10(spec[np.argmin(abs(freqs - f))] / 0.5) - s.matching_gain_db
            want = rbj_db(CHAINS[s.name][1], f, RATE)
            assert abs(got - want) < 0.5, f"{s.name} at {f} Hz: preview {got:.2f}, chain {want:.2f}"


def _chain_mix(source: str, name: str, gain_db: float, frames: int) -> str:
    width, chain = CHAINS[name]
    lines = [
        'format = "mixrender/1"',
        "[session]",
        f"sample_rate = {RATE}",
        'pan_law = "0dB"',
        f"end = {frames / RATE!r}",
        "[render]",
        "bit_depth = 32",
        "[[track]]",
        'name = "m"',
        f'source = "{source}"',
        "[master]",
        f"gain_db = {gain_db!r}",
    ]
    if width is not None:
        lines += ["[[master.insert]]", 'type = "width"', f"width = {width}"]
    if chain:
        bands = []
        for kind, f0, gain, q, slope in chain:
            b = f'{{ type = "{kind}", freq_hz = {float(f0)}'
            if kind in ("bell", "lowshelf"):
                b += f", gain_db = {gain}"
            if q is not None:
                b += f", q = {q}"
            if kind in ("highpass", "lowpass"):
                b += f", slope_db_oct = {slope}"
            bands.append(b + " }")
        lines += ["[[master.insert]]", 'type = "eq"', f"bands = [{', '.join(bands)}]"]
    return "\n".join(lines) + "\n"


def test_each_preview_is_the_master_rendered_through_its_chain_and_matched(
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(3)
    pink = np.cumsum(rng.standard_normal((2 * RATE, 2)), axis=0)
    pink -= np.linspace(pink[0], pink[-1], len(pink))
    x = (0.1 * pink / pink.std() + 0.05 * rng.standard_normal((2 * RATE, 2))).astype(np.float32)
    src = tmp_path / "song.wav"
    sf.write(str(src), x, RATE, subtype="FLOAT")
    result = mixrender.translate(src, out=tmp_path / "out")
    assert result.kind == "file" and result.target_lufs is not None
    for s in result.systems:
        assert s.preview == str(tmp_path / "out" / f"song.{s.name}.wav")
        preview, _ = sf.read(s.preview, dtype="float32", always_2d=True)
        mix_path = tmp_path / f"ref_{s.name}.toml"
        mix_path.write_text(_chain_mix(str(src), s.name, s.matching_gain_db, len(x)))
        reference = mixrender.load(mix_path).render()
        np.testing.assert_array_equal(preview, reference, err_msg=s.name)
        # The stated peak (the chain's, the fold-down's for mono, plus the gain) is the
        # float preview's, to its float32 rounding.
        peak = 20 * np.log10(np.max(np.abs(preview)))
        assert s.preview_peak_dbfs is not None
        assert abs(peak - s.preview_peak_dbfs) < 1e-4, (s.name, peak, s.preview_peak_dbfs)
        measured = analyze_file(s.preview)["integrated_lufs"]
        assert abs(measured - result.target_lufs) < 0.1, (s.name, measured, result.target_lufs)
        assert s.loudness_change_db is not None and result.loudness_lufs is not None
        assert (
            abs(measured - s.matching_gain_db - s.loudness_change_db - result.loudness_lufs) < 0.1
        )


def test_the_loudness_through_each_chain_agrees_with_the_meter_on_the_preview(
    tmp_path: Path,
) -> None:
    # The loudness through each chain comes from the spectra; BS.1770's meter (`analyze`) on
    # the rendered preview, less the matching gain, agrees within 0.02 LU on 7 s of noise.
    rng = np.random.default_rng(7)
    n = round(7.3 * RATE)
    pink = np.cumsum(rng.standard_normal((n, 2)), axis=0)
    pink -= np.linspace(pink[0], pink[-1], n)
    x = (0.1 * pink / pink.std() + 0.05 * rng.standard_normal((n, 2))).astype(np.float32)
    src = tmp_path / "long.wav"
    sf.write(str(src), x, RATE, subtype="FLOAT")
    result = mixrender.translate(src, out=tmp_path / "out")
    for s in result.systems:
        measured = analyze_file(s.preview)["integrated_lufs"]
        assert s.preview_lufs is not None
        assert abs(measured - s.preview_lufs) < 0.02, (s.name, measured, s.preview_lufs)


BASS_MIX = """
format = "mixrender/1"
[session]
sample_rate = 48000
[render]
bit_depth = 24
[[track]]
name = "Bass"
source = "bass.wav"
gain_db = -3.0
[[track]]
name = "Keys"
source = "keys.wav"
"""


def _keys(seconds: float) -> npt.NDArray[np.float64]:
    t = np.arange(round(seconds * RATE)) / RATE
    x = sum(np.sin(2 * np.pi * f * t) / k for k, f in enumerate((523.3, 659.3, 784.0, 1046.5), 1))
    return np.asarray(0.1 * x)


def test_a_sub_bass_is_gone_on_the_phone_and_laptop_not_in_the_car(
    write_mix: MixWriter, tmp_path: Path
) -> None:
    t = np.arange(3 * RATE) / RATE
    mix = write_mix(
        BASS_MIX,
        bass__wav=(0.3 * np.sin(2 * np.pi * 50 * t), RATE),
        keys__wav=(_keys(3.0), RATE),
    )
    result = mixrender.translate(mix, systems=["phone", "laptop", "car"])
    assert result.output_dir == str(tmp_path / "mix.translate")
    by = {s.name: s for s in result.systems}
    assert list(by) == ["phone", "laptop", "car"]
    for name in ("phone", "laptop"):
        bass = next(st for st in by[name].stems if st.name == "Bass")
        assert bass.relative_db is not None and bass.relative_db < -20, (name, bass)
        assert bass.flag == "strong"
        assert any(f.startswith(f"{name}: Bass ") for f in by[name].flags), by[name].flags
        keys = next(st for st in by[name].stems if st.name == "Keys")
        assert keys.relative_db is not None and keys.relative_db > 0 and keys.flag is None
    car_bass = next(st for st in by["car"].stems if st.name == "Bass")
    assert car_bass.flag is None and car_bass.relative_db is not None
    assert car_bass.relative_db > -6
    assert not any("Bass" in f for f in by["car"].flags)
    # A mix's previews (24-bit, dithered, from the rendered master) are matched too.
    assert result.target_lufs is not None
    for s in result.systems:
        measured = analyze_file(s.preview)["integrated_lufs"]
        assert abs(measured - result.target_lufs) < 0.1, (s.name, measured, result.target_lufs)


PAD_MIX = """
format = "mixrender/1"
[session]
sample_rate = 48000
[render]
bit_depth = 24
[[track]]
name = "Pad"
source = "pad.wav"
"""


def test_a_pad_at_correlation_zero_loses_3_db_in_mono(write_mix: MixWriter) -> None:
    rng = np.random.default_rng(7)
    pad = 0.1 * rng.standard_normal((3 * RATE, 2))
    mix = write_mix(PAD_MIX, pad__wav=(pad, RATE))
    result = mixrender.translate(mix, systems=["mono", "earbuds"])
    assert result.mono_loss_db is not None and abs(result.mono_loss_db + 3.0) < 0.1
    (stem,) = result.stems
    assert stem.mono_loss_db is not None and abs(stem.mono_loss_db + 3.0) < 0.1
    mono = result.systems[0]
    assert mono.mono_loss_db is not None and abs(mono.mono_loss_db + 3.0) < 0.1
    # The fold-down's loudness change is the same -3 dB, and nothing is anti-phase.
    assert mono.loudness_change_db is not None and abs(mono.loudness_change_db + 3.0) < 0.1
    assert not any("anti-phase" in f for f in result.flags)
    assert "pan law -3dB" in result.pan_law_effect


def test_anti_phase_content_is_flagged(write_mix: MixWriter) -> None:
    rng = np.random.default_rng(8)
    x = 0.1 * rng.standard_normal(3 * RATE)
    wide = np.stack([x, -0.9 * x], axis=1)  # rho about -0.99
    mix = write_mix(PAD_MIX.replace("pad.wav", "wide.wav"), wide__wav=(wide, RATE))
    result = mixrender.translate(mix, systems=["mono", "phone"])
    assert result.correlation is not None and result.correlation < -0.9
    assert result.mono_loss_db is not None and result.mono_loss_db < -15
    assert any(f.startswith("anti-phase: the master") for f in result.flags)
    assert any(f.startswith("anti-phase: stem Pad") for f in result.flags)
    mono, phone = result.systems
    assert any("anti-phase" in f for f in mono.flags)
    assert any("anti-phase" in f for f in phone.flags)


def _assert_wav_sizes(data: bytes, frames: int, sample_bytes: int) -> None:
    """The RIFF chunk holds the rest of the file, and the data chunk, last, the rest of it:
    `frames` stereo frames (the sizes the engine fills in once the samples are written)."""
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    assert int.from_bytes(data[4:8], "little") == len(data) - 8
    at = data.index(b"data", 12)
    size = int.from_bytes(data[at + 4 : at + 8], "little")
    assert size == frames * 2 * sample_bytes == len(data) - (at + 8) > 0


def test_two_runs_give_the_same_previews(write_mix: MixWriter, tmp_path: Path) -> None:
    t = np.arange(2 * RATE) / RATE
    mix = write_mix(
        BASS_MIX,
        bass__wav=(0.3 * np.sin(2 * np.pi * 50 * t), RATE),
        keys__wav=(_keys(2.0), RATE),
    )
    a = mixrender.translate(mix, out=tmp_path / "a", systems=["phone", "car"])
    b = mixrender.translate(mix, out=tmp_path / "b", systems=["phone", "car"])
    for sa, sb in zip(a.systems, b.systems, strict=True):
        assert sa.preview_sha256 == sb.preview_sha256
        data = Path(sa.preview).read_bytes()
        assert data == Path(sb.preview).read_bytes()
        _assert_wav_sizes(data, frames=sf.info(sa.preview).frames, sample_bytes=3)
    assert json.loads(a.to_json().replace(str(tmp_path / "a"), "X")) == json.loads(
        b.to_json().replace(str(tmp_path / "b"), "X")
    )


def test_cli_json_keys_and_bad_systems(write_mix: MixWriter, tmp_path: Path) -> None:
    t = np.arange(2 * RATE) / RATE
    mix = write_mix(
        BASS_MIX,
        bass__wav=(0.3 * np.sin(2 * np.pi * 50 * t), RATE),
        keys__wav=(_keys(2.0), RATE),
    )
    runner = CliRunner()
    run = runner.invoke(
        app, ["translate", str(mix), "-o", str(tmp_path / "o"), "--systems", "phone,mono", "--json"]
    )
    assert run.exit_code == 0, run.output
    data = json.loads(run.stdout)
    assert [s["name"] for s in data["systems"]] == ["mono", "phone"]
    for s in data["systems"]:
        assert {"name", "loudness_change_db", "mono_loss_db", "stems", "flags"} <= set(s)
        assert [st["name"] for st in s["stems"]] == ["Bass", "Keys"]
        for st in s["stems"]:
            assert {"name", "relative_db"} <= set(st)
        assert all(isinstance(f, str) for f in s["flags"])
        assert Path(s["preview"]).is_file()
    assert any(f.startswith("phone: Bass") for f in data["systems"][1]["flags"])
    text = runner.invoke(
        app, ["translate", str(mix), "-o", str(tmp_path / "p"), "--systems", "car"]
    )
    assert text.exit_code == 0, text.output
    assert "car" in text.stdout and "sha256" in text.stdout
    bad = runner.invoke(app, ["translate", str(mix), "--systems", "tablet"])
    assert bad.exit_code == 2
    assert "unknown system 'tablet'" in bad.output


def test_a_preview_never_overwrites_an_input(write_mix: MixWriter, tmp_path: Path) -> None:
    t = np.arange(RATE) / RATE
    mix = write_mix(
        BASS_MIX.replace("bass.wav", "mix.phone.wav"),
        mix__phone__wav=(0.3 * np.sin(2 * np.pi * 50 * t), RATE),
        keys__wav=(_keys(1.0), RATE),
    )
    before = (tmp_path / "mix.phone.wav").read_bytes()
    with pytest.raises(mixrender.MixError, match="would overwrite"):
        mixrender.translate(mix, out=tmp_path, systems=["phone"])
    assert (tmp_path / "mix.phone.wav").read_bytes() == before


def _lufs(x: npt.NDArray[np.floating]) -> float:
    from mixrender import _engine

    m = _engine.Meter(RATE, 2)
    m.process(np.ascontiguousarray(x, dtype=np.float64))
    value = m.report()["integrated_lufs"]
    assert value is not None
    return float(value)


def test_relative_levels_agree_with_renders_of_each_stem_through_the_chain(
    write_mix: MixWriter, tmp_path: Path
) -> None:
    # The reference: every stem and the master rendered through the documented chain by
    # the engine and metered by its BS.1770 meter; translate measures on spectra.
    rng = np.random.default_rng(11)
    n = 4 * RATE
    t = np.arange(n) / RATE
    low = 0.2 * np.sin(2 * np.pi * 180 * t) * (t % 1.0 < 0.6)
    spec = np.fft.rfft(rng.standard_normal((n, 2)), axis=0)
    spec[np.fft.rfftfreq(n, 1 / RATE) < 800] = 0
    hiss = 0.05 * np.fft.irfft(spec, n, axis=0)
    mix = write_mix(
        BASS_MIX.replace("bass.wav", "low.wav").replace("keys.wav", "hiss.wav"),
        low__wav=(low, RATE),
        hiss__wav=(hiss, RATE),
    )
    systems = ["phone", "laptop", "earbuds"]
    result = mixrender.translate(mix, out=tmp_path / "t", systems=systems)
    loaded = mixrender.load(mix)
    master = loaded.render(stems=tmp_path / "stems", dtype="float64")
    stems = {
        name: sf.read(str(tmp_path / "stems" / f"{name}.wav"), dtype="float64")[0]
        for name in ("Bass", "Keys")
    }
    for s in result.systems:

        def through(x: npt.NDArray[np.floating], name: str = s.name) -> float:
            src = tmp_path / "src.wav"
            sf.write(str(src), x.astype(np.float32), RATE, subtype="FLOAT")
            mp = tmp_path / "through.toml"
            mp.write_text(_chain_mix(str(src), name, 0.0, len(x)))
            return _lufs(mixrender.load(mp).render(dtype="float64"))

        l_mix, l_mix_sys = _lufs(master), through(master)
        for st in s.stems:
            x = stems[st.name]
            want = (through(x) - l_mix_sys) - (_lufs(x) - l_mix)
            assert st.relative_db is not None
            assert abs(st.relative_db - want) < 0.3, (s.name, st.name, st.relative_db, want)
