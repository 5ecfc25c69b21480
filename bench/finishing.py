"""The finishing desk's speed target (issue 18): on a 4-minute stereo mix with 8 stems,
`translate` with all seven systems takes under 3x the time of rendering the mix once.

    PYTHONPATH=python python bench/finishing.py [--seconds 240] [--runs 3] [--keep DIR]

Generates the stems with numpy (seeded: a kick and a bass of low sines, a snare and hats of
noise, a stereo noise pad, keys and a vocal-like tone of harmonics) in a temporary folder,
writes a mix of them (an EQ and a compressor on every track, a reverb aux, a limiter on the
master: seven tracks and the reverb return, 8 direct inputs of the master), then times, on
the machine's cores, the render of the mix (`mixrender render`'s work: `Mix.render(out)`)
and `mixrender.translate` of the mix with every system, alternately, and prints the medians
and their ratio. Each run writes over the files of the run before, the render its WAV and
translate its seven previews, so that neither pays for the other runs' files still waiting
in the page cache (with a new folder per run, translate's CPU time rose by about 1 s from
the third run on).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

RATE = 48000
SEED = 18
BPM = 120.0


def _shaped_noise(rng: np.random.Generator, n: int, lo_hz: float, hi_hz: float) -> np.ndarray:
    """White noise band-limited to lo..hi Hz (a brick wall in the frequency domain)."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / RATE)
    spec[(f < lo_hz) | (f > hi_hz)] = 0.0
    x = np.fft.irfft(spec, n)
    return x / np.sqrt(np.mean(x * x))


def _hits(n: int, period_s: float, offset_s: float, shape: np.ndarray) -> np.ndarray:
    """`shape` placed every `period_s` from `offset_s` on, clipped to the length."""
    out = np.zeros(n)
    start = round(offset_s * RATE)
    step = round(period_s * RATE)
    for s in range(start, n, step):
        m = min(len(shape), n - s)
        out[s : s + m] += shape[:m]
    return out


def stems(seconds: float) -> dict[str, np.ndarray]:
    """The seven sources: name -> (frames,) or (frames, 2) float32, about -18 dBFS RMS."""
    rng = np.random.default_rng(SEED)
    n = round(seconds * RATE)
    t = np.arange(n) / RATE
    beat = 60.0 / BPM
    # Kick: a 55 Hz sine falling from 110 Hz, 250 ms, on every beat.
    k = np.arange(round(0.25 * RATE)) / RATE
    kick_shape = np.sin(2 * np.pi * (55 * k + 55 * 0.03 * (1 - np.exp(-k / 0.03)))) * np.exp(
        -k / 0.08
    )
    kick = _hits(n, beat, 0.0, kick_shape)
    # Bass: a sine on a four-note line (E1, G1, A1, D2: 41 to 73 Hz), with a touch of octave.
    notes = np.array([41.2, 49.0, 55.0, 73.4])
    f0 = notes[(t // (2 * beat)).astype(int) % 4]
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    bass = np.sin(phase) + 0.2 * np.sin(2 * phase)
    # Snare: band noise bursts on beats 2 and 4; hats: high noise on every eighth.
    s = np.arange(round(0.18 * RATE)) / RATE
    snare = _hits(n, 2 * beat, beat, np.exp(-s / 0.05)) * _shaped_noise(rng, n, 150, 9000)
    h = np.arange(round(0.06 * RATE)) / RATE
    hats_env = _hits(n, beat / 2, 0.0, np.exp(-h / 0.015))
    hats = np.stack(
        [
            hats_env * _shaped_noise(rng, n, 6000, 18000),
            hats_env * _shaped_noise(rng, n, 6000, 18000),
        ],
        axis=1,
    )
    # Pad: decorrelated stereo noise 200 Hz - 4 kHz swelling every 8 bars.
    swell = 0.6 + 0.4 * np.sin(2 * np.pi * t / (32 * beat))
    pad = np.stack(
        [swell * _shaped_noise(rng, n, 200, 4000), swell * _shaped_noise(rng, n, 200, 4000)],
        axis=1,
    )
    # Keys: a chord of harmonics, slightly different per side.
    keys = np.zeros((n, 2))
    for f, a in ((220.0, 1.0), (277.2, 0.7), (329.6, 0.6), (440.0, 0.3), (659.3, 0.2)):
        keys[:, 0] += a * np.sin(2 * np.pi * f * t)
        keys[:, 1] += a * np.sin(2 * np.pi * f * 1.003 * t + 0.5)
    keys *= ((0.5 + 0.5 * np.cos(2 * np.pi * t / beat)) ** 2)[:, None]
    # Vocal-like: 16 harmonics of a 196 Hz tone with vibrato, formant weights, in phrases.
    vib = 196.0 * (1 + 0.01 * np.sin(2 * np.pi * 5.5 * t))
    ph = 2 * np.pi * np.cumsum(vib) / RATE
    vox = sum(
        np.sin(m * ph) / m * (1.0 + 3.0 * np.exp(-(((m * 196.0 - 700.0) / 300.0) ** 2)))
        + np.sin(m * ph) / m * 2.0 * np.exp(-(((m * 196.0 - 2800.0) / 500.0) ** 2))
        for m in range(1, 17)
    )
    vox *= (np.sin(2 * np.pi * t / (8 * beat)) > -0.3).astype(float)
    out = {
        "kick": kick,
        "bass": bass,
        "snare": snare,
        "hats": hats,
        "pad": pad,
        "keys": keys,
        "vox": vox,
    }
    for name, x in out.items():
        rms = np.sqrt(np.mean(x * x))
        out[name] = (x * (10 ** (-18 / 20) / rms)).astype(np.float32)
    return out


def mix_toml(sources: dict[str, str], seconds: float) -> str:
    pans = {
        "kick": 0.0,
        "bass": 0.0,
        "snare": 0.1,
        "hats": 0.4,
        "pad": 0.0,
        "keys": -0.3,
        "vox": 0.0,
    }
    lines = [
        "# bench/finishing.py: 7 tracks and a reverb return, the 8 direct inputs of the master.",
        'format = "mixrender/1"',
        "[session]",
        f"sample_rate = {RATE}",
        f"end = {float(seconds)}",
        "[render]",
        "bit_depth = 24",
        "",
    ]
    for name, path in sources.items():
        send = -12.0 if name in ("vox", "snare") else -20.0
        lines += [
            "[[track]]",
            f'name = "{name}"',
            f'source = "{path}"',
            "gain_db = -4.0",
            f"pan = {pans[name]}",
            f'sends = [{{ to = "verb", level_db = {send} }}]',
            "  [[track.insert]]",
            '  type = "eq"',
            '  bands = [{ type = "highpass", freq_hz = 30.0 }, '
            '{ type = "bell", freq_hz = 300.0, gain_db = -2.0, q = 1.0 }, '
            '{ type = "bell", freq_hz = 3000.0, gain_db = 1.5, q = 1.2 }, '
            '{ type = "highshelf", freq_hz = 10000.0, gain_db = 1.0 }]',
            "  [[track.insert]]",
            '  type = "compressor"',
            "  threshold_db = -20.0",
            "  ratio = 3.0",
            "  attack_ms = 10.0",
            "  release_ms = 120.0",
            "",
        ]
    lines += [
        "[[bus]]",
        'name = "verb"',
        "  [[bus.insert]]",
        '  type = "reverb"',
        "  decay_s = 1.6",
        "  mix = 1.0",
        "",
        "[master]",
        "  [[master.insert]]",
        '  type = "limiter"',
        "  ceiling_db = -1.0",
        "",
    ]
    return "\n".join(lines)


def prepare(folder: Path, seconds: float) -> Path:
    files = {}
    for name, x in stems(seconds).items():
        sf.write(folder / f"{name}.wav", x, RATE, subtype="FLOAT")
        files[name] = f"{name}.wav"
    mix = folder / "mix.toml"
    mix.write_text(mix_toml(files, seconds))
    return mix


def _cpu() -> float:
    """CPU seconds of this process, every thread (the engine's too)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=240.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keep", type=Path, help="generate into this folder and keep it")
    args = ap.parse_args()

    import mixrender

    with tempfile.TemporaryDirectory(prefix="finishing-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        mix_path = prepare(folder, args.seconds)
        mix = mixrender.load(mix_path)
        renders: list[float] = []
        translates: list[float] = []
        cpu_r: list[float] = []
        cpu_t: list[float] = []
        load0 = os.getloadavg()[0]
        # Alternately, so that a busy spell of the machine weighs on both alike.
        for _ in range(args.runs):
            t0, c0 = time.perf_counter(), _cpu()
            mix.render(folder / "mix.wav", lock=False)
            renders.append(time.perf_counter() - t0)
            cpu_r.append(_cpu() - c0)
            t0, c0 = time.perf_counter(), _cpu()
            mixrender.translate(mix_path, out=folder / "translate")
            translates.append(time.perf_counter() - t0)
            cpu_t.append(_cpu() - c0)
        r, tr = statistics.median(renders), statistics.median(translates)
        cr, ct = statistics.median(cpu_r), statistics.median(cpu_t)
        load1 = os.getloadavg()[0]
        print(
            f"{args.seconds:g} s mix, 8 stems, {os.cpu_count()} cores, "
            f"1-min load {load0:.1f} before, {load1:.1f} after"
        )
        print(
            f"render    wall median {r:.2f} s ({', '.join(f'{x:.2f}' for x in renders)}), "
            f"CPU {cr:.2f} s ({', '.join(f'{x:.2f}' for x in cpu_r)})"
        )
        print(
            f"translate wall median {tr:.2f} s ({', '.join(f'{x:.2f}' for x in translates)}), "
            f"CPU {ct:.2f} s ({', '.join(f'{x:.2f}' for x in cpu_t)})"
        )
        print(
            f"ratio translate / render: wall {tr / r:.2f}, CPU {ct / cr:.2f} (target: under 3; "
            "CPU seconds are every thread's)"
        )


if __name__ == "__main__":
    main()
