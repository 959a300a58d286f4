"""Opaque page tokens over the store's per-state pages, so one list can span many states."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence

from cbas_async.records import JobRecord
from cbas_async.states import JobState
from cbas_async.store import JobStore
from cbas_async.web.errors import ApiError

_KEY_FIELDS = frozenset({"state", "updated_at", "job_id"})


def encode(index: int, store_token: str | None) -> str:
    raw = json.dumps({"i": index, "k": store_token}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(token: str | None, states: Sequence[JobState]) -> tuple[int, str | None]:
    """(index into `states`, the store's token); `ApiError` 400 for anything not ours."""
    if not token:
        return 0, None
    index, store_token = -1, None
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        index, store_token = data["i"], data["k"]
        valid = isinstance(index, int) and 0 <= index < len(states)
        if valid and store_token is not None:
            valid = _valid_key(store_token, states[index])
    except (ValueError, TypeError, KeyError, binascii.Error):
        valid = False
    if not valid:
        raise ApiError(400, "not a page token from this listing", field="page_token")
    return index, store_token


def _valid_key(store_token: object, state: JobState) -> bool:
    """The store's token is a DynamoDB key; accept only the shape it writes, so a crafted
    key never reaches DynamoDB."""
    if not isinstance(store_token, str):
        return False
    key = json.loads(store_token)
    return (
        isinstance(key, dict)
        and set(key) == _KEY_FIELDS
        and all(isinstance(v, str) for v in key.values())
        and key["state"] == state.value
    )


def _everything(job: JobRecord) -> bool:
    return True


async def page(
    store: JobStore,
    states: Sequence[JobState],
    limit: int,
    token: str | None,
    keep: Callable[[JobRecord], bool] = _everything,
) -> tuple[list[JobRecord], str | None]:
    """Up to `limit` jobs that `keep` accepts, state after state, and the token of the next
    page (None at the end). Jobs `keep` refuses are read and skipped, never counted."""
    index, store_token = decode(token, states)
    found: list[JobRecord] = []
    while index < len(states) and len(found) < limit:
        jobs, store_token = await store.list_by_state(
            states[index], limit=limit - len(found), page_token=store_token
        )
        found += [job for job in jobs if keep(job)]
        if store_token is None:
            index += 1
    return found, encode(index, store_token) if index < len(states) else None
