"""Spine benchmark: a synthetic 16-track session of 1 and of 10 minutes.

Prints x real time and peak memory of `mixrender render` for each length, so that it is
visible that memory stays flat while the song grows. Not part of the test run.

    python bench/spine.py [--tracks 16] [--runs 3] [--scratch bench/scratch]

Stems come from ../shared/bench/gen_stems.py (deterministic, cached in the scratch folder).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from fuzzgen import to_toml  # the mix as data, written as TOML (shared with the fuzzing harness)

HERE = Path(__file__).resolve().parent
GEN = HERE.parent.parent / "shared" / "bench" / "gen_stems.py"
KINDS = ["drums", "bass", "pad", "vox"]


def stems(scratch: Path, tracks: int, seconds: int) -> Path:
    out = scratch / f"stems_{tracks}x{seconds}"
    if not (out / "manifest.json").exists():
        print(f"generating {tracks} stems of {seconds} s in {out} ...", flush=True)
        subprocess.run(
            [sys.executable, str(GEN), "--tracks", str(tracks), "--seconds", str(seconds),
             "--out", str(out)],
            check=True,
        )
    return out


def mix_file(stem_dir: Path, tracks: int, seconds: int) -> Path:
    """Faders, pans, a 20-point fader ride per track, four group buses and an aux."""
    strips = []
    for i in range(tracks):
        kind = KINDS[i % 4]
        ride = [
            [round(seconds * k / 19, 3), round(-6.0 + 2.0 * ((k * 7 + i) % 5 - 2) / 2, 2)]
            for k in range(20)
        ]
        strips.append({
            "name": f"t{i:02d}",
            "source": f"{stem_dir}/t{i:02d}_{kind}.wav",
            "clip_gain_db": round(((i * 3) % 9 - 4) / 2, 1),
            "pan": round(((i * 5) % 11 - 5) / 10, 1),
            "output": kind,
            "sends": [{"to": "aux", "level_db": -14.0}],
            "automation": {"gain_db": ride},
        })
    mix = {
        "format": "mixrender/1",
        "session": {"sample_rate": 48000, "end": "auto", "tail_s": 0.0},
        "render": {"bit_depth": 24},
        "track": strips,
        "bus": [*({"name": kind} for kind in KINDS),
                {"name": "aux", "insert": [{"type": "width", "width": 1.3}]}],
        "master": {"gain_db": -6.0},
    }
    path = stem_dir / "mix.toml"
    path.write_text(to_toml(mix))
    return path


def run(mix: Path, out: Path) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak RSS (MB) of one render in its own process."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mixrender", "render", str(mix), "-o", str(out)],
        stdout=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"render failed: {mix}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tracks", type=int, default=16)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--scratch", type=Path, default=HERE / "scratch")
    args = ap.parse_args()
    cases = [(args.tracks, 60), (args.tracks, 600)]
    mixes = {c: mix_file(stems(args.scratch, *c), *c) for c in cases}
    results: dict[tuple[int, int], list[tuple[float, float, float]]] = {c: [] for c in cases}
    for _ in range(args.runs):  # interleaved, so background load spreads evenly
        for c in cases:
            results[c].append(run(mixes[c], args.scratch / f"out_{c[0]}x{c[1]}.wav"))
    print(f"\nmixrender spine benchmark, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
    print(f"{'case':>12} {'wall s':>8} {'cpu s':>8} {'x real time':>12} {'peak MB':>8}")
    for (tracks, seconds), rs in results.items():
        wall = statistics.median(r[0] for r in rs)
        cpu = statistics.median(r[1] for r in rs)
        peak = max(r[2] for r in rs)
        print(f"{f'{tracks} x {seconds} s':>12} {wall:8.2f} {cpu:8.2f} {seconds / wall:12.1f} {peak:8.1f}")


if __name__ == "__main__":
    main()
