"""Many random mixes through mixrender and the independent reference (`tests/refmix.py`).

    PYTHONPATH=python python3 bench/differential.py --seeds 300 [--start 0]

Prints, per outcome, how many seeds and the worst error, and for each failing seed what it
contained. A failing seed is rendered again with what each engine fault of `refmix.FAULTS`
needs left out of the generator (the rest of the mix unchanged): first all of them, then
all but one at a time, to tell which faults explain it. The faults are those this comparison
has caught and the engine has fixed ("bus_polarity": a bus's `polarity = true` ignored;
"master_latency": stems early by the master's latency; "zero_delay", "pre_inserts_mute",
"vca_off_ramp"): a failing seed that one of them explains is a regression of that fix. A
seed that still fails with all of them left out is "unexplained": a new fault.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from test_differential import differential

import refmix

SHOWN = (
    *refmix.FAULTS,
    "bus_solo",
    "track_solo",
    "vca_member_off",
    "track_limiter",
    "bus_limiter",
    "insert_delay",
    "insert_eq",
    "lane_mute",
)


def run(seed: int, **flags: bool) -> refmix.Outcome:
    case = refmix.generate(seed, **flags)
    with tempfile.TemporaryDirectory() as d:
        return differential(case, Path(d))


def classify(seed: int, outcome: refmix.Outcome) -> tuple[str, str]:
    """The outcome's class and a detail line."""
    if any(p.startswith("invalid case") for p in outcome.problems):
        return "invalid case", "; ".join(outcome.problems)
    if outcome.passed:
        return "pass", ""
    off = dict.fromkeys(refmix.FAULTS, False)
    clean = run(seed, **off)
    if not clean.passed:
        return "unexplained", "; ".join(clean.problems)
    causes = []
    for fault in refmix.FAULTS:
        alone = run(seed, **{**off, fault: True})
        if not alone.passed:
            causes.append(f"{fault} (a regression)")
            if fault == "master_latency" and any(p.startswith("master") for p in alone.problems):
                causes.append("(master latency reaching the master output!)")
    if not causes:
        return "unexplained", "fails only with several faults together"
    return "fail: " + " + ".join(causes), "; ".join(outcome.problems)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--start", type=int, default=0)
    args = parser.parse_args()
    classes: dict[str, list[tuple[int, refmix.Outcome, str]]] = {}
    start = time.perf_counter()
    for seed in range(args.start, args.start + args.seeds):
        try:
            outcome = run(seed)
            label, detail = classify(seed, outcome)
        except Exception as e:  # an engine or reference error is an outcome too
            outcome = refmix.Outcome(seed, set(), math.inf, {}, [f"{type(e).__name__}: {e}"])
            label, detail = "error", outcome.problems[0]
        classes.setdefault(label, []).append((seed, outcome, detail))
    took = time.perf_counter() - start
    silent = sum(o.peak_db == -math.inf for rows in classes.values() for _, o, _ in rows)
    print(f"{args.seeds} seeds from {args.start} in {took:.0f} s (limit {refmix.LIMIT_DB} dB)")
    print(f"{silent} of them with a silent master (every sample 0 in the reference)")
    print(f"{'outcome':<64} {'seeds':>5} {'worst master dB':>16} {'worst stem dB':>14}")
    for label in sorted(classes):
        rows = classes[label]
        m = max(o.master_db for _, o, _ in rows)
        s = max((max(o.stem_db.values(), default=-math.inf) for _, o, _ in rows))
        print(f"{label:<64} {len(rows):>5} {m:>16.1f} {s:>14.1f}")
    for label in sorted(classes):
        if label == "pass":
            continue
        print(f"\n{label}:")
        for seed, o, detail in classes[label]:
            shown = [f for f in SHOWN if f in o.features]
            print(f"  seed {seed}: {', '.join(shown) or '-'} | {detail[:160]}")


if __name__ == "__main__":
    main()
