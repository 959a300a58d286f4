"""A client of the master's REST API (`/api/v1`): the user commands (`commands.Jobs`) over
HTTP, with the API's errors turned into the CLI's (`InvalidSpec`, `JobNotFound`, ...)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiofiles
import aiohttp
import structlog

from cbas_async.errors import (
    ApiFailed,
    CloudUnreachable,
    ConfigError,
    InvalidSpec,
    JobNotFound,
    StaleWrite,
)
from cbas_async.jobs import spec_to_dict
from cbas_async.records import JobRecord
from cbas_async.sandbox import LogChunk, inside
from cbas_async.settings import Settings
from cbas_async.specfile import LoadedSpec
from cbas_async.states import JobState

log = structlog.get_logger(__name__)

PREFIX = "/api/v1"
PAGE_SIZE = 200  # the API's largest page
LOG_TAIL_CHUNKS = 1000  # the API's longest tail
TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=120)
NO_TOKEN = "token missing or wrong: set CBAS_API_TOKEN to a token from `cbas token create`"


@asynccontextmanager
async def open_api(settings: Settings) -> AsyncIterator[ApiClient]:
    """A client of `settings.api_url` for one command; the HTTP session closes after it."""
    if settings.api_url is None:
        raise ConfigError("CBAS_API_URL", "not set")
    async with aiohttp.ClientSession(timeout=TIMEOUT) as http:
        yield ApiClient(http=http, url=settings.api_url, token=settings.api_token)


class ApiClient:
    """The user commands over the REST API of one master."""

    def __init__(self, *, http: aiohttp.ClientSession, url: str, token: str | None) -> None:
        root = url.rstrip("/")
        self.url = root
        self._base = root if root.endswith(PREFIX) else root + PREFIX
        self._http = http
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}

    async def submit(self, loaded: LoadedSpec) -> JobRecord:
        """Send the (already checked) spec and its input files as one multipart request."""
        async with AsyncExitStack() as files:
            form = aiohttp.FormData()
            spec = json.dumps(spec_to_dict(loaded.spec))
            form.add_field("spec", spec, filename="spec.json", content_type="application/json")
            for name in loaded.spec.input_files:
                handle = files.enter_context(inside(loaded.base_dir, name).open("rb"))
                form.add_field("input", handle, filename=name)
            body = await self._json("POST", "/jobs", data=form, is_submit=True)
        return JobRecord.from_json(body)

    async def get(self, job_id: str) -> JobRecord:
        return JobRecord.from_json(await self._json("GET", _job_path(job_id), job_id=job_id))

    async def list_jobs(self, states: list[JobState]) -> list[JobRecord]:
        """Every page of the listing, oldest first (as `commands.list_jobs`)."""
        query: dict[str, str] = {"limit": str(PAGE_SIZE)}
        if len(states) == 1:
            query["state"] = states[0].value
        jobs: list[JobRecord] = []
        while True:
            body = await self._json("GET", "/jobs", params=query)
            jobs += [JobRecord.from_json(j) for j in body["jobs"]]
            if not body.get("next_page_token"):
                return sorted((j for j in jobs if j.state in states), key=lambda j: j.created_at)
            query["page_token"] = str(body["next_page_token"])

    async def cancel(self, job_id: str) -> JobRecord:
        path = _job_path(job_id) + "/cancel"
        return JobRecord.from_json(await self._json("POST", path, job_id=job_id))

    async def read_logs(self, job_id: str, after: set[str]) -> list[tuple[LogChunk, bytes]]:
        """Log chunks not in `after` (keys), in order; the API serves the last 1000."""
        params = {"tail": str(LOG_TAIL_CHUNKS)}
        body = await self._json("GET", _job_path(job_id) + "/logs", job_id=job_id, params=params)
        chunks = [(_log_chunk(c), str(c["text"]).encode()) for c in body["chunks"]]
        return [(chunk, data) for chunk, data in chunks if chunk.key not in after]

    async def outputs(self, job_id: str, dest: Path) -> list[Path]:
        """Download every output file into `dest`; returns the files written."""
        path = _job_path(job_id) + "/outputs"
        body = await self._json("GET", path, job_id=job_id)
        if body["state"] != JobState.SUCCEEDED.value:
            log.warning("outputs_of_unfinished_job", job_id=job_id, state=body["state"])
        written = []
        for entry in body["outputs"]:
            name = str(entry["name"])
            target = inside(dest, name)
            await self._download(f"{path}/{quote(name)}", target, job_id=job_id)
            written.append(target)
        return written

    async def _download(self, path: str, target: Path, *, job_id: str) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        async with self._request("GET", path) as response:
            await self._check(response, job_id=job_id)
            async with aiofiles.open(target, "wb") as sink:
                async for chunk in response.content.iter_chunked(256 * 1024):
                    await sink.write(chunk)

    async def _json(
        self,
        method: str,
        path: str,
        *,
        job_id: str | None = None,
        is_submit: bool = False,
        **kwargs: Any,
    ) -> Any:
        """The decoded body of one successful request."""
        async with self._request(method, path, **kwargs) as response:
            await self._check(response, job_id=job_id, is_submit=is_submit)
            return await response.json()

    @asynccontextmanager
    async def _request(
        self, method: str, path: str, **kwargs: Any
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """One request; a connection failure becomes `CloudUnreachable` naming the URL."""
        try:
            async with self._http.request(
                method, self._base + path, headers=self._headers, **kwargs
            ) as response:
                yield response
        except (aiohttp.ClientConnectionError, TimeoutError) as exc:
            raise CloudUnreachable(self.url, str(exc) or type(exc).__name__) from exc
        except aiohttp.InvalidURL as exc:
            raise ConfigError("CBAS_API_URL", f"{self.url!r}: not a valid URL") from exc

    async def _check(
        self, response: aiohttp.ClientResponse, *, job_id: str | None, is_submit: bool = False
    ) -> None:
        if response.status < 400:
            return
        message, errors = await _error_of(response)
        raise _translate(self.url, response.status, message, errors, job_id, is_submit)


def _translate(
    url: str,
    status: int,
    message: str,
    errors: list[tuple[str, str]],
    job_id: str | None,
    is_submit: bool,
) -> Exception:
    """The CLI's error for one refused request (the exit codes follow from its type)."""
    if status == 401:
        return ConfigError("CBAS_API_TOKEN", f"{NO_TOKEN} ({url} answered 401: {message})")
    if status == 404 and job_id is not None:
        return JobNotFound(job_id)
    if status in (400, 413, 415) and is_submit:
        return InvalidSpec(errors or [("", message)])
    if status == 409 and job_id is not None:
        return StaleWrite(job_id, message)
    if status in (502, 503, 504):
        return CloudUnreachable(url, f"{status}: {message}")
    return ApiFailed(url, status, message)


async def _error_of(response: aiohttp.ClientResponse) -> tuple[str, list[tuple[str, str]]]:
    """The API's `{"error", "errors": [{"field", "problem"}]}`, or the text of another body."""
    text = await response.text(errors="replace")
    try:
        body = json.loads(text)
    except ValueError:
        return text.strip()[:200] or (response.reason or ""), []
    if not isinstance(body, dict):
        return text.strip()[:200], []
    errors = [(str(e.get("field", "")), str(e.get("problem", ""))) for e in body.get("errors", [])]
    return str(body.get("error", "")), errors


def _job_path(job_id: str) -> str:
    return "/jobs/" + quote(job_id, safe="")


def _log_chunk(data: dict[str, Any]) -> LogChunk:
    attempt, stream, seq = int(data["attempt"]), str(data["stream"]), int(data["seq"])
    return LogChunk(
        attempt=attempt, stream=stream, seq=seq, key=f"{attempt:04d}/{stream}.{seq:06d}"
    )
