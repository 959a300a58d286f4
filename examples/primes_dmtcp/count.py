#!/usr/bin/env python3
"""Count the primes below LIMIT, keeping everything in memory: DMTCP saves and restores it.

usage: count.py LIMIT   (env: CHUNK numbers per chunk, PAUSE_S extra seconds per chunk)

Unlike ../primes_app/primes.py this program knows nothing about checkpoints; run under the
`dmtcp` method, a restarted process simply carries on from the chunk it was in.
"""

from __future__ import annotations

import math
import os
import sys
import time


def count_primes(lo: int, hi: int, base: list[int]) -> int:
    segment = bytearray([1]) * (hi - lo)
    for n in range(lo, min(hi, 2)):
        segment[n - lo] = 0
    for p in base:
        if p * p >= hi:
            break
        start = max(p * p, -(-lo // p) * p)
        segment[start - lo :: p] = bytes(len(range(start, hi, p)))
    return sum(segment)


def main(argv: list[str]) -> int:
    limit = int(argv[1]) if len(argv) > 1 else 3_000_000
    chunk = int(os.environ.get("CHUNK", "100000"))
    pause_s = float(os.environ.get("PAUSE_S", "0"))
    root = math.isqrt(limit) + 1
    base = [p for p in range(2, root + 1) if all(p % d for d in range(2, math.isqrt(p) + 1))]
    count = 0
    for lo in range(0, limit, chunk):
        hi = min(lo + chunk, limit)
        found = count_primes(lo, hi, base)
        time.sleep(pause_s)
        count += found
        print(f"chunk {lo} {hi} {found} pid {os.getpid()}", flush=True)
    with open("result.txt", "w") as handle:
        handle.write(f"primes below {limit}: {count}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
