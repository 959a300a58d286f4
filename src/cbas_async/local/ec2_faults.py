"""EC2 capacity and quota outages for the local cloud: which RunInstances calls the fault
gate refuses, and the error EC2 answers them with.

A capacity outage covers a pool (zone or every zone, instance type, spot, on-demand or
both): its launches get `InsufficientInstanceCapacity`, a server error (HTTP 500, which
botocore retries as it does on AWS). A quota outage caps the live (pending or running)
vCPUs of each market at N: a launch beyond it gets `MaxSpotInstanceCountExceeded` (spot)
or `VcpuLimitExceeded` (on-demand), client errors (HTTP 400). Messages are AWS's texts.
Matching and the error bodies are pure; `Ec2Faults` holds the outages, thread-safe.
"""

from __future__ import annotations

import threading
import time
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol
from xml.sax.saxutils import escape

MARKETS = ("spot", "on-demand")
ALL_ZONES = "all"
SERVER_ERROR = "500 Internal Server Error"
CLIENT_ERROR = "400 Bad Request"


class Ec2View(Protocol):
    """What the gate needs to know about the emulated EC2 (`local.moto_ec2` reads moto)."""

    def zones(self, region: str) -> list[str]: ...
    def vcpus(self, instance_type: str) -> int | None: ...
    def live_vcpus(self, region: str, market: str) -> int: ...
    def subnet_zone(self, region: str, subnet_id: str) -> str | None: ...


class CapacityFeed(Protocol):
    """The capacity outages a replayed trace has in force now (`local.trace_feeds`)."""

    def outages(self, region: str) -> list[CapacityOutage]: ...


@dataclass(frozen=True, slots=True)
class LaunchAsk:
    """What a RunInstances request asks for, as far as capacity and quota care."""

    instance_type: str
    market: str  # "spot" or "on-demand"
    count: int  # MinCount: EC2 launches at least this many or none
    zone: str | None = None  # Placement.AvailabilityZone
    subnet_id: str | None = None


@dataclass(frozen=True, slots=True)
class CapacityOutage:
    zone: str  # a zone or ALL_ZONES
    instance_type: str
    market: str | None  # None: both markets
    until: float  # monotonic seconds

    def covers(self, instance_type: str, zone: str | None, market: str) -> bool:
        """`zone` None: EC2 picks one, so only an outage of every zone stops the launch."""
        return (
            self.instance_type == instance_type
            and self.market in (None, market)
            and (self.zone == ALL_ZONES or self.zone == zone)
        )


@dataclass(frozen=True, slots=True)
class QuotaOutage:
    vcpus: int  # live vCPUs allowed in each market
    until: float


@dataclass(frozen=True, slots=True)
class Refusal:
    """The HTTP status, code and message EC2 answers a refused launch with."""

    status: str
    code: str
    message: str


def parse_launch(body: bytes) -> LaunchAsk | None:
    """The launch an EC2 Query API form body asks for; None when it is no RunInstances."""
    form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))

    def first(key: str) -> str | None:
        return form.get(key, [None])[0]

    if first("Action") != "RunInstances":
        return None
    market = "spot" if first("InstanceMarketOptions.MarketType") == "spot" else "on-demand"
    try:
        count = max(1, int(first("MinCount") or 1))
    except ValueError:
        count = 1
    return LaunchAsk(
        instance_type=first("InstanceType") or "m1.small",  # EC2's default type
        market=market,
        count=count,
        zone=first("Placement.AvailabilityZone"),
        subnet_id=first("SubnetId"),
    )


def capacity_refusal(
    ask: LaunchAsk, zone: str | None, outages: Sequence[CapacityOutage], zones: Sequence[str]
) -> Refusal | None:
    """`zone`: where the launch lands (its placement or subnet), None when EC2 picks."""
    if not any(o.covers(ask.instance_type, zone, ask.market) for o in outages):
        return None
    if ask.market == "spot":
        message = "There is no Spot capacity available that matches your request."
    elif zone is None:
        message = "Insufficient capacity."
    else:
        others = [z for z in zones if not _out(outages, ask, z)]
        message = _zone_message(ask.instance_type, zone, others)
    return Refusal(SERVER_ERROR, "InsufficientInstanceCapacity", message)


def _out(outages: Sequence[CapacityOutage], ask: LaunchAsk, zone: str) -> bool:
    return any(o.covers(ask.instance_type, zone, ask.market) for o in outages)


def _zone_message(instance_type: str, zone: str, others: Sequence[str]) -> str:
    message = (
        f"We currently do not have sufficient {instance_type} capacity in the Availability "
        f"Zone you requested ({zone}). Our system will be working on provisioning additional "
        "capacity."
    )
    if others:
        message += (
            f" You can currently get {instance_type} capacity by not specifying an "
            f"Availability Zone in your request or choosing {', '.join(others)}."
        )
    return message


def quota_refusal(
    ask: LaunchAsk, *, vcpus_each: int, live_vcpus: int, quotas: Sequence[QuotaOutage]
) -> Refusal | None:
    """Refuse a launch that would take the market's live vCPUs beyond the lowest quota."""
    if not quotas:
        return None
    limit = min(q.vcpus for q in quotas)
    if live_vcpus + vcpus_each * ask.count <= limit:
        return None
    if ask.market == "spot":
        return Refusal(
            CLIENT_ERROR, "MaxSpotInstanceCountExceeded", "Max spot instance count exceeded"
        )
    return Refusal(
        CLIENT_ERROR,
        "VcpuLimitExceeded",
        f"You have requested more vCPU capacity than your current vCPU limit of {limit} allows "
        "for the instance bucket that the specified instance type belongs to. Please visit "
        "http://aws.amazon.com/contact-us/ec2-request to request an adjustment to this limit.",
    )


def error_xml(refusal: Refusal, request_id: str) -> bytes:
    """EC2's error document (the Query API's `Response/Errors/Error` shape)."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Response><Errors><Error><Code>{refusal.code}</Code>"
        f"<Message>{escape(refusal.message)}</Message></Error></Errors>"
        f"<RequestID>{request_id}</RequestID></Response>"
    ).encode()


class Ec2Faults:
    """The capacity and quota outages in force; the fault gate asks `refusal` per launch."""

    def __init__(self, *, view: Ec2View, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._view = view
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._capacity: list[CapacityOutage] = []
        self._quotas: list[QuotaOutage] = []
        self._feed: CapacityFeed | None = None
        self.launching = threading.Lock()  # quota check and launch as one step
        self.failed: Counter[str] = Counter()  # refusals by error code

    def capacity(
        self, *, region: str, zone: str, instance_type: str, market: str | None, seconds: float
    ) -> CapacityOutage:
        """Refuse launches in the pool for `seconds`; ValueError names a bad argument."""
        _check_seconds(seconds)
        if zone != ALL_ZONES and zone not in self._view.zones(region):
            raise ValueError(
                f"zone {zone!r} is not in {region}: one of {self._view.zones(region)} or 'all'"
            )
        if self._view.vcpus(instance_type) is None:
            raise ValueError(f"unknown instance type {instance_type!r}")
        if market is not None and market not in MARKETS:
            raise ValueError(f"market {market!r}: one of {list(MARKETS)}")
        outage = CapacityOutage(zone, instance_type, market, self._monotonic() + seconds)
        with self._lock:
            self._capacity.append(outage)
        return outage

    def quota(self, *, vcpus: int, seconds: float) -> QuotaOutage:
        _check_seconds(seconds)
        if vcpus < 0:
            raise ValueError(f"vcpus must be >= 0, not {vcpus}")
        outage = QuotaOutage(vcpus, self._monotonic() + seconds)
        with self._lock:
            self._quotas.append(outage)
        return outage

    def follow(self, feed: CapacityFeed | None) -> None:
        """Also refuse what `feed` (a replayed capacity trace) has out of capacity; None: stop."""
        with self._lock:
            self._feed = feed

    def clear(self) -> None:
        """End every outage, a followed trace's too."""
        with self._lock:
            self._capacity.clear()
            self._quotas.clear()
            self._feed = None

    def active(self) -> tuple[list[CapacityOutage], list[QuotaOutage]]:
        now = self._monotonic()
        with self._lock:
            self._capacity = [o for o in self._capacity if o.until > now]
            self._quotas = [o for o in self._quotas if o.until > now]
            return list(self._capacity), list(self._quotas)

    def any_active(self) -> bool:
        # stale entries: `refusal` drops them
        return bool(self._capacity or self._quotas or self._feed is not None)

    def refusal(self, ask: LaunchAsk, region: str) -> Refusal | None:
        """The error for this launch, or None to let it through; counts what it refused.
        Hold `launching` across this and the launch, so two launches cannot both fit."""
        capacity, quotas = self.active()
        feed = self._feed
        if feed is not None:
            capacity += feed.outages(region)
        zone = ask.zone
        if zone is None and ask.subnet_id:
            zone = self._view.subnet_zone(region, ask.subnet_id)
        refusal = capacity_refusal(ask, zone, capacity, self._view.zones(region))
        if refusal is None and quotas:
            refusal = quota_refusal(
                ask,
                vcpus_each=self._view.vcpus(ask.instance_type) or 1,
                live_vcpus=self._view.live_vcpus(region, ask.market),
                quotas=quotas,
            )
        if refusal is not None:
            with self._lock:
                self.failed[refusal.code] += 1
        return refusal


def request_id() -> str:
    return str(uuid.uuid4())


def _check_seconds(seconds: float) -> None:
    if not seconds > 0:
        raise ValueError(f"seconds must be > 0, not {seconds}")
