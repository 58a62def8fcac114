#!/usr/bin/env python3
"""Derives small seed inputs for a fuzz target from the shared corpora.

Usage: make_seeds.py TARGET [SHARED]   (SHARED defaults to ../../shared from fuzz/)

Writes at most a few hundred files to seeds/TARGET/, each named by the SHA-1 of
its bytes. Only individual inputs are written; the corpus files themselves are
never copied (their licences keep them outside the repository).

- roundtrip: every 6th detection-rule query and every 3rd Python fixture query,
  each prefixed with 0x00 (text mode); plus 48 AST-mode inputs (0x01 ES / 0x03
  Python prefix) whose generator bytes are the UTF-8 of a corpus query.
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


rules = list(queries(os.path.join(shared, "corpus", "detection-rules-eql.jsonl")))
py = list(queries(os.path.join(shared, "corpus", "eql-py", "queries.jsonl")))

inputs = []
if target == "roundtrip":
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
