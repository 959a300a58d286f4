"""DMTCP jobs through the real `cbas worker` on the local cloud, each interrupted twice:
the primes example, a process tree joined by a pipe, and a file open for appending.

Every attempt boots a new instance (a new worker process and instance directory, the job's
directory emptied), so each resume comes from the checkpoint taken at the notice."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from cbas_async.states import JobState
from tests.dmtcp_tools import HAVE_DMTCP, NO_DMTCP
from tests.integration.conftest import E2E, EXAMPLES, cbas

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(240),
    pytest.mark.skipif(not HAVE_DMTCP, reason=NO_DMTCP),
]

PRIMES_BELOW_2M = 148933
NUMBERS = 80  # the generator's lines: about 0.25 s apart
APPENDS = 80

GEN = """import sys, time
for n in range(1, int(sys.argv[1]) + 1):
    print(n, flush=True)
    time.sleep(0.25)
"""
SUM = """import sys
total = 0
for line in sys.stdin:
    total += int(line)
    print("sum", line.strip(), total, flush=True)
open("sum.txt", "w").write(f"{total}\\n")
"""
APPEND = """import os, sys, time
with open("trail.txt", "a") as trail:
    for n in range(int(sys.argv[1])):
        trail.write(f"{n} {os.getcwd()}\\n")
        trail.flush()
        print("appended", n, flush=True)
        time.sleep(0.25)
"""


def write_spec(tmp: Path, name: str, command: list[str], **extra: object) -> Path:
    spec = {
        "name": name,
        "command": command,
        "checkpoint": {"method": "dmtcp", "interval_s": 3600},  # only the notice's checkpoint
        "max_attempts": 4,
        **extra,
    }
    path = tmp / f"{name}.json"
    path.write_text(json.dumps(spec))
    return path


def primes_spec(tmp: Path) -> Path:
    spec = json.loads((EXAMPLES / "primes_dmtcp" / "spec.json").read_text())
    spec["command"] = ["python3", "count.py", "2000000"]
    spec["env"] = {"CHUNK": "25000", "PAUSE_S": "0.25"}  # 80 chunks, about 20 s
    spec["checkpoint"]["interval_s"] = 3600
    shutil.copy(EXAMPLES / "primes_dmtcp" / "count.py", tmp / "count.py")
    path = tmp / "primes-dmtcp.json"
    path.write_text(json.dumps(spec))
    return path


async def stdout_by_attempt(e2e: E2E, job_id: str) -> dict[int, list[str]]:
    lines: dict[int, list[str]] = {}
    for chunk in await e2e.session.sandbox.log_chunks(job_id):
        if chunk.stream == "stdout":
            text = (await e2e.session.sandbox.read(chunk.key)).decode()
            lines.setdefault(chunk.attempt, []).extend(text.splitlines())
    return lines


async def interrupt_twice(e2e: E2E, job_id: str, *, by_cli: bool) -> list[Path]:
    """Interrupt each of the first two attempts once it has printed; return the instance
    directories the three attempts ran in."""
    homes: list[Path] = []
    for attempt in (1, 2, 3):

        async def printing(attempt: int = attempt) -> bool:
            job = await e2e.session.store.get(job_id)
            if job.state is not JobState.RUNNING or job.attempt != attempt:
                return False
            if attempt == 3:  # the last attempt runs to the end
                return True
            return len((await stdout_by_attempt(e2e, job_id)).get(attempt, [])) >= 2

        await e2e.until(printing, timeout_s=90)
        local = e2e.cloud.hypervisor.find(job_id)
        assert local is not None
        assert local.attempt == attempt
        homes.append(local.log_path.parent)
        if attempt == 3:
            return homes
        if by_cli:
            code, out, err = await cbas(e2e, "interrupt", job_id)
            assert code == 0, err
            assert "notice sent" in out
        else:
            assert await e2e.cloud.interrupter.interrupt(job_id) == local.instance_id
    raise AssertionError("unreachable")


def numbers_after(lines: list[str], word: str, field: int) -> list[int]:
    return [int(line.split()[field]) for line in lines if line.startswith(word)]


def assert_resumed(by_attempt: dict[int, list[str]], word: str, field: int, step: int) -> None:
    """Each later attempt carries on exactly where the previous one stopped: the job is
    stopped at the notice's image, so nothing is skipped and nothing is done twice."""
    for attempt in (2, 3):
        before = numbers_after(by_attempt[attempt - 1], word, field)
        after = numbers_after(by_attempt[attempt], word, field)
        assert before, by_attempt
        assert after, by_attempt
        assert after[0] == before[-1] + step, f"attempt {attempt}: {before[-3:]}, {after[:3]}"


async def test_dmtcp_jobs_resume_twice_on_new_instances(e2e: E2E, tmp_path: Path) -> None:
    (tmp_path / "gen.py").write_text(GEN)
    (tmp_path / "sum.py").write_text(SUM)
    (tmp_path / "append.py").write_text(APPEND)
    await e2e.masters.start()
    primes = await e2e.submit(primes_spec(tmp_path))
    tree = await e2e.submit(
        write_spec(
            tmp_path,
            "tree",
            ["sh", "-c", f"python3 gen.py {NUMBERS} | python3 sum.py"],
            input_files=["gen.py", "sum.py"],
            output_files=["sum.txt"],
        )
    )
    trail = await e2e.submit(
        write_spec(
            tmp_path,
            "trail",
            ["python3", "append.py", str(APPENDS)],
            input_files=["append.py"],
            output_files=["trail.txt"],
        )
    )
    homes = await asyncio.gather(
        interrupt_twice(e2e, primes, by_cli=True),
        interrupt_twice(e2e, tree, by_cli=False),
        interrupt_twice(e2e, trail, by_cli=False),
    )
    done = await e2e.wait_all([primes, tree, trail], timeout_s=120)
    for job_id in (primes, tree, trail):
        assert done[job_id].state is JobState.SUCCEEDED, done[job_id]
        assert done[job_id].attempt == 3
    for dirs in homes:  # three instances, three instance directories
        assert len(set(dirs)) == 3, dirs

    result = await e2e.session.sandbox.read(e2e.session.sandbox.key(primes, "output", "result.txt"))
    assert result.decode() == f"primes below 2000000: {PRIMES_BELOW_2M}\n"
    assert_resumed(await stdout_by_attempt(e2e, primes), "chunk", 1, 25000)

    total = await e2e.session.sandbox.read(e2e.session.sandbox.key(tree, "output", "sum.txt"))
    assert total.decode() == f"{NUMBERS * (NUMBERS + 1) // 2}\n"
    assert_resumed(await stdout_by_attempt(e2e, tree), "sum", 1, 1)

    text = await e2e.session.sandbox.read(e2e.session.sandbox.key(trail, "output", "trail.txt"))
    work = {line.split(" ", 1)[1] for line in text.decode().splitlines()}
    assert len(work) == 1, work  # one absolute work path on every instance
    expected = "".join(f"{n} {next(iter(work))}\n" for n in range(APPENDS))
    assert text.decode() == expected  # exactly what an uninterrupted run writes
    assert_resumed(await stdout_by_attempt(e2e, trail), "appended", 1, 1)
