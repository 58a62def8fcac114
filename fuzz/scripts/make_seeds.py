#!/usr/bin/env python3
"""Derives small seed inputs for a fuzz target from the shared corpora.

Usage: make_seeds.py TARGET [SHARED]   (SHARED defaults to ../../shared from fuzz/)

Writes at most a few hundred files to seeds/TARGET/, each named by the SHA-1 of
its bytes. Only individual inputs are written; the corpus files themselves are
never copied (their licences keep them outside the repository).

- roundtrip: every 6th detection-rule query and every 3rd Python fixture query,
  each prefixed with 0x00 (text mode); plus 48 AST-mode inputs (0x01 ES / 0x03
  Python prefix) whose generator bytes are the UTF-8 of a corpus query.
- session: 24 pseudo-random inputs (fixed seeds, no corpus needed) in the
  layout of crates/eql-engine/tests/common/fuzz_session.rs: small limits, 4 queries each (together
  every fixed query), 48 events of mostly known categories, mostly forward
  time, some out of order, missing and unparsable timestamps; 4 of them add a
  query from the text.
"""
import hashlib
import json
import os
import sys

target = sys.argv[1]
shared = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared")
out = os.path.join(os.path.dirname(__file__), "..", "seeds", target)
os.makedirs(out, exist_ok=True)


def queries(path):
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line:
                yield json.loads(line)["query"]


def session_inputs():
    import random

    texts = [
        (0x10, b"sequence by host.id [process where true] [process where true]"),
        (0x50, b"sequence by pid [process where true] [file where true]"),
        (0x10, b"sample by user.name [any where true] [any where true]"),
        (0x50, b"join by pid [process where true] [file where true]"),
    ]
    out = []
    for i in range(24):
        r = random.Random(i)
        flags = r.randrange(256) & ~0x10
        text = b""
        if i % 6 == 5:
            f, t = texts[(i // 6) % len(texts)]
            flags |= f
            flags = flags & ~0x40 | (f & 0x40)
            text = bytes([len(t)]) + t
        limits = [1 + r.randrange(4), 1 + r.randrange(4), r.randrange(9), r.randrange(9), 1 + r.randrange(3)]
        qs = [(4 * i + k) % 30 for k in range(4)]
        data = bytes([flags] + limits + [3] + qs) + text
        for _ in range(48):
            cat = r.choice([0, 0, 1, 1, 2, 3, 4, 5, 6, 7])
            push = r.choice([0, 0, 0, 1, 2, 2, 3])
            sub = r.randrange(8)
            step = r.choice([0, 0, 0, 1, 2, 3, 4, 4, 5, 6, 7])
            scale = r.randrange(4)
            rep = r.choice([0, 0, 1, 2, 3])
            e0 = cat | push << 3 | sub << 5
            e1 = step | scale << 3 | rep << 5
            e2 = r.randrange(256)
            e3 = r.randrange(5) | r.randrange(5) << 4 if r.random() < 0.8 else r.randrange(256)
            e4 = r.randrange(256)
            e5 = r.randrange(256)
            data += bytes([e0, e1, e2, e3, e4, e5])
        out.append(data)
    return out


inputs = []
if target != "session":
    rules = list(queries(os.path.join(shared, "corpus", "detection-rules-eql.jsonl")))
    py = list(queries(os.path.join(shared, "corpus", "eql-py", "queries.jsonl")))
if target == "session":
    inputs = session_inputs()
elif target == "roundtrip":
    inputs += [b"\x00" + q.encode() for q in rules[::6]]
    inputs += [b"\x00" + q.encode() for q in py[::3]]
    for i, q in enumerate(rules[1::23][:24] + py[1::10][:24]):
        inputs.append((b"\x01" if i % 2 == 0 else b"\x03") + q.encode()[:512])
else:
    sys.exit(f"no seed recipe for target {target}")

for data in inputs:
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
print(f"{len(inputs)} seeds in {out}")
