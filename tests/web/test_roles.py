"""Roles through the master's HTTP app: a `user` token sees and cancels only its owner's
jobs (another's answers 404 exactly like an unknown id), an `admin` token sees everything;
tokens stored before roles keep working as admins; `/metrics` wants an admin token."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from cbas_async.clock import SystemClock, utc_iso
from cbas_async.httpserver import HttpServer
from cbas_async.states import JobState
from cbas_async.web.auth import KEY_PREFIX, TokenStore, auth_middleware, hash_secret
from tests.web.conftest import Api
from tests.web.helpers import spec
from tests.web.test_auth import api_routes

UNKNOWN_ID = "j-20990101T000000-0badc0de"


@dataclass
class Users:
    alice: str
    bob: str
    alice_job: str
    bob_job: str


@pytest.fixture
async def users(api: Api) -> Users:
    tokens = TokenStore(store=api.store, clock=SystemClock())
    alice = await tokens.create(name="alice-laptop", owner="alice", role="user")
    bob = await tokens.create(name="bob", role="user")  # owner: the name
    ids = []
    for token in (alice, bob):
        status, body = await api.call("POST", "/api/v1/jobs", json=spec(), token=token)
        assert status == 201, body
        ids.append(body["job_id"])
    return Users(alice, bob, ids[0], ids[1])


async def listed(api: Api, token: str, query: str = "") -> list[str]:
    status, body = await api.call("GET", "/api/v1/jobs" + query, token=token)
    assert status == 200, body
    return [job["job_id"] for job in body["jobs"]]


async def answer(api: Api, method: str, path: str, token: str) -> tuple[int, Any]:
    async with api.http.request(method, api.url + path, headers=api.headers(token)) as r:
        return r.status, await r.json()


async def test_each_user_lists_only_own_jobs_and_admin_all(api: Api, users: Users) -> None:
    assert await listed(api, users.alice) == [users.alice_job]
    assert await listed(api, users.bob) == [users.bob_job]
    assert sorted(await listed(api, api.token)) == sorted([users.alice_job, users.bob_job])
    job = await api.store.get(users.alice_job)
    assert job.submitted_by == "alice"
    assert (await api.store.get(users.bob_job)).submitted_by == "bob"


async def test_a_page_of_own_jobs_skips_the_others(api: Api, users: Users) -> None:
    for _ in range(3):
        status, _ = await api.call("POST", "/api/v1/jobs", json=spec(), token=users.bob)
        assert status == 201
    assert await listed(api, users.alice, "?limit=1") == [users.alice_job]
    status, body = await api.call("GET", "/api/v1/jobs?limit=2", token=users.bob)
    assert status == 200
    assert len(body["jobs"]) == 2
    assert all(job["submitted_by"] == "bob" for job in body["jobs"])


async def test_another_users_job_is_404_like_an_unknown_id_on_every_route(
    api: Api, users: Users
) -> None:
    routes = [(m, p) for m, p in api_routes(api, users.bob_job) if users.bob_job in p]
    assert len(routes) >= 6  # detail, cancel, logs, stream, outputs, one output
    for method, path in routes:
        theirs = await answer(api, method, path, users.alice)
        unknown = await answer(api, method, path.replace(users.bob_job, UNKNOWN_ID), users.alice)
        assert theirs[0] == unknown[0] == 404, (method, path, theirs, unknown)
        assert str(theirs[1]).replace(users.bob_job, UNKNOWN_ID) == str(unknown[1])
        own = path.replace(users.bob_job, users.alice_job)
        if method == "GET" and not own.endswith(("stream", "result.txt")):
            assert (await answer(api, method, own, users.alice))[0] == 200, own
    bob_job = await api.store.get(users.bob_job)
    assert (bob_job.state, bob_job.version) == (JobState.PENDING, 1)  # cancel changed nothing


async def test_admin_sees_and_cancels_a_users_job(api: Api, users: Users) -> None:
    status, body = await api.call("GET", f"/api/v1/jobs/{users.bob_job}", token=api.token)
    assert status == 200
    assert body["submitted_by"] == "bob"
    status, body = await api.call("POST", f"/api/v1/jobs/{users.bob_job}/cancel")
    assert status == 200
    assert body["state"] == "CANCELLED"
    status, body = await api.call(
        "POST", f"/api/v1/jobs/{users.alice_job}/cancel", token=users.alice
    )
    assert status == 200
    assert body["state"] == "CANCELLED"


async def test_the_body_cannot_name_the_submitter(api: Api, users: Users) -> None:
    status, body = await api.call(
        "POST", "/api/v1/jobs", json=spec(submitted_by="bob"), token=users.alice
    )
    assert status == 400, body
    assert await listed(api, users.bob) == [users.bob_job]


async def test_a_token_stored_before_roles_is_an_admin_owned_by_legacy(
    api: Api, users: Users
) -> None:
    tokens = TokenStore(store=api.store, clock=SystemClock())
    for shape in ({"name": "old laptop", "created_at": utc_iso(SystemClock().now())}, {}):
        token_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        await api.store.misc_put(KEY_PREFIX + token_id, {"hash": hash_secret(secret), **shape})
        token = f"cbas_{token_id}_{secret}"
        assert await tokens.migrate() == 1  # older versions kept tokens in `misc`
        info = await tokens.verify(token)
        assert info is not None
        assert (info.role, info.owner) == ("admin", "legacy")
        assert {users.alice_job, users.bob_job} <= set(await listed(api, token))
        status, _ = await api.call("POST", "/api/v1/jobs", json=spec(), token=token)
        assert status == 201


async def test_an_unknown_role_is_refused(api: Api) -> None:
    token_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    item = {"hash": hash_secret(secret), "role": "root", "owner": "mallory"}
    await api.store.token_put(KEY_PREFIX + token_id, item)
    status, _ = await api.call("GET", "/api/v1/jobs", token=f"cbas_{token_id}_{secret}")
    assert status == 401


async def test_a_revoked_token_is_refused_at_once(api: Api, users: Users) -> None:
    assert await listed(api, users.alice) == [users.alice_job]
    tokens = TokenStore(store=api.store, clock=SystemClock())
    gone = await tokens.revoke("alice-laptop")
    assert (gone.name, gone.owner) == ("alice-laptop", "alice")
    status, _ = await api.call("GET", "/api/v1/jobs", token=users.alice)
    assert status == 401
    assert await listed(api, users.bob) == [users.bob_job]


async def test_metrics_needs_an_admin_token(api: Api, users: Users) -> None:
    async with api.http.get(api.url + "/metrics") as response:
        assert response.status == 401
    async with api.http.get(api.url + "/metrics", headers=api.headers(users.bob)) as response:
        assert response.status == 403
    async with api.http.get(api.url + "/metrics", headers=api.headers()) as response:
        assert response.status == 200
        assert "cbas_jobs" in await response.text()
    async with api.http.get(api.url + "/healthz") as response:
        assert response.status in (200, 503)  # open; 503 until marks are fresh


@pytest.fixture
async def metrics_app(api: Api) -> AsyncIterator[str]:
    async def metrics(request: web.Request) -> web.Response:
        return web.Response(text="cbas_up 1\n")

    app = web.Application()
    tokens = TokenStore(store=api.store, clock=SystemClock())
    app.middlewares.append(auth_middleware(tokens, metrics_public=True))
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/api/v1/jobs", metrics)
    async with HttpServer(app=app, host="127.0.0.1", port=0) as server:
        yield server.url


async def test_public_metrics_answer_without_a_token(metrics_app: str) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(metrics_app + "/metrics") as response:
            assert response.status == 200
        async with http.get(metrics_app + "/api/v1/jobs") as response:
            assert response.status == 401  # only /metrics is made public
