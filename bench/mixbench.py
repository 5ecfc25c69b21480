"""mixbench-v1 (../shared/bench/workload.md): mixrender beside the I/O floor, pedalboard,
SoX and ffmpeg, on the same stems, in one run, in one table.

    python bench/mixbench.py prepare --out DIR [--tracks 24 --seconds 60]
        writes the stems (../shared/bench/gen_stems.py) and DIR/mix.toml, the workload as a
        mix file: `mixrender render DIR/mix.toml -o OUT` renders the benchmark mix.

    bench/scratch/peers/.venv/bin/python bench/mixbench.py run [--runs 3] [--cases standard,long]
        runs the peers' harness (a copy of ../shared/bench in bench/scratch/peers, set up once
        with its setup.sh) with mixrender added as a peer, then prints wall time, CPU time,
        peak memory and x real time, each with its ratio to the floor and to pedalboard, and
        writes bench/results.md. mixrender runs under the Python that has it installed
        ($MIXRENDER_PYTHON, default `python3` on the PATH).

    python bench/mixbench.py engine --stems DIR [--runs 5]
        the engine's own work on 1 and 2 threads: the mix of DIR (from `prepare`) rendered
        with its sources already in memory and nothing written, so that reading, decoding
        and writing are left out; prints the medians and their ratio (`run` ends with it,
        on the standard case's stems).

Where the mix format differs from the workload, the mix file uses the nearest equivalent
(workload.md, "In mixrender's format"): sends post-fader with the send's pan set to the
track's pan; stereo tracks pan as balance; the reverb is mixrender's `reverb` insert
(decay_s 1.5, mix 1.0); the automation is a `gain_db` lane of fader plus offset, linear.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "bench"
PEERS = HERE / "scratch" / "peers"
KINDS = ["drums", "bass", "keys", "vox"]
SEED = 1234


def q(text: str) -> str:
    return json.dumps(text)


def mix_toml(workload: dict, manifest: dict, tracks: int | None = None) -> str:
    """The workload as a mix file, for the stems described by `manifest` (beside it)."""
    chain = workload["track_chain"]
    eq = chain["eq"]
    comp = chain["compressor"]
    seconds = manifest["seconds"]
    n = min(tracks or manifest["tracks"], manifest["tracks"])
    bands = ", ".join(
        [f'{{ type = "highpass", freq_hz = {eq[0]["freq_hz"]:.1f}, slope_db_oct = 12, q = {eq[0]["q"]} }}']
        + [
            f'{{ type = "bell", freq_hz = {b["freq_hz"]:.1f}, gain_db = {b["gain_db"]}, q = {b["q"]} }}'
            for b in eq[1:3]
        ]
        + [f'{{ type = "highshelf", freq_hz = {eq[3]["freq_hz"]:.1f}, gain_db = {eq[3]["gain_db"]}, q = {eq[3]["q"]} }}']
    )
    lines = [
        f"# {workload['name']}: {n} tracks x {seconds:g} s (see ../shared/bench/workload.md).",
        'format = "mixrender/1"',
        "[session]",
        f"sample_rate = {workload['sample_rate']}",
        'pan_law = "-3dB"',
        f"end = {float(seconds)}",
        "[render]",
        "bit_depth = 24",
        'dither = "none"',
        "",
    ]
    for i in range(n):
        t, stem = workload["tracks"][i], manifest["stems"][i]
        group = workload["groups"][t["group"]]["name"]
        ride = ", ".join(
            f"[{p * seconds:.4f}, {t['fader_db'] + a:.2f}]" for p, a in t["automation"]
        )
        lines += [
            "[[track]]",
            f"name = {q(f't{i:02d}')}",
            f"source = {q(stem['file'])}",
            f"clip_gain_db = {t['clip_gain_db']}",
            f"gain_db = {t['fader_db']}",
            f"pan = {t['pan']}",
            f"output = {q(group)}",
            f'sends = [{{ to = "reverb", level_db = {chain["send"]["level_db"]}, pan = {t["pan"]} }}]',
            "  [[track.insert]]",
            '  type = "eq"',
            f"  bands = [{bands}]",
            "  [[track.insert]]",
            '  type = "compressor"',
            f"  threshold_db = {comp['threshold_db']}",
            f"  ratio = {comp['ratio']}",
            f"  attack_ms = {comp['attack_ms']}",
            f"  release_ms = {comp['release_ms']}",
            f"  knee_db = {comp['knee_db']}",
            f"  makeup_db = {comp['makeup_db']}",
            "  [track.automation]",
            f"  gain_db = [{ride}]",
            "",
        ]
    for g in workload["groups"]:
        c = g["glue_compressor"]
        lines += [
            "[[bus]]",
            f"name = {q(g['name'])}",
            f"gain_db = {g['fader_db']}",
            "  [[bus.insert]]",
            '  type = "compressor"',
            f"  threshold_db = {c['threshold_db']}",
            f"  ratio = {c['ratio']}",
            f"  attack_ms = {c['attack_ms']}",
            f"  release_ms = {c['release_ms']}",
            "",
        ]
    lim = workload["master"]["limiter"]
    lines += [
        "[[bus]]",
        'name = "reverb"',
        f"gain_db = {workload['reverb']['return_db']}",
        "  [[bus.insert]]",
        '  type = "reverb"',
        "  decay_s = 1.5",
        "  mix = 1.0",
        "",
        "[master]",
        "  [[master.insert]]",
        '  type = "limiter"',
        f"  ceiling_db = {lim['ceiling_dbfs']}",
        f"  release_ms = {lim['release_ms']}",
        f"  lookahead_ms = {lim['lookahead_ms']}",
        "",
    ]
    return "\n".join(lines)


def prepare(out: Path, tracks: int, seconds: float) -> Path:
    """Stems (cached by their manifest) and `out/mix.toml`."""
    manifest_path = out / "manifest.json"
    fresh = True
    if manifest_path.exists():
        m = json.loads(manifest_path.read_text())
        fresh = (m["tracks"], m["seconds"], m["seed"]) != (tracks, seconds, SEED)
    if fresh:
        subprocess.run(
            [sys.executable, str(SHARED / "gen_stems.py"), "--tracks", str(tracks),
             "--seconds", str(seconds), "--out", str(out), "--seed", str(SEED)],
            check=True,
        )
    workload = json.loads((SHARED / "workload.json").read_text())
    mix = out / "mix.toml"
    mix.write_text(mix_toml(workload, json.loads(manifest_path.read_text())))
    return mix


def _ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or not b else f"{a / b:.2f}"


def table(results: dict) -> list[str]:
    out = []
    for case, c in results["cases"].items():
        out += [f"### {case}: {c['tracks']} tracks x {c['seconds']:.0f} s, median of {c['runs']}", ""]
        out.append(f"1-min load average before the case: {c['loadavg_before']}.")
        out += ["", "| peer | wall s | CPU s | peak MB | x real time | wall / floor | wall / pedalboard 1t "
                "| CPU / floor | CPU / pedalboard 1t | peak MB / pedalboard 1t |",
                "|---|---|---|---|---|---|---|---|---|---|"]
        med = {k: v["median"] for k, v in c["peers"].items() if "median" in v}
        floor, pb = med.get("numpy_floor", {}), med.get("pedalboard_1thread", {})
        for name, m in med.items():
            out.append(
                f"| {name} | {m['wall_s']:.2f} | {m['cpu_s']:.2f} | {m['peak_rss_tree_mb']:.0f} | "
                f"{m['x_realtime']:.1f} | {_ratio(m['wall_s'], floor.get('wall_s'))} | "
                f"{_ratio(m['wall_s'], pb.get('wall_s'))} | {_ratio(m['cpu_s'], floor.get('cpu_s'))} | "
                f"{_ratio(m['cpu_s'], pb.get('cpu_s'))} | "
                f"{_ratio(m['peak_rss_tree_mb'], pb.get('peak_rss_tree_mb'))} |"
            )
        out.append("")
    return out


def engine(stems: Path, runs: int) -> list[str]:
    """Median seconds of the engine's own work on 1 and 2 threads, in a child process under
    the Python that has mixrender (the one `run` measures)."""
    child = r"""
import json, resource, statistics, sys, time
import soundfile as sf
import mixrender
stems, runs = sys.argv[1], int(sys.argv[2])
manifest = json.load(open(f"{stems}/manifest.json"))
sources = {s["file"]: (sf.read(f"{stems}/{s['file']}", dtype="float32", always_2d=True)[0], 48000)
           for s in manifest["stems"]}
mix = mixrender.load(f"{stems}/mix.toml", sources=sources)
walls, cpus = {1: [], 2: []}, {1: [], 2: []}
# 1 and 2 threads alternate, so that a busy spell of the machine weighs on both alike.
for _ in range(runs):
    for threads in (1, 2):
        c0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        mix.render(threads=threads)
        c1 = resource.getrusage(resource.RUSAGE_SELF)
        walls[threads].append(time.perf_counter() - t0)
        cpus[threads].append(c1.ru_utime - c0.ru_utime + c1.ru_stime - c0.ru_stime)
print(json.dumps({t: (statistics.median(walls[t]), statistics.median(cpus[t]), min(walls[t]))
                  for t in (1, 2)}))
"""
    mixrender_py = os.environ.get("MIXRENDER_PYTHON") or shutil.which("python3") or "python3"
    prepare(stems, *_shape(stems))
    res = json.loads(
        subprocess.run([mixrender_py, "-c", child, str(stems), str(runs)], check=True,
                       capture_output=True, text=True).stdout
    )
    (w1, c1, m1), (w2, c2, m2) = res["1"], res["2"]
    load = Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"
    return [
        f"### engine's own work: {stems.name}, sources in memory, nothing written, median of {runs}",
        "",
        f"1 and 2 threads alternate. 1-min load average after: {load}.",
        "",
        "| threads | wall s | CPU s | fastest wall s |",
        "|---|---|---|---|",
        f"| 1 | {w1:.2f} | {c1:.2f} | {m1:.2f} |",
        f"| 2 | {w2:.2f} | {c2:.2f} | {m2:.2f} |",
        "",
        f"2 threads are {w1 / w2:.2f}x faster than 1 on the engine's own work (medians; "
        f"{m1 / m2:.2f}x between the fastest runs).",
        "",
    ]


def _shape(stems: Path) -> tuple[int, float]:
    m = json.loads((stems / "manifest.json").read_text())
    return int(m["tracks"]), float(m["seconds"])


def run(args: argparse.Namespace) -> None:
    if not (PEERS / "run_bench.py").exists():
        shutil.copytree(SHARED, PEERS, dirs_exist_ok=True)
    sys.path.insert(0, str(PEERS))
    import run_bench  # the peers' own harness: the same measurement for every peer

    mixrender_py = os.environ.get("MIXRENDER_PYTHON") or shutil.which("python3") or "python3"
    # Byte-compiled as `pip install .` leaves it (and as the peers' packages are): a
    # development install under PYTHONDONTWRITEBYTECODE would compile it at every start.
    subprocess.run([mixrender_py, "-c", "import compileall, mixrender, os; "
                    "compileall.compile_dir(os.path.dirname(mixrender.__file__), quiet=1)"],
                   check=True)
    workload = json.loads((SHARED / "workload.json").read_text())
    base = run_bench.peers

    def mixrender(threads: int):
        def argv(stems: str, out: str) -> list[str]:
            manifest = json.loads((Path(stems) / "manifest.json").read_text())
            mix = Path(stems) / "mix.toml"
            mix.write_text(mix_toml(workload, manifest))
            return [mixrender_py, "-m", "mixrender", "render", str(mix), "-o", out,
                    "--threads", str(threads)]
        return argv

    def peers() -> dict:
        found = base()
        found = {k: v for k, v in found.items() if k in args.peers.split(",")}
        found["mixrender_1thread"] = (mixrender(1), None)
        found["mixrender_2threads"] = (mixrender(2), None)
        return found

    run_bench.peers = peers
    sys.argv = ["run_bench.py", "--runs", str(args.runs), "--long-runs", str(args.long_runs),
                "--cases", args.cases]
    run_bench.main()
    results = json.loads((PEERS / "results.json").read_text())
    lines = [f"Generated {results['date']} by `python bench/mixbench.py run` on "
             f"{results['versions']['cpu']}.", ""] + table(results)
    if "standard" in results["cases"]:
        lines += engine(Path(results["cases"]["standard"]["stems"]), max(5, args.runs))
    write_results("\n".join(lines))
    print("\n".join(lines))


#: bench/results.md keeps its hand-written text; `run` rewrites what lies between these lines.
BEGIN = "<!-- BEGIN GENERATED mixbench: python bench/mixbench.py run rewrites this section -->"
END = "<!-- END GENERATED mixbench -->"


def write_results(section: str) -> None:
    """Puts `section` between the markers of bench/results.md (appended, with its markers,
    when the page has none)."""
    page = HERE / "results.md"
    text = page.read_text() if page.exists() else "# Benchmarks and their results\n"
    block = f"{BEGIN}\n\n{section.strip()}\n\n{END}"
    start, end = text.find(BEGIN), text.find(END)
    if start >= 0 and end > start:
        text = text[:start] + block + text[end + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n## mixbench-v1: mixrender beside its peers\n\n" + block + "\n"
    page.write_text(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare", help="stems and mix.toml")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--tracks", type=int, default=24)
    p.add_argument("--seconds", type=float, default=60.0)
    r = sub.add_parser("run", help="the benchmark with its peers")
    r.add_argument("--runs", type=int, default=3)
    r.add_argument("--long-runs", type=int, default=1)
    r.add_argument("--cases", default="standard,long")
    r.add_argument("--peers", default="numpy_floor,pedalboard_1thread,pedalboard_2threads,sox,ffmpeg")
    e = sub.add_parser("engine", help="the engine's own work on 1 and 2 threads")
    e.add_argument("--stems", type=Path, required=True)
    e.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    if args.command == "prepare":
        print(f"wrote {prepare(args.out, args.tracks, args.seconds)}")
    elif args.command == "engine":
        print("\n".join(engine(args.stems, args.runs)))
    else:
        run(args)


if __name__ == "__main__":
    main()
