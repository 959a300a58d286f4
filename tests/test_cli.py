"""`cbas submit` with bad input: a clear error, a non-zero exit, and nothing stored."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from cbas_async import cli
from cbas_async.aws import Clients
from cbas_async.bootstrap import Resources, bootstrap
from cbas_async.settings import Settings

GOOD = {"name": "ok", "command": ["true"]}
BAD_SPECS: list[tuple[str, Any, str]] = [
    ("unknown-field", {**GOOD, "colour": "red"}, "colour"),
    ("absolute-input", {**GOOD, "input_files": ["/etc/passwd"]}, "input_files[0]"),
    ("dotdot-output", {**GOOD, "output_files": ["../x"]}, "output_files[0]"),
    ("empty-command", {**GOOD, "command": []}, "command"),
    ("command-string", {**GOOD, "command": "ls"}, "command"),
    ("no-name", {"command": ["true"]}, "name"),
    ("vcpus", {**GOOD, "resources": {"vcpus": 0}}, "resources.vcpus"),
    ("attempts", {**GOOD, "max_attempts": 0}, "max_attempts"),
    ("naive-deadline", {**GOOD, "deadline": "2026-12-01T12:00:00"}, "deadline"),
    ("method", {**GOOD, "checkpoint": {"method": "magic"}}, "checkpoint.method"),
    ("env-key", {**GOOD, "env": {"1X": "y"}}, "env"),
    ("reserved-env", {**GOOD, "env": {"CBAS_JOB_ID": "y"}}, "CBAS_JOB_ID"),
    ("price", {**GOOD, "max_price_usd_per_hour": -1}, "max_price_usd_per_hour"),
    ("type", {**GOOD, "resources": {"instance_types": ["big"]}}, "resources.instance_types"),
    ("missing-input", {**GOOD, "input_files": ["nope.py"]}, "nope.py"),
    ("not-an-object", [1, 2], "object"),
]
BAD_JDL = [
    ("unterminated", '[ Executable = "/bin/sh; ]', "line 1"),
    ("no-equals", '[ Executable "/bin/sh"; ]', "line 1"),
    ("unclosed-list", '[ Executable = "/bin/sh"; InputSandbox = {"a", "b"; ]', "line 1"),
    ("no-executable", '[ Arguments = "x"; ]', "Executable"),
    ("unknown-attr", '[ Executable = "/bin/sh";\n  Frobnicate = 1; ]', "Frobnicate"),
    ("traversal", '[ Executable = "/bin/sh"; InputSandbox = {"../secret"}; ]', "InputSandbox[0]"),
    ("bad-env", '[ Executable = "/bin/sh"; Environment = {"NOEQUALS"}; ]', "Environment"),
    ("missing-semicolon", '[ Executable = "/bin/sh"\n  Arguments = "x"; ]', "line 2"),
    ("duplicate", '[ Executable = "/bin/sh"; executable = "/bin/ls"; ]', "line 1"),
    ("list-executable", '[ Executable = {"a"}; ]', "Executable"),
    ("bad-quote-args", '[ Executable = "/bin/sh"; Arguments = "-c \'oops"; ]', "Arguments"),
    ("bad-retry", '[ Executable = "/bin/sh"; RetryCount = "three"; ]', "RetryCount"),
    ("unclosed-comment", '[ Executable = "/bin/sh"; /* never closed ]', "line 1"),
    (
        "absolute-output",
        '[ Executable = "/bin/sh"; OutputSandbox = {"/etc/x"}; ]',
        "OutputSandbox[0]",
    ),
    ("cbas-env", '[ Executable = "/bin/sh"; Environment = {"CBAS_X=1"}; ]', "CBAS_X"),
]


async def _state(clients: Clients, resources: Resources) -> tuple[int, int, int]:
    async def count(table: str) -> int:
        return len([item async for item in clients.dynamo.scan(table)])

    objects = await clients.s3.list_objects_v2(Bucket=resources.bucket)
    return (
        await count(resources.jobs_table),
        await count(resources.events_table),
        objects.get("KeyCount", 0),
    )


async def _submit(settings: Settings, spec: Path) -> tuple[int, str]:
    env = {**settings.to_env(), "CBAS_HOME": str(spec.parent)}
    env.pop("CBAS_API_URL", None)  # the direct-AWS path; tests/web/test_cli_api.py: the API
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cbas_async",
        "submit",
        str(spec),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, err.decode()


def _submit_in_process(settings: Settings, spec: Path) -> tuple[int, str]:
    """`cbas submit` through the same `main` as the command, without a process per case."""
    env = {**settings.to_env(), "CBAS_HOME": str(spec.parent)}
    env.pop("CBAS_API_URL", None)
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = cli.main(["submit", str(spec)], env)
    return code, err.getvalue()


async def test_bad_specs_and_jdl_exit_2_with_the_field_and_store_nothing(
    clients: Clients, settings: Settings, tmp_path: Path
) -> None:
    resources = await bootstrap(clients, settings)
    before = await _state(clients, resources)
    files = []
    for name, spec, _ in BAD_SPECS:
        files.append((tmp_path / f"{name}.json", json.dumps(spec)))
    for name, text, _ in BAD_JDL:
        files.append((tmp_path / f"{name}.jdl", text))
    for path, text in files:
        path.write_text(text)
    expected = [needle for *_, needle in BAD_SPECS] + [needle for *_, needle in BAD_JDL]

    def submit_all() -> list[tuple[int, str]]:
        return [_submit_in_process(settings, path) for path, _ in files]

    results = await asyncio.to_thread(submit_all)
    # and one through a real process: the exit code and message reach the shell
    results[0] = await _submit(settings, files[0][0])
    for (path, _), needle, (code, err) in zip(files, expected, results, strict=True):
        assert code == 2, (path.name, err)
        assert "invalid job spec" in err, (path.name, err)
        assert needle in err, (path.name, err)
    assert await _state(clients, resources) == before


@pytest.mark.parametrize("suffix", [".yaml", ""])
async def test_unknown_spec_format_is_refused(
    settings: Settings, tmp_path: Path, suffix: str
) -> None:
    path = tmp_path / f"spec{suffix}"
    path.write_text("{}")
    code, err = await asyncio.to_thread(_submit_in_process, settings, path)
    assert code == 2
    assert "invalid job spec" in err
