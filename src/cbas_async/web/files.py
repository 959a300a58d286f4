"""The `/api/v1` routes over a job's files: logs (tail and a live server-sent event stream)
and outputs (listing and download)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from botocore.exceptions import ClientError

from cbas_async import commands
from cbas_async.deployment import Session
from cbas_async.errors import InvalidSpec
from cbas_async.loops import sleep_or_stop
from cbas_async.sandbox import LogChunk, Sandbox, safe_relative
from cbas_async.web.api import PREFIX, int_param, visible_job
from cbas_async.web.errors import ApiError
from cbas_async.web.keys import CLOCK, CLOSING, CLOUD, LIMITS


def chunk_json(chunk: LogChunk, data: bytes) -> dict[str, Any]:
    return {
        "attempt": chunk.attempt,
        "stream": chunk.stream,
        "seq": chunk.seq,
        "text": data.decode(errors="replace"),
    }


async def job_logs(request: web.Request) -> web.Response:
    """The last `tail` log chunks of every attempt, oldest first."""
    cloud = request.app[CLOUD]
    job = await visible_job(request)
    tail = int_param(request, "tail", 200, 1, request.app[LIMITS].log_tail_max_chunks)
    chunks = (await cloud.sandbox.log_chunks(job.job_id))[-tail:]
    body = [chunk_json(c, await cloud.sandbox.read(c.key)) for c in chunks]
    return web.json_response({"job_id": job.job_id, "state": job.state.value, "chunks": body})


async def stream_logs(request: web.Request) -> web.StreamResponse:
    """Server-sent events: `log` per new chunk, `state` on each change, `end` once the job
    is finished and its last chunks are sent. Ends early when the server shuts down."""
    cloud, clock = request.app[CLOUD], request.app[CLOCK]
    closing, poll_s = request.app[CLOSING], request.app[LIMITS].stream_poll_s
    job = await visible_job(request)  # another's job: 404 before the stream starts
    job_id = job.job_id
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    sent: set[str] = set()
    state = None
    try:
        while not closing.is_set():
            job = await cloud.store.get(job_id)  # before the logs: no chunk is missed at the end
            if job.state is not state:
                state = job.state
                await _send(response, "state", {"state": state.value, "attempt": job.attempt})
            await _send_new_logs(response, cloud, job_id, sent)
            if job.state.terminal:
                await _send(response, "end", {"state": job.state.value})
                break
            await response.write(b": keep-alive\n\n")  # finds clients that went away
            await sleep_or_stop(clock, poll_s, closing)
    except ConnectionResetError:
        pass  # the client left
    return response


async def _send_new_logs(
    response: web.StreamResponse, cloud: Session, job_id: str, sent: set[str]
) -> None:
    for chunk, data in await commands.read_logs(cloud, job_id, sent):
        await _send(response, "log", chunk_json(chunk, data))
        sent.add(chunk.key)


async def _send(response: web.StreamResponse, event: str, data: dict[str, Any]) -> None:
    await response.write(f"event: {event}\ndata: {json.dumps(data)}\n\n".encode())


async def list_outputs(request: web.Request) -> web.Response:
    cloud = request.app[CLOUD]
    job = await visible_job(request)
    base = f"{PREFIX}/jobs/{job.job_id}/outputs/"
    files = [
        {"name": name, "size_bytes": size, "url": base + name}
        for name, size in await _outputs(cloud.sandbox, job.job_id)
    ]
    return web.json_response({"job_id": job.job_id, "state": job.state.value, "outputs": files})


async def _outputs(sandbox: Sandbox, job_id: str) -> list[tuple[str, int]]:
    prefix = sandbox.prefix(job_id, "output")
    found: list[tuple[str, int]] = []
    paginator = sandbox.s3.get_paginator("list_objects_v2")
    async for page in paginator.paginate(Bucket=sandbox.bucket, Prefix=prefix):
        found += [(o["Key"][len(prefix) :], o.get("Size", 0)) for o in page.get("Contents", [])]
    return sorted(found)


async def download_output(request: web.Request) -> web.StreamResponse:
    """Stream one output file from S3; names that could leave the job's prefix are refused."""
    cloud = request.app[CLOUD]
    job = await visible_job(request)
    name = request.match_info["name"]
    try:
        key = cloud.sandbox.key(job.job_id, "output", name)
    except InvalidSpec:
        raise ApiError(400, f"unsafe file name {name!r}", field="name") from None
    try:
        found = await cloud.sandbox.s3.get_object(Bucket=cloud.sandbox.bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            raise ApiError(404, f"job {job.job_id} has no output {name!r}") from None
        raise
    leaf = safe_relative(name).name.replace('"', "")
    response = web.StreamResponse(
        headers={
            "Content-Type": "application/octet-stream",
            "Content-Disposition": f'attachment; filename="{leaf}"',
        }
    )
    response.content_length = found["ContentLength"]
    await response.prepare(request)
    async with found["Body"] as body:
        while chunk := await body.read(256 * 1024):
            await response.write(chunk)
    await response.write_eof()
    return response


def add_routes(app: web.Application) -> None:
    app.router.add_get(f"{PREFIX}/jobs/{{job_id}}/logs", job_logs)
    app.router.add_get(f"{PREFIX}/jobs/{{job_id}}/logs/stream", stream_logs)
    app.router.add_get(f"{PREFIX}/jobs/{{job_id}}/outputs", list_outputs)
    app.router.add_get(f"{PREFIX}/jobs/{{job_id}}/outputs/{{name:.+}}", download_output)
