#!/usr/bin/env python3
"""`scan --state` over a file cut in two, against the whole file.

    python3 benches/scripts/state_split.py [--events FILE] [--rules FILE] [--cuts 5] [--seed 1]

Cuts the event file at `--cuts` seeded random lines. For each cut, scans the
first part with `--state S` (the stream stays open, its state is saved), then
the second part with `--state S --close`, and compares the alerts of the two
runs together with the alerts of one `scan` of the whole file: the same
multiset of (rule, event, the events of a sequence or sample) is expected; an
alert's `source` (file and line) is left out, since it differs by design.
Exits 1 on any difference and names the cut. Uses the release `scan`
(`cargo build --release --example scan` first).

Defaults: the 1 081 corpus rules (`$EQL_SHARED/corpus/detection-rules-eql.jsonl`)
over `target/bench-events-100000.jsonl` (generated with
`bench/gen_events.py --seed 42 -n 100000` when missing).
"""

import argparse
import collections
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCAN = ROOT / "target" / "release" / "examples" / "scan"


def shared() -> Path:
    return Path(os.environ.get("EQL_SHARED", ROOT.parent / "shared")).resolve()


def alerts(text: bytes) -> collections.Counter:
    out = collections.Counter()
    for line in text.splitlines():
        if not line.strip():
            continue
        a = json.loads(line)
        events = tuple(
            json.dumps(e["event"], sort_keys=True) if "event" in e else "missing" for e in a.get("events", [])
        )
        out[(a.get("rule_id") or a.get("name"), json.dumps(a["event"], sort_keys=True), events)] += 1
    return out


def scan(rules: Path, events: Path, *extra) -> bytes:
    cmd = [str(SCAN), "--rules", str(rules), *extra, str(events)]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)}: exit {p.returncode}\n{p.stderr.decode(errors='replace')}")
    return p.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events")
    ap.add_argument("--rules")
    ap.add_argument("--cuts", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rules = Path(a.rules) if a.rules else shared() / "corpus/detection-rules-eql.jsonl"
    events = Path(a.events) if a.events else ROOT / "target" / "bench-events-100000.jsonl"
    if not events.exists():
        with open(events, "w") as out:
            subprocess.run(
                [sys.executable, str(shared() / "bench/gen_events.py"), "--seed", "42", "-n", "100000"],
                stdout=out,
                check=True,
            )
    lines = events.read_bytes().splitlines(keepends=True)
    whole = alerts(scan(rules, events))
    rng = random.Random(a.seed)
    cuts = sorted(rng.randrange(1, len(lines)) for _ in range(a.cuts))
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for cut in cuts:
            p1, p2, state = Path(tmp, "part1.jsonl"), Path(tmp, "part2.jsonl"), Path(tmp, "state.json")
            p1.write_bytes(b"".join(lines[:cut]))
            p2.write_bytes(b"".join(lines[cut:]))
            state.unlink(missing_ok=True)
            first = scan(rules, p1, "--state", str(state))
            size = state.stat().st_size
            second = scan(rules, p2, "--state", str(state), "--close")
            got = alerts(first) + alerts(second)
            same = got == whole
            failed += not same
            print(
                f"cut at line {cut}: {sum(alerts(first).values())} + {sum(alerts(second).values())} alerts "
                f"= {sum(got.values())}, whole file {sum(whole.values())}; state {size / 1e6:.1f} MB; "
                + ("same alerts" if same else f"DIFFERENT: {len(got - whole)} extra, {len(whole - got)} missing")
            )
    print(f"{len(cuts) - failed} passed, {failed} failed, 0 skipped")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
