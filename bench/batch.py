"""Batch benchmark: twenty short mixes, jobs per minute on 1 local worker and on 2.

Prints the median wall time of interleaved runs, jobs per minute, the CPU seconds of the
supervisor and its workers, the load average, and the speed-up of 2 workers over 1. The
cache is off, so that every run renders every job; worker start-up is included, since a
batch pays for it too. Not part of the test run.

    python bench/batch.py [--mixes 20] [--seconds 8] [--runs 5] [--scratch bench/scratch]

The stems are synthetic (numpy, seeded) and written once into the scratch folder.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from fuzzgen import to_toml  # the mix as data, written as TOML (shared with the fuzzing harness)

HERE = Path(__file__).resolve().parent
RATE = 48000
KINDS = ["drums", "bass", "pad", "vox"]


def stems(folder: Path, seconds: float) -> None:
    """Four mono stems of `seconds`: noise bursts, a bass line, a chord pad, a vibrato voice."""
    if all((folder / f"{k}.wav").exists() for k in KINDS):
        return
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    t = np.arange(round(seconds * RATE)) / RATE
    beat = (t * 2.0) % 1.0  # 120 BPM
    sounds = {
        "drums": 0.5 * rng.standard_normal(t.size) * np.exp(-30.0 * beat),
        "bass": 0.4 * np.sin(2 * np.pi * np.where(t % 4 < 2, 55.0, 73.4) * t),
        "pad": sum(0.12 * np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6)),
        "vox": 0.3 * np.sin(2 * np.pi * 440.0 * t + 3.0 * np.sin(2 * np.pi * 5.0 * t)),
    }
    for kind, x in sounds.items():
        sf.write(str(folder / f"{kind}.wav"), np.clip(x, -0.99, 0.99), RATE, subtype="PCM_24")


def mixes(folder: Path, count: int, seconds: float) -> list[Path]:
    """`count` mixes of the four stems: each its own faders, pans, a fader ride and an aux."""
    paths = []
    for n in range(count):
        tracks = [
            {
                "name": kind,
                "source": f"stems/{kind}.wav",
                "pan": round(((n * 3 + i * 5) % 11 - 5) / 10, 1),
                "sends": [{"to": "aux", "level_db": -12.0}],
                "automation": {
                    "gain_db": [
                        [round(seconds * k / 7, 3), -6.0 - ((n + i + k) % 5)] for k in range(8)
                    ]
                },
            }
            for i, kind in enumerate(KINDS)
        ]
        mix = {
            "format": "mixrender/1",
            "session": {"sample_rate": RATE, "end": "auto", "tail_s": 0.5},
            "render": {"bit_depth": 24, "seed": n},
            "track": tracks,
            "bus": [{"name": "aux", "insert": [{"type": "width", "width": 1.4}]}],
            "master": {"gain_db": -3.0 - n % 3},
        }
        path = folder / f"mix_{n:02d}.toml"
        path.write_text(to_toml(mix))
        paths.append(path)
    return paths


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the workers, once joined)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def run(paths: list[Path], out: Path, workers: int) -> tuple[float, float]:
    """Wall and CPU seconds of one batch of every mix on `workers` local processes."""
    import mixrender

    shutil.rmtree(out, ignore_errors=True)
    cpu, start = cpu_seconds(), time.perf_counter()
    results = mixrender.batch(paths, out, workers=workers, cache=False)
    wall = time.perf_counter() - start
    failed = [r for r in results if not r.ok]
    if failed:
        sys.exit(f"a job failed: {failed[0].mix}: {failed[0].error}")
    return wall, cpu_seconds() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mixes", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=8.0, help="Length of each stem.")
    parser.add_argument("--runs", type=int, default=5, help="Interleaved runs per worker count.")
    parser.add_argument("--scratch", type=Path, default=HERE / "scratch")
    args = parser.parse_args()

    folder = args.scratch / f"batch_{args.mixes}x{args.seconds:g}"
    stems(folder / "stems", args.seconds)
    paths = mixes(folder, args.mixes, args.seconds)
    counts = (1, 2)
    times: dict[int, list[tuple[float, float]]] = {w: [] for w in counts}
    run(paths, folder / "warm-up", 1)  # page cache, bytecode
    for _ in range(args.runs):
        for w in counts:
            times[w].append(run(paths, folder / f"out_{w}", w))

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"{args.mixes} mixes of {args.seconds:g} s + 0.5 s tail, 4 tracks, an aux; "
        f"median of {args.runs} interleaved runs; {os.cpu_count()} cores; load {load}"
    )
    print("| workers | wall s | CPU s | jobs per minute |")
    print("| --- | --- | --- | --- |")
    rate = {}
    for w in counts:
        wall = statistics.median(t for t, _ in times[w])
        cpu = statistics.median(c for _, c in times[w])
        rate[w] = 60.0 * args.mixes / wall
        print(f"| {w} | {wall:.2f} | {cpu:.2f} | {rate[w]:.0f} |")
    print(f"speed-up, 2 workers over 1: {rate[2] / rate[1]:.2f}x")


if __name__ == "__main__":
    main()
