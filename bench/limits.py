"""The largest mixes the limits allow (docs/limits.md): time and peak memory of `check` and
`render`, each in its own child process, its peak read with `wait4` (ru_maxrss).

    python bench/limits.py [--scratch bench/scratch/limits] [--cases tracks,buses,lane]

Cases (each with 0.1 s sources, so that the mix, not the audio, is what is measured):

- tracks: 2048 tracks of one short mono source each;
- buses: one track into a chain of 2047 buses (2048 strips), each bus feeding the next;
- lane: one track with a gain lane of 10^6 points (the lane's limit), one per line;
- points (only when named): 10 such lanes, written tersely, in a mix file of 60 MB, close to
  the 64 MiB a mix file may have: the most lane points a mix can hold.

Not part of the test run. The mixes are written once into the scratch folder.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

HERE = Path(__file__).resolve().parent
RATE = 48000
STRIPS = 2048
POINTS = 1_000_000
HEAD = f'format = "mixrender/1"\n[session]\nsample_rate = {RATE}\ntail_s = 0.5\n'


def sources(folder: Path, count: int) -> None:
    rng = np.random.default_rng(3)
    for i in range(count):
        path = folder / f"s{i}.wav"
        if not path.exists():
            sf.write(str(path), 0.1 * rng.standard_normal(RATE // 10), RATE, subtype="PCM_16")


def tracks_mix() -> str:
    return HEAD + "".join(
        f'[[track]]\nname = "t{i}"\nsource = "s{i}.wav"\ngain_db = -30.0\n' for i in range(STRIPS)
    )


def buses_mix() -> str:
    text = HEAD + '[[track]]\nname = "t"\nsource = "s0.wav"\noutput = "b0"\n'
    for i in range(STRIPS - 1):
        out = f"b{i + 1}" if i + 2 < STRIPS else "master"
        text += f'[[bus]]\nname = "b{i}"\noutput = "{out}"\n'
    return text


def lane_mix() -> str:
    # 10^6 points over the 0.6 s render: a point every 0.6 us, most between two samples.
    body = ",\n".join(f"[{i * 6e-7!r}, {-(i % 24)}]" for i in range(POINTS))
    track = '[[track]]\nname = "t"\nsource = "s0.wav"\n[track.automation]\n'
    return HEAD + track + f"gain_db = [\n{body}]\n"


def points_mix() -> str:
    # The most points the 64 MiB cap on a mix file lets through: lanes of 10^6 points
    # written as tersely as TOML allows ("[0,0]," is 6 bytes), one per track, 10 tracks.
    lane = ",".join(["[0,0]"] * POINTS)
    track = '[[track]]\nname = "t{}"\nsource = "s0.wav"\n[track.automation]\ngain_db = [{}]\n'
    return HEAD + "".join(track.format(i, lane) for i in range(10))


CASES = {
    "tracks": (tracks_mix, STRIPS),
    "buses": (buses_mix, 1),
    "lane": (lane_mix, 1),
    "points": (points_mix, 1),
}


def child(args: list[str]) -> tuple[int, float, float, int]:
    """Runs `python -m mixrender ARGS`: exit code, wall seconds, CPU seconds, peak MiB."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mixrender", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    assert proc.stderr is not None
    err = proc.stderr.read().decode()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        print(err, file=sys.stderr)
    return proc.returncode, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss // 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scratch", type=Path, default=HERE / "scratch" / "limits")
    parser.add_argument("--cases", default="tracks,buses,lane")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    opts = parser.parse_args()
    opts.scratch.mkdir(parents=True, exist_ok=True)
    print(f"{'case':8} {'command':7} {'exit':>4} {'wall s':>8} {'cpu s':>8} {'peak MiB':>9}")
    for name in opts.cases.split(","):
        make, count = CASES[name]
        sources(opts.scratch, count)
        mix = opts.scratch / f"{name}.toml"
        if not mix.exists():
            mix.write_text(make())
        out = opts.scratch / f"{name}.wav"
        for command, args in (
            ("check", ["check", str(mix)]),
            ("render", ["render", str(mix), "-o", str(out), "--threads", str(opts.threads)]),
        ):
            code, wall, cpu, peak = child(args)
            print(f"{name:8} {command:7} {code:>4} {wall:8.2f} {cpu:8.2f} {peak:9d}", flush=True)
    print(f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
