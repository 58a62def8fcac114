#!/usr/bin/env python3
"""Shuffles the lines of a file inside consecutive windows, reproducibly.

Lines 1..N are shuffled among themselves, then lines N+1..2N, and so on
(the last window may be shorter), with Python's `random.Random(seed)`:
the same input, window and seed give the same output. The result is
out of order only locally, like an export or a multi-host stream, and is
the input of the "sorted versus shuffled" checks of `scan` and of
`crates/eql-engine/tests/session_order.rs`.

    shuffle_windows.py [--window 50] [--seed 1] [INPUT|-] > OUTPUT
"""

import argparse
import random
import sys


def shuffle_windows(lines, window, seed):
    """Returns `lines` with each run of `window` lines shuffled in place."""
    if window < 1:
        raise ValueError("window must be at least 1")
    rng = random.Random(seed)
    out = []
    for start in range(0, len(lines), window):
        chunk = lines[start:start + window]
        rng.shuffle(chunk)
        out.extend(chunk)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("input", nargs="?", default="-", help="file to read; - for stdin")
    p.add_argument("--window", type=int, default=50, help="lines per window (default 50)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    args = p.parse_args()
    if args.window < 1:
        p.error("--window must be at least 1")
    if args.input == "-":
        lines = sys.stdin.readlines()
    else:
        with open(args.input, encoding="utf-8") as f:
            lines = f.readlines()
    # A last line without a newline would otherwise be glued to the next one.
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    sys.stdout.writelines(shuffle_windows(lines, args.window, args.seed))


if __name__ == "__main__":
    main()
