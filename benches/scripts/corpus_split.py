#!/usr/bin/env python3
"""Where the corpus scan's time goes, by query form: the whole corpus against
its single-event rules alone and its sequence and sample rules alone.

    python3 benches/scripts/corpus_split.py [--events FILE] [--rounds 7] [--scan BIN]

Splits the shared folder's `corpus/detection-rules-eql.jsonl` (`EQL_SHARED`,
default `../shared` beside the workspace) by the first word of each query into
`target/corpus-split/single.jsonl` and `target/corpus-split/stateful.jsonl`
(nothing is committed), then runs `scan --threads 1` over the same event file
with the whole corpus, the single-event rules and the stateful rules in
alternation, round after round. Prints, per rule set, the number of rules, the
median (and range) of the scan's own time as `scan` reports it on stderr (the
rules' compilation excluded) and the median share of the whole corpus's time
in the same round. The parts add up to more than the whole: both read and
check every line, and both run the read-ahead of the timestamps when they have
stateful rules.

The events default to `target/bench-events-100000.jsonl` (generated with
`bench/gen_events.py --seed 42 -n 100000` when missing); the binary defaults to
`target/release/examples/scan`, built first with `cargo build --release
--example scan`.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TARGET = ROOT / "target"
STATEFUL = ("sequence", "sample", "join")


def shared() -> Path:
    return Path(os.environ.get("EQL_SHARED", ROOT.parent / "shared")).resolve()


def split(corpus: Path) -> dict:
    """The rule files: name -> (path, number of rules)."""
    out = TARGET / "corpus-split"
    out.mkdir(parents=True, exist_ok=True)
    single, stateful = [], []
    for line in corpus.read_text().splitlines():
        if not line.strip():
            continue
        words = json.loads(line).get("query", "").split()
        (stateful if words and words[0] in STATEFUL else single).append(line + "\n")
    sets = {"whole corpus": (corpus, len(single) + len(stateful))}
    for name, lines in (("single-event rules", single), ("stateful rules", stateful)):
        path = out / ("single.jsonl" if lines is single else "stateful.jsonl")
        path.write_text("".join(lines))
        sets[name] = (path, len(lines))
    return sets


def scan_seconds(binary: Path, rules: Path, events: Path) -> float:
    """The scan's own time, from its summary line on stderr."""
    r = subprocess.run(
        [str(binary), "--rules", str(rules), "--threads", "1", str(events)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=True,
    )
    m = re.search(r"scanned \d+ events \(\d+ bytes\) in ([0-9.]+) s", r.stderr)
    if not m:
        sys.exit(f"no summary line from {binary}: {r.stderr[-500:]}")
    return float(m.group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=Path, default=TARGET / "bench-events-100000.jsonl")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--scan", type=Path, default=None)
    args = ap.parse_args()
    sh = shared()
    corpus = sh / "corpus/detection-rules-eql.jsonl"
    if not corpus.exists():
        sys.exit(f"{corpus}: not found; set EQL_SHARED to the shared folder")
    if not args.events.exists():
        with open(args.events, "w") as out:
            subprocess.run(
                [sys.executable, str(sh / "bench/gen_events.py"), "--seed", "42", "-n", "100000"],
                stdout=out,
                check=True,
            )
    binary = args.scan
    if binary is None:
        subprocess.run(["cargo", "build", "--release", "--example", "scan"], cwd=ROOT, check=True)
        binary = TARGET / "release" / "examples" / "scan"
    sets = split(corpus)
    times = {name: [] for name in sets}
    shares = {name: [] for name in sets}
    for _ in range(args.rounds):
        round_times = {name: scan_seconds(binary, path, args.events) for name, (path, _) in sets.items()}
        whole = round_times["whole corpus"]
        for name, t in round_times.items():
            times[name].append(t)
            shares[name].append(t / whole if whole > 0 else 0.0)
    print(f"events: {args.events}; {args.rounds} rounds of `scan --threads 1`, the scan's own time")
    for name, (_, n) in sets.items():
        t = times[name]
        print(
            f"{name:>18} ({n:4} rules): median {statistics.median(t):.3f} s "
            f"(min {min(t):.3f}, max {max(t):.3f}); "
            f"{statistics.median(shares[name]):.2f} of the whole corpus's time"
        )


if __name__ == "__main__":
    main()
