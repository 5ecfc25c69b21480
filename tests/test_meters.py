"""The meter from Python: the official EBU Loudness Test Set v05 files through `analyze_file`
against the published tolerances (EBU Tech 3341 Table 1: I, M, S +-0.1 LU, true peak
+0.2/-0.4 dB; Tech 3342: LRA +-1 LU), and `analyze_file` / `Meter` on small generated
files (keys, None for silence, channel layouts, block-size independence, errors).

The official files live in ../shared/references/ebu-official/ beside the repository; the
tests that need them skip only when that folder is absent.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import soundfile as sf

from mixrender import _engine
from mixrender.analyze import OCTAVE_BANDS, REPORT_KEYS, analyze_file
from mixrender.errors import MixError

REFERENCES = Path(__file__).parents[1].parent / "shared" / "references"
OFFICIAL = REFERENCES / "ebu-official"

#: The keys the spec's report must have (docs/mix-format.md, "Machine-read outputs").
SPEC_KEYS = {
    "frames",
    "sample_rate",
    "sample_peak_dbfs",
    "true_peak_dbtp",
    "integrated_lufs",
    "loudness_range_lu",
    "max_momentary_lufs",
    "max_short_term_lufs",
    "rms_dbfs",
    "crest_db",
    "correlation",
    "dc_offset",
    "octave_bands_db",
}


def _official_cases() -> list[tuple[str, Path, dict[str, Any]]]:
    """(id, flac path, expectations) for every JSON case whose official file is present."""
    if not OFFICIAL.is_dir():
        return []
    cases = json.loads((REFERENCES / "ebu_expected.json").read_text())["cases"]
    found = []
    for case in cases:
        name = case["official_file"]
        if name is None:
            continue
        flac = OFFICIAL / (name.removesuffix(".wav").removesuffix(".wav") + ".flac")
        if flac.exists():
            found.append((case["id"], flac, case["expect"]))
    return found


OFFICIAL_CASES = _official_cases()
needs_official = pytest.mark.skipif(not OFFICIAL.is_dir(), reason=f"{OFFICIAL} is absent")


def _within(what: str, measured: float | None, value: float, minus: float, plus: float) -> None:
    assert measured is not None, f"{what}: no value"
    off = measured - value
    assert -minus <= off <= plus, (
        f"{what}: measured {measured:.4f}, expected {value} (-{minus}/+{plus}), off {off:+.4f}"
    )


@needs_official
def test_official_files_are_there() -> None:
    assert len(OFFICIAL_CASES) >= 1, f"no official file of ebu_expected.json in {OFFICIAL}"


@needs_official
@pytest.mark.parametrize(
    ("case_id", "path", "expect"),
    OFFICIAL_CASES,
    ids=[c[0] for c in OFFICIAL_CASES],
)
def test_official_ebu_file(case_id: str, path: Path, expect: dict[str, Any]) -> None:
    report = analyze_file(path)
    keys = {
        "integrated": "integrated_lufs",
        "lra": "loudness_range_lu",
        "max_momentary": "max_momentary_lufs",
        "max_short_term": "max_short_term_lufs",
        "momentary_final": "momentary_lufs",
        "short_term_final": "short_term_lufs",
    }
    checked = 0
    for kind, e in expect.items():
        if kind in keys:
            _within(f"{case_id} {kind}", report[keys[kind]], e["value"], e["tol"], e["tol"])
        elif kind == "true_peak_max":
            _within(
                f"{case_id} true peak",
                report["true_peak_dbtp"],
                e["value"],
                e["tol_minus"],
                e["tol_plus"],
            )
        elif kind == "momentary_constant":
            _check_momentary_constant(case_id, path, e)
        else:
            continue
        checked += 1
    assert checked, f"{case_id}: nothing checked in {expect}"


def _check_momentary_constant(case_id: str, path: Path, e: dict[str, Any]) -> None:
    """Live M every 10 ms (read after each 10 ms block) from `after_s` on."""
    data, fs = sf.read(str(path), dtype="float32", always_2d=True)
    meter = _engine.Meter(fs, data.shape[1])
    hop = fs // 100
    for end in range(hop, len(data) + 1, hop):
        meter.process(data[end - hop : end])
        if end >= e["after_s"] * fs:
            m = meter.report()["momentary_lufs"]
            _within(f"{case_id} M at {end / fs:.2f} s", m, e["value"], e["tol"], e["tol"])


def _tone(
    fs: int, seconds: float, db: float, freq: float = 1000.0, channels: int = 2
) -> npt.NDArray[np.float64]:
    n = np.arange(round(seconds * fs))
    x = 10 ** (db / 20) * np.sin(2 * np.pi * freq * n / fs)
    return np.ascontiguousarray(np.repeat(x[:, None], channels, axis=1))


def _write(path: Path, data: npt.NDArray[Any], fs: int, subtype: str = "FLOAT") -> Path:
    sf.write(str(path), data, fs, subtype=subtype)
    return path


def test_report_keys_and_values(tmp_path: Path) -> None:
    path = _write(tmp_path / "tone.wav", _tone(48000, 5.0, -20.0), 48000)
    r = analyze_file(path)
    assert set(r) >= SPEC_KEYS
    assert set(r) == set(REPORT_KEYS)
    assert list(r["octave_bands_db"]) == list(OCTAVE_BANDS)
    assert r["frames"] == 240000 and r["sample_rate"] == 48000 and r["channels"] == 2
    # -20 dBFS 1 kHz in both channels: -20 - 3.01 + 3.01 + 0.698 - 0.691 LUFS.
    _within("I", r["integrated_lufs"], -19.993, 0.01, 0.01)
    _within("LRA", r["loudness_range_lu"], 0.0, 0.01, 0.01)
    _within("RMS", r["rms_dbfs"], -23.0103, 0.001, 0.001)
    _within("crest", r["crest_db"], 3.0103, 0.001, 0.001)
    _within("true peak", r["true_peak_dbtp"], -20.0, 0.05, 0.05)
    _within("1 kHz band", r["octave_bands_db"]["1000"], -23.0103, 0.06, 0.06)
    assert r["correlation"] == pytest.approx(1.0)
    assert abs(r["dc_offset"]) < 1e-6
    assert json.loads(json.dumps(r)) == r  # plain JSON types


def test_silence_reads_none(tmp_path: Path) -> None:
    path = _write(tmp_path / "silence.wav", np.zeros((96000, 2)), 48000, "PCM_24")
    r = analyze_file(path)
    assert r["frames"] == 96000
    for key in SPEC_KEYS - {"frames", "sample_rate", "octave_bands_db", "dc_offset"}:
        assert r[key] is None, key
    assert all(v is None for v in r["octave_bands_db"].values())
    assert r["dc_offset"] == 0.0


def test_block_size_does_not_change_the_report(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    data = (rng.standard_normal((4 * 44100, 2)) * 0.1).astype(np.float32)
    path = _write(tmp_path / "noise.wav", data, 44100)
    whole = analyze_file(path)
    for block in (1000, 4410, 65536):
        assert analyze_file(path, block_size=block) == whole


def test_channel_layouts(tmp_path: Path) -> None:
    fs = 48000
    mono = analyze_file(_write(tmp_path / "mono.wav", _tone(fs, 1.0, -10.0, channels=1), fs))
    assert mono["correlation"] is None and mono["channels"] == 1
    _within("mono I", mono["integrated_lufs"], -13.0, 0.02, 0.02)
    # 5.1 with a loud LFE reads as 5.0 for loudness; the LFE still counts for the peaks.
    five = _tone(fs, 1.0, -20.0, channels=5)
    six = np.insert(five, 3, _tone(fs, 1.0, -1.0, freq=60.0, channels=1)[:, 0], axis=1)
    r5 = analyze_file(_write(tmp_path / "five.wav", five, fs))
    r6 = analyze_file(_write(tmp_path / "six.wav", np.ascontiguousarray(six), fs))
    assert r5["integrated_lufs"] == r6["integrated_lufs"]
    assert r6["sample_peak_dbfs"] > -1.1 > r5["sample_peak_dbfs"]


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(MixError, match="1, 2, 5"):
        analyze_file(_write(tmp_path / "three.wav", np.zeros((100, 3)), 48000))
    with pytest.raises(MixError, match="cannot be read"):
        analyze_file(tmp_path / "missing.wav")
    with pytest.raises(ValueError, match="block_size"):
        analyze_file(tmp_path / "missing.wav", block_size=0)
    with pytest.raises(ValueError, match="channels"):
        _engine.Meter(48000, 4)
    with pytest.raises(ValueError, match="sample_rate"):
        _engine.Meter(-1, 2)
    meter = _engine.Meter(48000, 2)
    with pytest.raises(ValueError, match="channels"):
        meter.process(np.zeros((10, 1), dtype=np.float32))
    with pytest.raises(ValueError, match="contiguous"):
        meter.process(np.zeros((10, 4), dtype=np.float32)[:, ::2])


def test_meter_takes_float32_and_float64() -> None:
    x = _tone(48000, 1.0, -6.0)
    a, b = _engine.Meter(48000, 2), _engine.Meter(48000, 2)
    a.process(x.astype(np.float32))
    b.process(x.astype(np.float32).astype(np.float64))
    assert a.report() == b.report()
    assert a.sample_rate == 48000 and a.channels == 2
    assert math.isclose(a.report()["sample_peak_dbfs"], -6.0, abs_tol=1e-3)
