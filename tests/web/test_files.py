"""Logs (tail and live stream) and outputs (list and download) through /api/v1."""

from __future__ import annotations

import json
from typing import Any

from cbas_async.clock import SystemClock
from cbas_async.states import JobState
from cbas_async.web import closing
from tests.web.conftest import Api
from tests.web.helpers import advance, spec


async def new_job(api: Api) -> str:
    status, body = await api.call("POST", "/api/v1/jobs", json=spec())
    assert status == 201
    return str(body["job_id"])


async def read_events(api: Api, job_id: str) -> list[tuple[str, dict[str, Any]]]:
    """Every server-sent event until the stream ends (the server closes it at `end`)."""
    url = f"{api.url}/api/v1/jobs/{job_id}/logs/stream"
    events: list[tuple[str, dict[str, Any]]] = []
    async with api.http.get(url, headers=api.headers()) as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        name = ""
        async for raw in response.content:
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                name = line[len("event: ") :]
            elif line.startswith("data: "):
                events.append((name, json.loads(line[len("data: ") :])))
                if name == "state" and events[-1][1]["state"] == "RUNNING":
                    await finish(api, job_id)
    return events


async def finish(api: Api, job_id: str) -> None:
    """What a worker does at the end: ship a log chunk, then mark the job SUCCEEDED."""
    await api.cloud.sandbox.put_log_chunk(job_id, 1, "stdout", 1, b"done\n")
    job = await api.store.get(job_id)
    await api.store.transition(
        job_id, {JobState.RUNNING}, JobState.SUCCEEDED, job.version, now=SystemClock().now(),
        actor="test",
    )  # fmt: skip


async def test_tail_returns_the_last_chunks_in_order(api: Api) -> None:
    job_id = await new_job(api)
    for seq in range(3):
        await api.cloud.sandbox.put_log_chunk(job_id, 1, "stdout", seq, f"line {seq}\n".encode())
    status, body = await api.call("GET", f"/api/v1/jobs/{job_id}/logs?tail=2")
    assert status == 200
    assert [c["text"] for c in body["chunks"]] == ["line 1\n", "line 2\n"]
    status, body = await api.call("GET", f"/api/v1/jobs/{job_id}/logs?tail=0")
    assert (status, body["errors"][0]["field"]) == (400, "tail")


async def test_stream_sends_logs_and_states_until_the_job_ends(api: Api) -> None:
    job_id = await new_job(api)
    await api.cloud.sandbox.put_log_chunk(job_id, 1, "stdout", 0, b"hello\n")
    await advance(api.store, job_id, JobState.RUNNING)
    events = await read_events(api, job_id)
    names = [name for name, _ in events]
    assert names[0] == "state"
    assert names[-1] == "end"
    assert [d["text"] for n, d in events if n == "log"] == ["hello\n", "done\n"]
    assert events[-1][1] == {"state": "SUCCEEDED"}


async def test_outputs_list_and_download(api: Api) -> None:
    job_id = await new_job(api)
    s3, bucket = api.cloud.sandbox.s3, api.cloud.sandbox.bucket
    key = api.cloud.sandbox.key(job_id, "output", "out/result.txt")
    await s3.put_object(Bucket=bucket, Key=key, Body=b"42\n")
    status, body = await api.call("GET", f"/api/v1/jobs/{job_id}/outputs")
    assert status == 200
    [entry] = body["outputs"]
    assert (entry["name"], entry["size_bytes"]) == ("out/result.txt", 3)
    async with api.http.get(api.url + entry["url"], headers=api.headers()) as response:
        assert response.status == 200
        assert 'filename="result.txt"' in response.headers["Content-Disposition"]
        assert await response.read() == b"42\n"


async def test_output_names_cannot_escape_the_job(api: Api) -> None:
    job_id = await new_job(api)
    for name in ["..%2F..%2Fother%2Fsecret", "a%2F..%2F..%2Fb", "%2Fetc%2Fpasswd"]:
        status, body = await api.call("GET", f"/api/v1/jobs/{job_id}/outputs/{name}")
        assert status == 400, name
        assert body["errors"][0]["field"] == "name"
    status, _ = await api.call("GET", f"/api/v1/jobs/{job_id}/outputs/missing.txt")
    assert status == 404


async def test_stream_ends_when_the_server_shuts_down(api: Api) -> None:
    job_id = await new_job(api)
    url = f"{api.url}/api/v1/jobs/{job_id}/logs/stream"
    names: list[str] = []
    async with api.http.get(url, headers=api.headers()) as response:
        async for raw in response.content:
            line = raw.decode()
            if line.startswith("event: "):
                names.append(line.split(" ", 1)[1].strip())
                await closing(api.app)  # what app.on_shutdown runs
    assert names == ["state"]  # ended without an `end`: the job is still PENDING
