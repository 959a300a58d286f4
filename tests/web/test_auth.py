"""Bearer tokens: every route but the public ones refuses a missing or wrong token and
changes nothing; tokens are stored hashed."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from cbas_async.clock import SystemClock
from cbas_async.states import JobState
from cbas_async.web.auth import KEY_PREFIX, TokenStore
from cbas_async.web.tokens import TokenInfo
from tests.fakes import FakeClock
from tests.web.conftest import Api
from tests.web.helpers import spec

NONE = TokenInfo(token_id="-", name="-", owner="-", role="user", created_at="")

WRONG = [
    "",
    "cbas_000000000000_" + "A" * 43,  # well-formed, unknown id
    "not-a-token",
]


def api_routes(api: Api, job_id: str) -> list[tuple[str, str]]:
    """Every (method, path) of the app under /api/, with real ids filled in."""
    found = []
    for route in api.app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter", "")
        if path.startswith("/api/") and route.method != "HEAD":
            path = path.replace("{job_id}", job_id).replace("{name}", "result.txt")
            found.append((route.method, path))
    return found


async def test_every_api_route_needs_a_valid_token(api: Api) -> None:
    status, created = await api.call("POST", "/api/v1/jobs", json=spec())
    assert status == 201
    job_id = created["job_id"]
    routes = api_routes(api, job_id)
    assert len(routes) >= 10
    right = await TokenStore(store=api.store, clock=SystemClock()).create()
    for method, path in routes:
        for header in [{}, {"Authorization": "Basic dXNlcjpwYXNz"}] + [
            {"Authorization": f"Bearer {w}"} for w in [*WRONG, right[:-1] + "x"]
        ]:
            body = json.dumps(spec()).encode() if method == "POST" else None
            headers = {**header, "Content-Type": "application/json"}
            async with api.http.request(method, api.url + path, data=body, headers=headers) as r:
                assert r.status == 401, (method, path, header)
                assert r.headers["WWW-Authenticate"].startswith("Bearer")
                assert (await r.json())["error"]
    jobs = await api.store.all_in_states(list(JobState))
    assert [(j.job_id, j.state, j.version) for j in jobs] == [(job_id, JobState.PENDING, 1)]


async def test_public_routes_need_no_token(api: Api) -> None:
    for path in ["/healthz", "/", "/static/app.js"]:
        async with api.http.get(api.url + path) as response:
            assert response.status in (200, 503), path  # healthz: 503 until marks are fresh


async def test_tokens_are_stored_hashed_and_verified(api: Api) -> None:
    tokens = TokenStore(store=api.store, clock=SystemClock())
    token = await tokens.create(name="ci")
    token_id = token.split("_")[1]
    [item] = [i for i in await api.store.token_scan_prefix(KEY_PREFIX) if token_id in i["key"]]
    assert token.split("_", 2)[2] not in json.dumps(item)
    assert item["name"] == "ci"
    assert (await tokens.verify(token) or NONE).token_id == token_id
    assert await tokens.verify(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    status, _ = await api.call("GET", "/api/v1/jobs", token=token)
    assert status == 200


async def test_verified_tokens_are_cached_for_a_while_wrong_ones_never(api: Api) -> None:
    clock = FakeClock(datetime(2026, 11, 27, tzinfo=UTC))
    tokens = TokenStore(store=api.store, clock=clock, cache_s=30.0)
    token = await tokens.create(name="cached")
    token_id = token.split("_")[1]
    assert (await tokens.verify(token) or NONE).token_id == token_id
    assert await tokens.verify(token[:-1] + ("x" if token[-1] != "x" else "y")) is None
    await api.store.token_delete(KEY_PREFIX + token_id)  # removed from the table
    assert (await tokens.verify(token) or NONE).token_id == token_id  # still cached on this master
    await clock.advance(30.0)
    assert await tokens.verify(token) is None  # the cache expired: the table decides
    fresh = TokenStore(store=api.store, clock=clock)
    assert await fresh.verify(token) is None
