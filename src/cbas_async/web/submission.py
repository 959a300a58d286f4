"""Reading a job submission from a request: a JSON spec, or multipart with the spec and its
input files. Everything is checked before anything is stored; uploads are spooled to a
private temporary directory so `commands.submit` treats them as a spec file's neighbours."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

import aiofiles
from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from cbas_async.errors import InvalidSpec
from cbas_async.jdl import jdl_to_spec
from cbas_async.jobs import JobSpec, parse_spec
from cbas_async.sandbox import inside, safe_relative
from cbas_async.specfile import LoadedSpec
from cbas_async.web.errors import ApiError
from cbas_async.web.keys import ApiLimits

SPEC_FIELD = "spec"
INPUT_FIELD = "input"


async def read_submission(request: web.Request, spool: Path, limits: ApiLimits) -> LoadedSpec:
    """The validated spec with its inputs under `spool`. Raises `InvalidSpec` (400) or
    `ApiError` (413 too large, 415 wrong content type)."""
    if request.content_type == "application/json":
        spec = parse_spec(await request.read())
        _check_inputs(spec, uploaded=set())
        return LoadedSpec(spec=spec, base_dir=spool)
    if request.content_type == "multipart/form-data":
        try:
            return await _read_multipart(request, spool, limits)
        except (ValueError, RuntimeError, HttpProcessingError) as exc:  # aiohttp's parse errors
            raise ApiError(400, f"malformed multipart body: {exc}", field="body") from None
    raise ApiError(415, "send application/json or multipart/form-data", field="Content-Type")


async def _read_multipart(request: web.Request, spool: Path, limits: ApiLimits) -> LoadedSpec:
    reader = await request.multipart()
    spec: JobSpec | None = None
    uploaded: set[str] = set()
    budget = limits.upload_max_bytes
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            raise ApiError(400, "nested multipart is not supported", field="body")
        if part.name == SPEC_FIELD and spec is None:
            spec = await _read_spec(part, limits.spec_max_bytes)
        elif part.name == INPUT_FIELD:
            if len(uploaded) >= limits.upload_max_files:
                raise ApiError(413, f"at most {limits.upload_max_files} files", field="input")
            name, size = await _spool_file(part, spool, budget)
            budget -= size
            uploaded.add(name)
        else:
            raise ApiError(400, f"unexpected form field {part.name!r}", field=str(part.name))
    if spec is None:
        raise InvalidSpec([(SPEC_FIELD, "field required")])
    _check_inputs(spec, uploaded)
    return LoadedSpec(spec=spec, base_dir=spool)


async def _read_spec(part: BodyPartReader, max_bytes: int) -> JobSpec:
    data = await _read_limited(part, max_bytes, SPEC_FIELD)
    filename = part.filename or ""
    if filename.lower().endswith(".jdl"):
        text = data.decode("utf-8", errors="replace")
        return jdl_to_spec(text, name=Path(filename).stem or "jdl-job")
    return parse_spec(data)


async def _read_limited(part: BodyPartReader, max_bytes: int, field: str) -> bytes:
    data = bytearray()
    while chunk := await part.read_chunk():
        data += chunk
        if len(data) > max_bytes:
            raise ApiError(413, f"larger than {max_bytes} bytes", field=field)
    return bytes(data)


async def _spool_file(part: BodyPartReader, spool: Path, budget: int) -> tuple[str, int]:
    """Write one uploaded file under `spool`; refuses names that would leave it."""
    # aiohttp's client percent-encodes "/" in file names; browsers send plain base names
    name = unquote(part.filename or "")
    if not name:
        raise ApiError(400, "each input part needs a filename", field=INPUT_FIELD)
    try:
        target = inside(spool, name)
    except InvalidSpec:
        raise ApiError(400, f"unsafe file name {name!r}", field=INPUT_FIELD) from None
    target.parent.mkdir(parents=True, exist_ok=True)
    size = 0
    async with aiofiles.open(target, "wb") as sink:
        while chunk := await part.read_chunk():
            size += len(chunk)
            if size > budget:
                raise ApiError(413, "the input files are too large", field=INPUT_FIELD)
            await sink.write(chunk)
    return str(safe_relative(name)), size


def _check_inputs(spec: JobSpec, uploaded: set[str]) -> None:
    errors = [
        (f"input_files[{i}]", f"no such file: {name} (upload it as an '{INPUT_FIELD}' part)")
        for i, name in enumerate(spec.input_files)
        if name not in uploaded
    ]
    errors += [
        (INPUT_FIELD, f"{name} is not listed in input_files")
        for name in sorted(uploaded - set(spec.input_files))
    ]
    if errors:
        raise InvalidSpec(errors)
