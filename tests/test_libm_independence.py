"""No output bit depends on the platform's maths library.

A shim loaded with `LD_PRELOAD` moves every result of the C library's transcendental
functions (`sin`, `exp`, `pow`, `tanh`, `fma`, ... and their `f` variants) up by one ulp: what
a platform whose libm rounds differently gives. A mix that uses every insert type, automation,
a resampled source, a resampled impulse response, loudness normalisation and dithered 16- and
24-bit output must render the same bytes with and without it. The shimmed process first shows
that the shim is in force (its `math.sin` and the C library's `sin` differ from the plain
process's), so the comparison cannot pass vacuously.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from conftest import REPO, noise, tone

#: The wrapped functions: one argument, two arguments, and the odd ones out.
UNARY = [
    "sin", "cos", "tan", "exp", "exp2", "expm1", "log", "log2", "log10", "log1p",
    "tanh", "sinh", "cosh", "asin", "acos", "atan", "cbrt",
]  # fmt: skip
BINARY = ["pow", "atan2", "hypot"]

SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <math.h>
#include <stdlib.h>

#define REAL(name) \
    static void *real_##name; \
    if (!real_##name) { real_##name = dlsym(RTLD_NEXT, #name); if (!real_##name) abort(); }

#define UNARY(name) \
    double name(double x) { REAL(name) \
        return nextafter(((double (*)(double))real_##name)(x), INFINITY); } \
    float name##f(float x) { REAL(name##f) \
        return nextafterf(((float (*)(float))real_##name##f)(x), INFINITY); }
#define BINARY(name) \
    double name(double x, double y) { REAL(name) \
        return nextafter(((double (*)(double, double))real_##name)(x, y), INFINITY); } \
    float name##f(float x, float y) { REAL(name##f) \
        return nextafterf(((float (*)(float, float))real_##name##f)(x, y), INFINITY); }

%(unary)s
%(binary)s

double fma(double x, double y, double z) { REAL(fma)
    return nextafter(((double (*)(double, double, double))real_fma)(x, y, z), INFINITY); }
float fmaf(float x, float y, float z) { REAL(fmaf)
    return nextafterf(((float (*)(float, float, float))real_fmaf)(x, y, z), INFINITY); }

void sincos(double x, double *s, double *c) { REAL(sincos)
    ((void (*)(double, double *, double *))real_sincos)(x, s, c);
    *s = nextafter(*s, INFINITY); *c = nextafter(*c, INFINITY); }
void sincosf(float x, float *s, float *c) { REAL(sincosf)
    ((void (*)(float, float *, float *))real_sincosf)(x, s, c);
    *s = nextafterf(*s, INFINITY); *c = nextafterf(*c, INFINITY); }
"""

MIX = """
format = "mixrender/1"
[session]
sample_rate = 48000
tempo_bpm = 120.0
end = "auto"
tail_s = 0.3
[render]
bit_depth = {bits}
dither = "tpdf"
seed = 7
loudness_lufs = -20.0

[[track]]
name = "Vox"
source = "vox.wav"
pan = -0.2
output = "Group"
sends = [{{ to = "Verb", level_db = -10.0, pan = 0.3 }}, {{ to = "Hall", level_db = -8.0 }},
         {{ to = "Echo", level_db = -12.0, tap = "pre_fader" }}]
  [[track.insert]]
  name = "trim"
  type = "gain"
  gain_db = -1.5
  polarity = true
  [[track.insert]]
  name = "tone"
  type = "eq"
  bands = [
    {{ type = "highpass", freq_hz = 80.0, slope_db_oct = 36 }},
    {{ type = "lowpass", freq_hz = 12000.0, slope_db_oct = 18 }},
    {{ type = "bell", freq_hz = 900.0, gain_db = -3.0, q = 1.7 }},
    {{ type = "lowshelf", freq_hz = 200.0, gain_db = 2.0 }},
    {{ type = "highshelf", freq_hz = 6000.0, gain_db = -2.5, q = 0.9 }},
    {{ type = "notch", freq_hz = 50.0, q = 5.0 }},
    {{ type = "bandpass", freq_hz = 2500.0, q = 0.3 }},
  ]
  [[track.insert]]
  name = "comp"
  type = "compressor"
  threshold_db = -24.0
  ratio = 3.0
  knee_db = 6.0
  attack_ms = 5.0
  release_ms = 80.0
  makeup_db = 2.0
  [[track.insert]]
  type = "deesser"
  freq_hz = 5000.0
  threshold_db = -40.0
  [[track.insert]]
  name = "sat"
  type = "saturation"
  drive_db = 9.0
  shape = "tanh"
  oversample = 8
  mix = 0.6
  [track.automation]
  gain_db = [[0.0, -6.0], [0.4, 0.0, "smooth"], [0.9, -2.0, "bezier", 0.3], [1.2, -1.0]]
  pan = {{ points = [[0.0, -0.5], [1.2, 0.5]], curve = "fast_end" }}
  "sends.Verb.level_db" = [[0.0, -20.0], [1.0, -6.0]]
  "tone.bands.3.gain_db" = [[0.0, -6.0], [1.1, 4.0]]
  "comp.threshold_db" = [[0.0, -30.0], [1.0, -18.0]]
  "sat.drive_db" = [[0.0, 3.0], [1.2, 12.0]]

[[track]]
name = "Keys"
source = "keys.wav"
pan = 0.3
width = 1.4
output = "Group"
  [[track.insert]]
  type = "compressor"
  threshold_db = -30.0
  ratio = 4.0
  knee_db = 8.0
  detector = "rms"
  rms_ms = 15.0
  sidechain = "Vox"
  sidechain_hpf_hz = 120.0
  [[track.insert]]
  type = "gate"
  threshold_db = -35.0
  range_db = -40.0
  hold_ms = 10.0
  [[track.insert]]
  type = "saturation"
  drive_db = 6.0
  shape = "soft"
  oversample = 4
  [[track.insert]]
  name = "wide"
  type = "width"
  width = 1.6
  mono_below_hz = 150.0
  [track.automation]
  width = [[0.0, 0.5], [1.2, 1.8]]
  "wide.width" = [[0.0, 1.0], [1.0, 0.3]]

[[bus]]
name = "Group"
  [[bus.insert]]
  type = "compressor"
  threshold_db = -18.0
  ratio = 2.0
  knee_db = 4.0
  detector = "peak"

[[bus]]
name = "Verb"
  [[bus.insert]]
  name = "room"
  type = "reverb"
  decay_s = 1.2
  predelay_ms = 12.0
  size = 0.6
  damping_hz = 7000.0
  width = 0.9
  [bus.automation]
  "room.decay_s" = [[0.0, 0.8], [1.0, 2.0]]

[[bus]]
name = "Hall"
  [[bus.insert]]
  type = "convolution"
  ir = "ir.wav"
  predelay_ms = 7.0
  gain_db = -3.0

[[bus]]
name = "Echo"
  [[bus.insert]]
  name = "dly"
  type = "delay"
  time = "1/8d"
  feedback = 0.45
  ping_pong = true
  lowcut_hz = 300.0
  highcut_hz = 5000.0
  mix = 1.0
  [bus.automation]
  "dly.feedback" = [[0.0, 0.2], [1.0, 0.6]]

[master]
gain_db = -0.5
  [[master.insert]]
  type = "eq"
  bands = [{{ type = "highshelf", freq_hz = 10000.0, gain_db = 1.0 }}]
  [[master.insert]]
  type = "tilt"
  gain_db = -0.8
  freq_hz = 900.0
  [[master.insert]]
  type = "limiter"
  ceiling_db = -1.0
  release_ms = 40.0
  true_peak = true
  [master.automation]
  gain_db = [[0.0, -2.0], [1.3, 0.0]]
  "tilt.gain_db" = [[0.0, -1.5], [1.0, 1.0]]
"""

#: Renders the mixes given on the command line (float64 array, then each file) and prints,
#: as JSON, the shim's evidence and the SHA-256 of each output's bytes.
CHILD = """
import ctypes, hashlib, json, math, sys
from pathlib import Path
from typing import Any
import mixrender

libc = ctypes.CDLL(None)
libc.sin.restype = ctypes.c_double
libc.sin.argtypes = [ctypes.c_double]
result = {"c_sin": libc.sin(0.5).hex(), "math_sin": math.sin(0.5).hex(),
          "math_exp": math.exp(0.3).hex()}
folder = Path(sys.argv[2])
mixes = [folder / name for name in sys.argv[3:]]
audio = mixrender.load(mixes[0]).render(dtype="float64")
result["float64"] = hashlib.sha256(audio.tobytes()).hexdigest()
result["frames"] = audio.shape[0]
for mix in mixes:
    out = folder / (mix.stem + "." + sys.argv[1])
    rep = mixrender.load(mix).render(out, lock=False)
    result[mix.stem] = hashlib.sha256(out.read_bytes()).hexdigest()
    result[mix.stem + "_gain_db"] = rep.loudness_gain_db.hex()
print(json.dumps(result))
"""


def _shim(folder: Path) -> Path:
    cc = shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler (`cc`) to build the one-ulp libm shim")
    unary = "\n".join(f"UNARY({n})" for n in UNARY)
    binary = "\n".join(f"BINARY({n})" for n in BINARY)
    src = folder / "nudge.c"
    src.write_text(SHIM % {"unary": unary, "binary": binary})
    lib = folder / "libnudge.so"
    subprocess.run(
        [cc, "-O1", "-shared", "-fPIC", "-fno-builtin", "-o", str(lib), str(src), "-ldl", "-lm"],
        check=True,
        capture_output=True,
    )
    return lib


def _render(folder: Path, ext: str, names: list[str], preload: Path | None) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(REPO / "python"))
    env.pop("LD_PRELOAD", None)
    if preload is not None:
        env["LD_PRELOAD"] = str(preload)
    run = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(CHILD), ext, str(folder), *names],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    result: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    return result


def test_no_output_bit_depends_on_the_platform_libm(tmp_path: Path) -> None:
    shim = _shim(tmp_path)
    vox = tone(1.2, rate=44100, freq=220.0, db=-10.0) + 0.3 * noise(1.2, rate=44100, seed=5)
    keys = np.stack([tone(1.2, freq=330.0, db=-14.0), noise(1.2, seed=9)[:] * 0.5], axis=1)
    sf.write(str(tmp_path / "vox.wav"), vox, 44100, subtype="DOUBLE")
    sf.write(str(tmp_path / "keys.wav"), keys, 48000, subtype="DOUBLE")
    # A short stereo response at 44.1 kHz: resampled into the session, and long enough
    # (0.25 s, about 12000 taps) for the head and three FFT levels of the convolver.
    frames = 11025
    decay = np.exp(-np.arange(frames) / 2000.0)
    ir = noise(frames / 44100, rate=44100, channels=2, seed=11) * decay[:, np.newaxis]
    sf.write(str(tmp_path / "ir.wav"), ir, 44100, subtype="DOUBLE")
    for bits in (16, 24):
        (tmp_path / f"mix{bits}.toml").write_text(MIX.format(bits=bits).lstrip())
    names = ["mix24.toml", "mix16.toml"]

    plain = _render(tmp_path, "wav", names, None)
    nudged = _render(tmp_path, "wav", names, shim)

    # The shim is in force in the nudged process: the C library's sin and Python's math
    # (libm underneath) come out one ulp up.
    for key in ("c_sin", "math_sin"):
        up = math.nextafter(float.fromhex(plain[key]), math.inf)
        assert float.fromhex(nudged[key]) == up, (key, plain[key], nudged[key])
    assert plain["math_exp"] != nudged["math_exp"]

    assert plain["frames"] == nudged["frames"]
    outputs = ("float64", "mix24", "mix16", "mix24_gain_db", "mix16_gain_db")
    differ = [k for k in outputs if plain[k] != nudged[k]]
    assert not differ, f"outputs that depend on the platform libm: {differ}"


def test_the_mix_uses_every_insert_type() -> None:
    from mixrender import schema

    used = set(re.findall(r'^\s*type = "([a-z_]+)"$', MIX, re.M))
    assert set(schema.INSERT_TYPES) <= used, set(schema.INSERT_TYPES) - used
    assert "mono_below_hz" in MIX
