#!/usr/bin/env python3
"""Count the primes below LIMIT in chunks: an example of the `app` checkpoint contract.

usage: primes.py LIMIT   (env: CHUNK numbers per chunk, PAUSE_S extra seconds per chunk)

After every chunk the state (next number, primes so far) is written to
$CBAS_CHECKPOINT_DIR/state.json through a temp file and a rename, so a snapshot of that
directory is always a consistent state. On start it resumes from that file if present.
SIGTERM finishes the current chunk, saves and exits 143. Each chunk is logged to stdout
("chunk LO HI FOUND SECONDS"), so work done twice across interruptions is visible.
The result does not depend on how often the job was interrupted.
"""

from __future__ import annotations

import json
import math
import os
import signal
import sys
import time

STATE = "state.json"


def base_primes(limit: int) -> list[int]:
    sieve = bytearray([1]) * (limit + 1)
    sieve[: min(2, limit + 1)] = bytes(min(2, limit + 1))
    for p in range(2, math.isqrt(limit) + 1):
        if sieve[p]:
            sieve[p * p :: p] = bytes(len(range(p * p, limit + 1, p)))
    return [p for p in range(limit + 1) if sieve[p]]


def count_primes(lo: int, hi: int, base: list[int]) -> int:
    """Primes in [lo, hi), by a sieve of that segment with the primes up to sqrt(hi)."""
    segment = bytearray([1]) * (hi - lo)
    for n in range(lo, min(hi, 2)):
        segment[n - lo] = 0
    for p in base:
        if p * p >= hi:
            break
        start = max(p * p, -(-lo // p) * p)
        segment[start - lo :: p] = bytes(len(range(start, hi, p)))
    return sum(segment)


def load(state_dir: str | None, fresh: dict[str, int]) -> dict[str, int]:
    if not state_dir:
        return fresh
    try:
        with open(os.path.join(state_dir, STATE)) as handle:
            saved: dict[str, int] = json.load(handle)
    except FileNotFoundError:
        return fresh
    if (saved["limit"], saved["chunk"]) != (fresh["limit"], fresh["chunk"]):
        sys.exit(f"saved state is for another run: {saved}")
    return saved


def save(state_dir: str | None, state: dict[str, int]) -> None:
    if not state_dir:
        return
    temp = os.path.join(state_dir, STATE + ".tmp")
    with open(temp, "w") as handle:
        json.dump(state, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, os.path.join(state_dir, STATE))


def write_result(limit: int, count: int) -> None:
    with open("result.txt.tmp", "w") as handle:
        handle.write(f"primes below {limit}: {count}\n")
    os.replace("result.txt.tmp", "result.txt")


def main(argv: list[str]) -> int:
    limit = int(argv[1]) if len(argv) > 1 else 3_000_000
    chunk = int(os.environ.get("CHUNK", "100000"))
    pause_s = float(os.environ.get("PAUSE_S", "0"))
    state_dir = os.environ.get("CBAS_CHECKPOINT_DIR")
    state = load(state_dir, {"limit": limit, "chunk": chunk, "next": 0, "count": 0})
    stopping = []
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.append(signum))
    if state["next"]:
        print(f"resumed at {state['next']} with {state['count']} primes", flush=True)
    base = base_primes(math.isqrt(limit) + 1)
    while state["next"] < limit:
        if stopping:
            print(f"stopping on SIGTERM at {state['next']}", flush=True)
            return 143
        started = time.monotonic()
        lo, hi = state["next"], min(state["next"] + chunk, limit)
        found = count_primes(lo, hi, base)
        time.sleep(pause_s)
        state = {**state, "next": hi, "count": state["count"] + found}
        save(state_dir, state)
        print(f"chunk {lo} {hi} {found} {time.monotonic() - started:.3f}", flush=True)
    write_result(limit, state["count"])
    print(f"done: {state['count']} primes below {limit}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
