"""The fuzzing harness, long run: many generated mixes and mangled audio files.

    PYTHONPATH=python python3 bench/fuzz.py --mix-cases 100000 --audio-cases 20000 --save DIR

Measured on this 2-core machine while shared (load ~10), with the default --jobs 2: about 105
mix cases and 24 audio cases a second, so that run takes about half an hour.

Audio cases first: a mangled (or special) file as a source or impulse response, checked and
rendered in a forked child with a timeout and a memory limit, so that a crash or a hang is
counted as such. Then mix cases, in this process under an alarm: a share `--valid` of them
valid mixes (loaded and checked; a share `--render` of those rendered on 4096/256-frame blocks
and 1/2 threads and compared bit for bit), the rest broken mixes (mutations of valid ones:
loaded, checked, and rendered when short), each of which must succeed or give one one-line
`MixError`.

Prints cases per second and counts by outcome, and for each bad outcome (per kind of case and
exception type) a minimised example; with `--save DIR` each is written there as a folder with
the mix, the files it reads and a README.txt saying what happens.

The generators are those of the short run, `tests/fuzzgen.py`; every case is made from its
seed alone (`--seed` plus its number), so a case can be made again with `--only N`.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import fuzzgen as g


class Case:
    """One finding: what kind of case, its seed, outcome and what it needs to be re-run."""

    def __init__(self, kind: str, seed: int, outcome: str, detail: str, **data: Any) -> None:
        self.kind = kind
        self.seed = seed
        self.outcome = outcome
        self.detail = detail
        self.data = data

    def to_json(self) -> dict[str, Any]:
        data = {k: ({"hex": v.hex()} if isinstance(v, bytes) else v) for k, v in self.data.items()}
        return {
            "kind": self.kind,
            "seed": self.seed,
            "outcome": self.outcome,
            "detail": self.detail,
            "data": data,
        }

    @staticmethod
    def from_json(j: dict[str, Any]) -> Case:
        data = {
            k: (bytes.fromhex(v["hex"]) if isinstance(v, dict) and set(v) == {"hex"} else v)
            for k, v in j["data"].items()
        }
        return Case(j["kind"], j["seed"], j["outcome"], j["detail"], **data)

    @property
    def signature(self) -> tuple[str, str, str]:
        return (self.kind, self.outcome, shape(self.detail))


def shape(detail: str) -> str:
    """What identifies a failure: the exception type or signal, numbers left out."""
    return re.sub(r"\d+", "N", detail.split(":", 1)[0])[:80]


def audio_phase(
    cases: range, base: int, folder: Path, special_share: float, timeout: float
) -> tuple[Counter[str], dict[Any, Case], float]:
    counts: Counter[str] = Counter()
    first: dict[Any, Case] = {}
    start = time.perf_counter()
    slow: list[tuple[float, int, str, str]] = []
    causes: Counter[str] = Counter()
    for done, i in enumerate(cases, start=1):
        seed = base + i
        d = g.RandomDraw(seed)
        special = d.choice(g.SPECIAL_SOURCES) if d.chance(special_share) else None
        ext, original = g.audio_bytes(d)
        mangles: list[str] = []
        mangled = g.mangle(d, ext, original, mangles) if special is None else None
        as_ir = d.chance(0.25)
        name = f"damaged.{ext}"
        began = time.perf_counter()
        outcome, detail = g.run_audio(
            folder, name, mangled, special, as_ir=as_ir, timeout_s=timeout
        )
        slow.append((time.perf_counter() - began, seed, outcome, detail[:120]))
        slow.sort(reverse=True)
        del slow[5:]
        counts[outcome] += 1
        case = Case(
            "audio",
            seed,
            outcome,
            detail,
            name=name,
            data=mangled,
            special=special,
            as_ir=as_ir,
            mangles=mangles,
        )
        if outcome in g.BAD:
            first.setdefault(case.signature, case)
            damage = special or ", ".join(re.sub(r"rate \d+", "rate N", m) for m in mangles)
            causes[f"{outcome}: {ext} {damage}"] += 1
        progress("audio", done, len(cases), start, counts)
    for cause, count in causes.most_common():
        print(f"  audio failure: {count} x {cause}", file=sys.stderr)
    for took, seed, outcome, detail in slow:
        print(
            f"  slowest audio case: {took:.2f} s, seed {seed}: {outcome} {detail}",
            file=sys.stderr,
        )
    return counts, first, time.perf_counter() - start


def mix_phase(
    cases: range,
    base: int,
    folder: Path,
    valid_share: float,
    render_share: float,
    broken_render_share: float,
    timeout: float,
) -> tuple[Counter[str], dict[Any, Case], float]:
    counts: Counter[str] = Counter()
    first: dict[Any, Case] = {}
    kinds: Counter[str] = Counter()
    times: Counter[str] = Counter()
    start = time.perf_counter()
    for done, i in enumerate(cases, start=1):
        seed = base + i
        began = time.perf_counter()
        d = g.RandomDraw(seed)
        doc = g.valid_mix(d)
        case: Case
        if d.chance(valid_share):
            render = d.chance(render_share)
            outcome, detail = run_bounded(
                timeout, functools.partial(g.run_valid, folder, doc, render=render)
            )
            case = Case("valid mix", seed, outcome, detail, doc=doc, render=render)
        else:
            text = g.broken_mix(d, doc)
            render = d.chance(broken_render_share)
            outcome, detail = run_bounded(
                timeout, functools.partial(g.run_broken, folder, text, render=render)
            )
            case = Case("broken mix", seed, outcome, detail, text=text)
        counts[outcome] += 1
        kinds[case.kind] += 1
        times[case.kind] += time.perf_counter() - began
        if outcome in g.BAD:
            first.setdefault(case.signature, case)
        progress("mix", done, len(cases), start, counts)
    for kind in sorted(kinds):
        print(
            f"  {kind}: {kinds[kind]} cases, {kinds[kind] / times[kind]:.1f} cases/s",
            file=sys.stderr,
        )
    return counts, first, time.perf_counter() - start


def run_bounded(timeout: float, fn: Any) -> tuple[str, str]:
    try:
        result: tuple[str, str] = g.with_alarm(timeout, fn)
    except g.Timeout as e:
        return g.TIMEOUT, str(e)
    return result


_last = [0.0]


def progress(what: str, done: int, total: int, start: float, counts: Counter[str]) -> None:
    now = time.perf_counter()
    if done == total or now - _last[0] > 10.0:
        _last[0] = now
        rate = done / max(now - start, 1e-9)
        shown = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        print(f"  {what} {done}/{total} ({rate:.1f}/s): {shown}", file=sys.stderr, flush=True)


def minimise(case: Case, folder: Path, timeout: float, audio_timeout: float) -> Case:
    """The smallest case found that keeps the outcome and the exception type."""

    def same(outcome: str, detail: str) -> bool:
        return outcome == case.outcome and shape(detail) == shape(case.detail)

    if case.kind == "valid mix":
        # Only the two renders that differed, or the one that failed.
        found = re.match(r"block (\d+), (\d+) threads vs (\d+), (\d+)", case.detail)
        pair = (
            ((int(found[3]), int(found[4])), (int(found[1]), int(found[2]))) if found else g.RENDERS
        )

        def still(doc: Any) -> bool:
            return same(*run_bounded(timeout, lambda: g.run_valid(folder, doc, renders=pair)))

        doc = g.minimise_doc(case.data["doc"], still)
        outcome, detail = run_bounded(timeout, lambda: g.run_valid(folder, doc))
        return Case(case.kind, case.seed, outcome, detail, doc=doc, render=True)
    if case.kind == "broken mix":

        def still_text(text: str) -> bool:
            return same(*run_bounded(timeout, lambda: g.run_broken(folder, text)))

        text = g.minimise_text(case.data["text"], still_text)
        outcome, detail = run_bounded(timeout, lambda: g.run_broken(folder, text))
        return Case(case.kind, case.seed, outcome, detail, text=text)
    data = case.data["data"]
    if data is not None:  # shortest prefix of the file that keeps the outcome
        name, as_ir = case.data["name"], case.data["as_ir"]
        lo, hi = 0, len(data)
        while lo < hi:
            mid = (lo + hi) // 2
            cut = data[:mid]
            if same(*g.run_audio(folder, name, cut, None, as_ir=as_ir, timeout_s=audio_timeout)):
                hi = mid
            else:
                lo = mid + 1
        cut = data[:hi]
        if hi < len(data) and same(
            *g.run_audio(folder, name, cut, None, as_ir=as_ir, timeout_s=audio_timeout)
        ):
            data = cut
    outcome, detail = g.run_audio(
        folder,
        case.data["name"],
        data,
        case.data["special"],
        as_ir=case.data["as_ir"],
        timeout_s=audio_timeout,
    )
    if not same(outcome, detail):  # a timeout that came out otherwise on a busy machine
        return case
    return Case(case.kind, case.seed, outcome, detail, **{**case.data, "data": data})


def save(case: Case, number: int, folder: Path, out: Path) -> Path:
    """A folder with everything the case reads, the mix and a README.txt."""
    slug = f"{number:02d}-{case.kind}-{case.outcome}".replace(" ", "_")
    target = out / slug
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for name in (*g.SOURCES, g.IR):
        shutil.copy(folder / name, target / name)
    if case.kind == "valid mix":
        g.write_text(target / "mix.toml", g.to_toml(case.data["doc"]))
        how = "renders differ or fail; compare --block-size 256 and 4096, --threads 1 and 2"
    elif case.kind == "broken mix":
        g.write_text(target / "mix.toml", case.data["text"])
        how = "mixrender check mix.toml (and render)"
    else:
        g.write_text(target / "mix.toml", g.audio_mix(case.data["name"], as_ir=case.data["as_ir"]))
        if case.data["data"] is not None:
            (target / case.data["name"]).write_bytes(case.data["data"])
        how = (
            f"the source is {case.data['special'] or 'the file beside it'}; mixrender check/render"
        )
    (target / "README.txt").write_text(
        f"kind: {case.kind}\nseed: {case.seed}\noutcome: {case.outcome}\n"
        f"detail: {case.detail}\nreproduce: {how}\n",
        encoding="utf-8",
    )
    return target


def show(case: Case) -> str:
    if case.kind == "valid mix":
        body = g.to_toml(case.data["doc"])
    elif case.kind == "broken mix":
        body = case.data["text"]
    else:
        data = case.data["data"]
        what = case.data["special"] or (
            f"{', '.join(case.data.get('mangles', []))}; {len(data)} bytes: {data[:64].hex()}"
        )
        body = f"{case.data['name']} ({'impulse response' if case.data['as_ir'] else 'source'}): "
        body += what + "\n"
    if len(body) > 3000:
        body = body[:3000] + f"... ({len(body)} characters)\n"
    return body


#: The options that take a share of cases or seconds: (flag, default, help).
FRACTIONS_AND_SECONDS = [
    ("--valid", 0.4, "share of valid mix cases"),
    ("--render", 0.1, "share of valid mixes rendered (4 times)"),
    ("--broken-render", 0.2, "share of broken mixes rendered when they pass check and are short"),
    ("--timeout", 30.0, "seconds per mix case"),
    ("--audio-timeout", 5.0, "seconds per audio case (check, render)"),
    ("--special", 0.02, "share of audio cases that are no regular file (FIFO, folder, device...)"),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mix-cases", type=int, default=1000)
    parser.add_argument("--audio-cases", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0, help="the first case's seed")
    for flag, default, text in FRACTIONS_AND_SECONDS:
        parser.add_argument(flag, type=float, default=default, help=text)
    parser.add_argument("--save", type=Path, help="write a minimised reproducer per failure here")
    parser.add_argument("--no-minimise", action="store_true")
    parser.add_argument(
        "--spec-additions",
        action="store_true",
        help="valid mixes use the spec's additions this mixrender refuses today (trim_db...)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="processes sharing the cases (default: the cores)",
    )
    parser.add_argument("--shard", help=argparse.SUPPRESS)  # "i/N": one of --jobs, as JSON
    args = parser.parse_args()
    g.SPEC_ADDITIONS = args.spec_additions
    with tempfile.TemporaryDirectory(prefix="mixfuzz-") as tmp:
        folder = g.make_sources(Path(tmp))
        if args.shard:
            index, jobs = map(int, args.shard.split("/"))
            json.dump(run_shard(args, folder, index, jobs), sys.stdout)
            return 0
        start = time.perf_counter()
        results = [run_shard(args, folder, 0, 1)] if args.jobs <= 1 else run_jobs(args.jobs)
        wall = time.perf_counter() - start
        return summarise(args, folder, results, wall)


def shard_range(n: int, index: int, jobs: int) -> range:
    return range(n * index // jobs, n * (index + 1) // jobs)


def run_shard(args: argparse.Namespace, folder: Path, index: int, jobs: int) -> dict[str, Any]:
    """This process's share of the cases: counts, seconds and first failures, as JSON data."""
    out: dict[str, Any] = {"findings": []}
    if args.audio_cases:
        cases = shard_range(args.audio_cases, index, jobs)
        counts, first, took = audio_phase(
            cases, args.seed, folder, args.special, args.audio_timeout
        )
        out["audio"] = {"counts": dict(counts), "seconds": took}
        out["findings"] += [case.to_json() for case in first.values()]
    if args.mix_cases:
        cases = shard_range(args.mix_cases, index, jobs)
        counts, first, took = mix_phase(
            cases,
            args.seed,
            folder,
            args.valid,
            args.render,
            args.broken_render,
            args.timeout,
        )
        out["mix"] = {"counts": dict(counts), "seconds": took}
        out["findings"] += [case.to_json() for case in first.values()]
    return out


def run_jobs(jobs: int) -> list[dict[str, Any]]:
    """Runs the shards as child processes of this script and collects their JSON."""
    argv = sys.argv[1:]
    children = [
        subprocess.Popen(
            [sys.executable, __file__, *argv, "--shard", f"{i}/{jobs}"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(jobs)
    ]
    results = []
    for child in children:
        text, _ = child.communicate()
        if child.returncode != 0:
            raise SystemExit(f"a shard failed (exit {child.returncode})")
        results.append(json.loads(text))
    return results


def summarise(
    args: argparse.Namespace, folder: Path, results: list[dict[str, Any]], wall: float
) -> int:
    findings: dict[Any, Case] = {}
    for result in results:
        for data in result["findings"]:
            case = Case.from_json(data)
            if case.signature not in findings or case.seed < findings[case.signature].seed:
                findings[case.signature] = case
    print()
    for what, n in (("audio", args.audio_cases), ("mix", args.mix_cases)):
        if not n:
            continue
        counts: Counter[str] = Counter()
        took = 0.0
        for result in results:
            counts.update(result[what]["counts"])
            took = max(took, result[what]["seconds"])  # the shards run side by side
        print(f"{what} cases: {n} in {took:.1f} s, {n / took:.1f} cases/s ({len(results)} jobs)")
        for outcome in (g.OK, g.ONE_LINE, *g.BAD):
            print(f"  {outcome:28} {counts.get(outcome, 0)}")
    print(f"wall time {wall:.1f} s")
    if not findings:
        print("\nno failures")
        return 0
    print(f"\n{len(findings)} distinct failures (kind, outcome, exception type):")
    for number, (signature, case) in enumerate(sorted(findings.items()), start=1):
        if not args.no_minimise:
            case = minimise(case, folder, args.timeout, args.audio_timeout)
        print(f"\n[{number}] {' / '.join(signature)} (seed {case.seed})")
        print(f"    {case.outcome}: {case.detail[:500]}")
        print("    " + show(case).replace("\n", "\n    ").rstrip())
        if args.save:
            print(f"    saved in {save(case, number, folder, args.save)}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
