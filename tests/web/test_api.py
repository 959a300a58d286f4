"""The job routes of /api/v1: submit (JSON and multipart), list, detail, cancel."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from cbas_async.errors import InvalidSpec
from cbas_async.handlers.wakeup import SubmitWaker
from cbas_async.jobs import parse_spec
from cbas_async.states import JobState
from tests.web.conftest import MAX_BODY, Api
from tests.web.helpers import advance, spec


def form(spec_data: dict[str, object] | str, files: dict[str, bytes]) -> aiohttp.FormData:
    data = aiohttp.FormData()
    text = spec_data if isinstance(spec_data, str) else json.dumps(spec_data)
    data.add_field("spec", text, filename="job.json", content_type="application/json")
    for name, content in files.items():
        data.add_field("input", content, filename=name, content_type="application/octet-stream")
    return data


async def job_count(api: Api) -> int:
    return len(await api.store.all_in_states(list(JobState)))


async def test_submit_json_stores_a_pending_job_with_history(api: Api) -> None:
    status, body = await api.call("POST", "/api/v1/jobs", json=spec())
    assert status == 201
    assert body["state"] == "PENDING"
    status, detail = await api.call("GET", f"/api/v1/jobs/{body['job_id']}")
    assert status == 200
    assert [e["to_state"] for e in detail["events"]] == ["SUBMITTED", "PENDING"]
    assert detail["attempts"][0]["attempt"] == 1
    cost = {k: detail["cost"][k] for k in ("spot_usd", "ondemand_usd", "work_redone_s")}
    assert cost == {"spot_usd": 0.0, "ondemand_usd": 0.0, "work_redone_s": 0.0}


async def test_a_submitted_job_wakes_the_supervisor(api: Api) -> None:
    wake, stopping = asyncio.Event(), asyncio.Event()
    api.bus.subscribe("submissions", SubmitWaker(wake=wake), kinds=SubmitWaker.kinds)
    async with asyncio.TaskGroup() as tg:
        tg.create_task(api.bus.run(stopping))
        status, _ = await api.call("POST", "/api/v1/jobs", json=spec())
        assert status == 201
        await api.bus.drain()
        stopping.set()
    assert wake.is_set()


async def test_bad_spec_gives_the_cli_messages_and_stores_nothing(api: Api) -> None:
    bad = spec(resources={"vcpus": 0}, color="red")
    with pytest.raises(InvalidSpec) as expected:
        parse_spec(bad)
    status, body = await api.call("POST", "/api/v1/jobs", json=bad)
    assert status == 400
    assert body["errors"] == [{"field": f, "problem": p} for f, p in expected.value.errors]
    assert await job_count(api) == 0


async def test_not_json_is_a_400_with_the_parse_error(api: Api) -> None:
    headers = {"Content-Type": "application/json"}
    status, body = await api.call("POST", "/api/v1/jobs", data=b"{nope", headers=headers)
    assert status == 400
    assert body["errors"][0]["problem"].startswith("not valid JSON")


async def test_json_submit_cannot_name_input_files(api: Api) -> None:
    status, body = await api.call("POST", "/api/v1/jobs", json=spec(input_files=["a.txt"]))
    assert status == 400
    assert body["errors"][0]["field"] == "input_files[0]"
    assert await job_count(api) == 0


async def test_multipart_submit_uploads_the_inputs(api: Api) -> None:
    data = form(spec(input_files=["data/a.txt"]), {"data/a.txt": b"payload"})
    status, body = await api.call("POST", "/api/v1/jobs", data=data)
    assert status == 201, body
    key = api.cloud.sandbox.key(body["job_id"], "input", "data/a.txt")
    assert await api.cloud.sandbox.read(key) == b"payload"


@pytest.mark.parametrize(
    ("files", "field"),
    [
        ({}, "input_files[0]"),
        ({"a.txt": b"x", "b.txt": b"y"}, "input"),
    ],
)
async def test_multipart_inputs_must_match_the_spec(
    api: Api, files: dict[str, bytes], field: str
) -> None:
    status, body = await api.call(
        "POST", "/api/v1/jobs", data=form(spec(input_files=["a.txt"]), files)
    )
    assert status == 400
    assert field in [e["field"] for e in body["errors"]]
    assert await job_count(api) == 0


async def test_upload_names_cannot_leave_the_spool(api: Api) -> None:
    for name in ["../escape.txt", "/etc/passwd", "a/../../b"]:
        status, body = await api.call(
            "POST", "/api/v1/jobs", data=form(spec(input_files=["a.txt"]), {name: b"x"})
        )
        assert status == 400, name
        assert body["errors"][0]["field"] == "input"
    assert await job_count(api) == 0


async def test_multipart_without_spec_and_oversize_uploads_are_refused(api: Api) -> None:
    data = aiohttp.FormData()
    data.add_field("input", b"x", filename="a.txt")
    status, body = await api.call("POST", "/api/v1/jobs", data=data)
    assert (status, body["errors"][0]["field"]) == (400, "spec")
    big = form(spec(input_files=["a.txt"]), {"a.txt": b"x" * (300 * 1024)})
    status, body = await api.call("POST", "/api/v1/jobs", data=big)
    assert status == 413
    assert await job_count(api) == 0


async def test_oversize_json_and_wrong_content_type(api: Api) -> None:
    huge = spec(env={"X": "y" * MAX_BODY})
    status, _ = await api.call("POST", "/api/v1/jobs", json=huge)
    assert status == 413
    status, body = await api.call("POST", "/api/v1/jobs", data="name=x")
    assert status == 415
    assert body["errors"][0]["field"] == "Content-Type"


async def test_list_filters_by_state_and_pages_through_everything(api: Api) -> None:
    ids = [(await api.call("POST", "/api/v1/jobs", json=spec()))[1]["job_id"] for _ in range(5)]
    await advance(api.store, ids[0], JobState.RUNNING)
    status, body = await api.call("GET", "/api/v1/jobs?state=running")
    assert status == 200
    assert [j["job_id"] for j in body["jobs"]] == [ids[0]]
    seen: list[str] = []
    token: str | None = None
    for _ in range(10):
        query = f"?limit=2&page_token={token}" if token else "?limit=2"
        status, body = await api.call("GET", "/api/v1/jobs" + query)
        assert status == 200
        assert len(body["jobs"]) <= 2
        seen += [j["job_id"] for j in body["jobs"]]
        token = body["next_page_token"]
        if token is None:
            break
    assert sorted(seen) == sorted(ids)


BAD_QUERIES = [
    ("state=DONE", "state"),
    ("limit=0", "limit"),
    ("limit=abc", "limit"),
    ("page_token=xyz", "page_token"),
    ("page_token=eyJpIjogOSwgImsiOiBudWxsfQ", "page_token"),  # {"i": 9, "k": null}
]


async def test_list_refuses_bad_parameters(api: Api) -> None:
    for query, field in BAD_QUERIES:
        status, body = await api.call("GET", f"/api/v1/jobs?{query}")
        assert status == 400, query
        assert body["errors"][0]["field"] == field


MISSING = "j-20260101T000000-00000000"
NOT_FOUND = [
    ("GET", f"/api/v1/jobs/{MISSING}"),
    ("GET", "/api/v1/jobs/not-a-job"),
    ("POST", f"/api/v1/jobs/{MISSING}/cancel"),
    ("GET", f"/api/v1/jobs/{MISSING}/logs"),
    ("GET", f"/api/v1/jobs/{MISSING}/logs/stream"),
    ("GET", f"/api/v1/jobs/{MISSING}/outputs"),
    ("GET", f"/api/v1/jobs/{MISSING}/outputs/a.txt"),
    ("GET", "/api/v1/nothing-here"),
]


async def test_unknown_ids_and_routes_are_json_404s(api: Api) -> None:
    for method, path in NOT_FOUND:
        status, body = await api.call(method, path)
        assert status == 404, path
        assert isinstance(body["error"], str)


async def test_cancel_moves_a_live_job_once(api: Api) -> None:
    job_id = (await api.call("POST", "/api/v1/jobs", json=spec()))[1]["job_id"]
    status, body = await api.call("POST", f"/api/v1/jobs/{job_id}/cancel")
    assert (status, body["state"]) == (200, "CANCELLED")
    version = body["version"]
    status, body = await api.call("POST", f"/api/v1/jobs/{job_id}/cancel")
    assert (status, body["state"], body["version"]) == (200, "CANCELLED", version)
