#!/usr/bin/env python3
"""`scan` at two git revisions, end to end, in the same run.

    python3 benches/scripts/compare_revs.py OLD NEW [--events FILE] [--rounds 5]

Builds `cargo build --release --example scan` of each revision in its own
worktree under `target/compare/`, then runs the two binaries in alternation
(OLD, NEW, OLD, NEW, ...) over the same event file with three rule sets: rule 0
of the generated pack (the seed rule's query), the 300-rule generated pack, and
the 1 081 Elastic corpus rules. A revision whose `scan` has `--threads` runs
with `--threads 1`, so both sides use one core. Prints, per rule set, the median
events/s of each side, the median of the per-round ratios NEW/OLD with its
range, and whether both sides wrote the same number of alerts.

Inputs (nothing is committed): the events default to
`target/bench-events-100000.jsonl`, generated with the shared folder's
`bench/gen_events.py --seed 42 -n 100000`; the rules come from
`bench/gen_rules.py --seed 7 -n 300` and `corpus/detection-rules-eql.jsonl`
(`EQL_SHARED`, default `../shared` beside the workspace).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TARGET = ROOT / "target"


def shared() -> Path:
    return Path(os.environ.get("EQL_SHARED", ROOT.parent / "shared")).resolve()


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def build(rev: str) -> Path:
    """The release `scan` binary of `rev` (a worktree per resolved commit)."""
    commit = run(["git", "-C", str(ROOT), "rev-parse", rev], capture_output=True, text=True).stdout.strip()
    tree = TARGET / "compare" / commit[:12]
    if not tree.exists():
        run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), commit])
    # The worktree's own target dir, so the two builds never share artifacts.
    run(["cargo", "build", "--release", "--example", "scan"], cwd=tree)
    return tree / "target" / "release" / "examples" / "scan"


def inputs(events_arg):
    sh = shared()
    events = Path(events_arg) if events_arg else TARGET / "bench-events-100000.jsonl"
    if not events.exists():
        with open(events, "w") as out:
            run([sys.executable, str(sh / "bench/gen_events.py"), "--seed", "42", "-n", "100000"], stdout=out)
    gen = TARGET / "compare" / "rules300.json"
    if not gen.exists():
        gen.parent.mkdir(parents=True, exist_ok=True)
        run([sys.executable, str(sh / "bench/gen_rules.py"), "--seed", "7", "-n", "300", "-o", str(gen)])
    rules = json.loads(gen.read_text())
    sets = {}
    for name, chosen in (("rule 0", rules[:1]), ("300 rules", rules)):
        path = TARGET / "compare" / f"{name.replace(' ', '')}.jsonl"
        path.write_text("".join(json.dumps({"name": r["id"], "query": r["eql"]}) + "\n" for r in chosen))
        sets[name] = path
    sets["1 081 corpus rules"] = sh / "corpus/detection-rules-eql.jsonl"
    return events, sets


def one_run(binary: Path, rules: Path, events: Path):
    """(seconds, alerts) of one scan; alerts are stdout lines."""
    help_text = run([str(binary), "--help"], capture_output=True, text=True).stdout
    cmd = [str(binary), "--rules", str(rules)]
    if "--threads" in help_text:
        cmd += ["--threads", "1"]
    cmd.append(str(events))
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t0, p.stdout.count(b"\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--events")
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    old, new = build(a.old), build(a.new)
    events, sets = inputs(a.events)
    n = sum(1 for line in open(events, "rb") if line.strip())
    print(f"{n} events from {events}; OLD = {a.old}, NEW = {a.new}; {a.rounds} rounds, one thread")
    for name, rules in sets.items():
        olds, news, ratios, alerts = [], [], [], set()
        for _ in range(a.rounds):
            to, ao = one_run(old, rules, events)
            tn, an = one_run(new, rules, events)
            olds.append(n / to)
            news.append(n / tn)
            ratios.append(to / tn)
            alerts.add((ao, an))
        same = "same alert count" if all(x == y for x, y in alerts) else f"alert counts differ: {sorted(alerts)}"
        print(
            f"{name}: OLD {statistics.median(olds) / 1e3:.1f}k ev/s, NEW {statistics.median(news) / 1e3:.1f}k ev/s, "
            f"NEW/OLD {statistics.median(ratios):.2f}x (range {min(ratios):.2f}-{max(ratios):.2f}); {same}"
        )


if __name__ == "__main__":
    main()
