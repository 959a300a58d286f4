"""Fuzzing the wire formats (pings, user data, commands) and the master's ping path:
arbitrary bodies either decode to a valid message or raise `InvalidMessage`, never
anything else, and the ping poller drops them without stopping."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cbas_async.bus import Bus
from cbas_async.errors import InvalidMessage
from cbas_async.events import Event, WorkerPinged
from cbas_async.master.health import Health
from cbas_async.master.ping_poller import PingPoller
from cbas_async.messages import MAX_MESSAGE_BYTES, Command, Ping, UserData, decode
from tests.fakes import FakeClock

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MODELS = (Ping, UserData, Command)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=20,
)
VALID_PING = {"job_id": "j-1", "attempt": 1, "instance_id": "i-1", "seq": 0, "sent_at": "t"}


def ping_like() -> st.SearchStrategy[dict[str, Any]]:
    """A valid ping with some fields replaced, dropped or added."""
    keys = st.sampled_from([*VALID_PING, "checkpoint_seq", "phase", "extra"])
    return st.builds(
        lambda changes, dropped: {
            **{k: v for k, v in VALID_PING.items() if k not in dropped},
            **changes,
        },
        st.dictionaries(keys, json_values, max_size=3),
        st.sets(keys, max_size=2),
    )


bodies = st.one_of(
    st.text(),
    st.binary(),
    json_values.map(json.dumps),
    ping_like().map(json.dumps),
    st.sampled_from(
        ["", "{", "[" * 5000, "null", '"x"', "1e999", "\x00", "{}" * 3, '"\ud800"', "\udfff"]
    ),
)


Model = type[Ping] | type[UserData] | type[Command]


def _decoded(model: Model, raw: str | bytes) -> Ping | UserData | Command | InvalidMessage:
    try:
        return decode(model, raw)
    except InvalidMessage as exc:
        return exc


def _decode_or_invalid(model: Model, raw: str | bytes) -> None:
    decoded = _decoded(model, raw)
    if isinstance(decoded, InvalidMessage):
        assert str(decoded).startswith(model.__name__)
    else:
        assert isinstance(decoded, model)
        assert decode(model, decoded.encode()) == decoded  # round trip


@FUZZ
@given(st.sampled_from(MODELS), bodies)
def test_decode_never_raises_anything_but_invalid_message(model: Model, raw: str | bytes) -> None:
    _decode_or_invalid(model, raw)


@FUZZ
@given(ping_like())
def test_ping_fields_are_validated(fields: dict[str, Any]) -> None:
    _decode_or_invalid(Ping, json.dumps(fields))


def test_oversized_message_is_refused_before_parsing() -> None:
    raw = json.dumps({**VALID_PING, "sent_at": "x" * MAX_MESSAGE_BYTES})
    with pytest.raises(InvalidMessage, match="too large"):
        decode(Ping, raw)


class FakeQueue:
    """Just enough of SQS for one `poll_once`: hands out bodies, records deletions."""

    def __init__(self, bodies: list[str]) -> None:
        self.bodies = bodies
        self.deleted: list[str] = []

    async def receive_message(self, **_: Any) -> dict[str, Any]:
        batch, self.bodies = self.bodies[:10], self.bodies[10:]
        messages = [
            {"MessageId": f"m{i}", "ReceiptHandle": f"r{i}", "Body": body}
            for i, body in enumerate(batch)
        ]
        return {"Messages": messages} if messages else {}

    async def delete_message_batch(self, **kwargs: Any) -> dict[str, Any]:
        self.deleted += [e["ReceiptHandle"] for e in kwargs["Entries"]]
        return {"Successful": kwargs["Entries"], "Failed": []}


async def _poll(bodies: list[str]) -> tuple[PingPoller, FakeQueue, list[Event]]:
    got: list[Event] = []
    bus = Bus()

    async def record(event: Event) -> None:
        got.append(event)

    bus.publish = record  # type: ignore[method-assign]
    clock = FakeClock()
    queue = FakeQueue(bodies)
    poller = PingPoller(
        sqs=queue,  # type: ignore[arg-type]
        queue_url="q",
        bus=bus,
        clock=clock,
        health=Health(clock=clock),
        wait_s=0,
    )
    await poller.poll_once()
    return poller, queue, got


sqs_bodies = st.one_of(st.text(), json_values.map(json.dumps), ping_like().map(json.dumps))


@FUZZ
@given(st.lists(sqs_bodies, min_size=1, max_size=10))
def test_ping_poller_drops_garbage_and_deletes_every_message(bodies: list[str]) -> None:
    poller, queue, got = asyncio.run(_poll(bodies))
    valid = [body for body in bodies if _valid_ping(body)]
    assert len(queue.deleted) == len(bodies)
    assert poller.malformed == len(bodies) - len(valid)
    assert [e.ping for e in got if isinstance(e, WorkerPinged)] == [
        decode(Ping, body) for body in valid
    ]


def _valid_ping(body: str) -> bool:
    return not isinstance(_decoded(Ping, body), InvalidMessage)
