#!/usr/bin/env python3
"""Join-key skew of an NDJSON event file: how evenly a key spreads over workers.

For each field (dotted path, default `host.id` and `process.entity_id`):
the events that carry it, its distinct values, the share of the events of
the most frequent value and of the ten most frequent, and, for 2, 4 and 8
workers, the events per worker when each value goes to one worker by a
hash of it (the largest worker's share against the even share 1/W; the
busiest worker sets the pace). The hash here is SHA-1 of the value's JSON,
a stand-in for `Routing::key_owner`'s FxHash: what matters is the value
counts, which no hash can split (one value is one worker's).

    key_skew.py EVENTS.jsonl [--field host.id] [--field process.entity_id]
"""

import argparse
import collections
import hashlib
import json
import sys


def get(event, path):
    """The value at a dotted path: nested keys, or a literal dotted key."""
    if path in event:
        return event[path]
    cur = event
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def owner(value, workers):
    digest = hashlib.sha1(json.dumps(value, sort_keys=True).encode()).digest()
    return int.from_bytes(digest[:8], "big") % workers


def report(name, counts, total):
    carried = sum(counts.values())
    top = counts.most_common(10)
    print(f"{name}: {carried} of {total} events carry it, {len(counts)} distinct values")
    if not counts:
        return
    print(f"  most frequent value: {top[0][1] / carried:.1%} of them; "
          f"ten most frequent: {sum(n for _, n in top) / carried:.1%}")
    for workers in (2, 4, 8):
        load = [0] * workers
        for value, n in counts.items():
            load[owner(json.loads(value), workers)] += n
        busiest = max(load) / carried
        print(f"  {workers} workers: " + " ".join(f"{n}" for n in load)
              + f"  (busiest {busiest:.1%}, even {1 / workers:.1%}, "
              f"busiest/even {busiest * workers:.2f})")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("events")
    ap.add_argument("--field", action="append")
    args = ap.parse_args()
    fields = args.field or ["host.id", "process.entity_id"]
    counts = {f: collections.Counter() for f in fields}
    total = 0
    with open(args.events, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            total += 1
            for field in fields:
                v = get(event, field)
                if v is not None:
                    counts[field][json.dumps(v, sort_keys=True)] += 1
    for field in fields:
        report(field, counts[field], total)
    return 0


if __name__ == "__main__":
    sys.exit(main())
