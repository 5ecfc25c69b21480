"""compare benchmark: `compare` with two references against one render of the same mix.

A 4-minute stereo mix of 8 stereo stems (each with an EQ and a compressor, a reverb bus, a
limiter on the master) is rendered to a file, and compared (rendered in memory, measured)
with two 4-minute references: one at 44.1 kHz / 16 bit, one at 48 kHz / 24 bit. Prints the
median wall time of interleaved runs and the ratio compare / render (the target is under 3).
Not part of the test run.

    python bench/compare_speed.py [--seconds 240] [--runs 3] [--threads 2] [--scratch bench/scratch]

The stems and references are synthetic (numpy, seeded) and written once into the scratch folder.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np
import soundfile as sf

HERE = Path(__file__).resolve().parent
RATE = 48000
STEMS = 8


def signal(seconds: float, rate: int, seed: int) -> np.ndarray:
    """Stereo noise bursts over a tone, at -20 dBFS or so, seeded."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * rate)) / rate
    beat = (t * (1.5 + 0.25 * (seed % 4))) % 1.0
    env = np.exp(-(8.0 + seed) * beat)
    tone = 0.2 * np.sin(2 * np.pi * (55.0 * (1 + seed % 5)) * t)
    out = np.empty((t.size, 2), dtype=np.float32)
    for c in range(2):
        out[:, c] = np.clip(tone + 0.2 * env * rng.standard_normal(t.size), -0.99, 0.99)
    return out


def prepare(folder: Path, seconds: float) -> tuple[Path, list[Path]]:
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(STEMS):
        path = folder / f"stem{k}.wav"
        if not path.exists():
            sf.write(str(path), signal(seconds, RATE, k), RATE, subtype="PCM_24")
    refs = [(folder / "ref_44k1.wav", 44100, "PCM_16"), (folder / "ref_48k.wav", 48000, "PCM_24")]
    for n, (path, rate, subtype) in enumerate(refs):
        if not path.exists():
            sf.write(str(path), signal(seconds, rate, 100 + n), rate, subtype=subtype)
    lines = [
        'format = "mixrender/1"',
        "[session]",
        f"sample_rate = {RATE}",
        "tail_s = 1.0",
        "[render]",
        "bit_depth = 24",
    ]
    for k in range(STEMS):
        lines += [
            "[[track]]",
            f'name = "t{k}"',
            f'source = "stem{k}.wav"',
            f"pan = {(k % 5 - 2) / 4:.2f}",
            'sends = [{ to = "verb", level_db = -18.0 }]',
            "[[track.insert]]",
            'type = "eq"',
            'bands = [{ type = "highpass", freq_hz = 40.0 },'
            f' {{ type = "bell", freq_hz = {300.0 * (k + 1):.0f}, gain_db = -2.0, q = 1.2 }}]',
            "[[track.insert]]",
            'type = "compressor"',
            "threshold_db = -24.0",
        ]
    lines += ["[[bus]]", 'name = "verb"', "[[bus.insert]]", 'type = "reverb"']
    lines += ["[master]", "gain_db = -6.0", "[[master.insert]]", 'type = "limiter"']
    mix = folder / "mix.toml"
    mix.write_text("\n".join(lines) + "\n")
    return mix, [r[0] for r in refs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=240.0)
    parser.add_argument("--runs", type=int, default=3, help="Interleaved runs of each.")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--scratch", type=Path, default=HERE / "scratch")
    args = parser.parse_args()

    import mixrender

    mix_path, refs = prepare(args.scratch / f"compare_{args.seconds:g}s", args.seconds)
    mix = mixrender.load(mix_path)
    out = mix_path.with_suffix(".wav")

    def render() -> None:
        mix.render(out, threads=args.threads, lock=False)

    def compare() -> None:
        mixrender.compare(mix_path, refs, threads=args.threads)

    render()  # warm-up: page cache, bytecode
    times: dict[str, list[float]] = {"render": [], "compare": []}
    for _ in range(args.runs):
        for name, job in (("render", render), ("compare", compare)):
            start = time.perf_counter()
            job()
            times[name].append(time.perf_counter() - start)
    r = statistics.median(times["render"])
    c = statistics.median(times["compare"])
    print(f"{args.seconds:g} s stereo mix, {STEMS} stems, {args.threads} threads, 2 references")
    print(f"1-min load average: {os.getloadavg()[0]:.2f}")
    print(f"render  median {r:6.2f} s  (runs: {', '.join(f'{t:.2f}' for t in times['render'])})")
    print(f"compare median {c:6.2f} s  (runs: {', '.join(f'{t:.2f}' for t in times['compare'])})")
    print(f"compare / render: {c / r:.2f} (target: under 3)")


if __name__ == "__main__":
    main()
