"""The faults the chaos run injects, each drawn from the run's seeded `random.Random`:
kill -9 of workers and masters, spot notices, S3 and DynamoDB outages (the local cloud's
fault gate answers a share of their calls with 5xx or throttling errors for a while), EC2
capacity outages (a pool's launches get InsufficientInstanceCapacity) and vCPU quota
outages (launches beyond a few live vCPUs get MaxSpotInstanceCountExceeded or
VcpuLimitExceeded), pings duplicated and reordered, and spot warnings re-published late
and twice."""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog

from cbas_async.clock import Clock, utc_iso
from cbas_async.local.faults import FaultGate
from cbas_async.local.hypervisor import Hypervisor
from cbas_async.local.interrupter import Interrupter, spot_warning
from chaos.masters import Masters
from chaos.region_faults import RegionMasters

if TYPE_CHECKING:
    from types_aiobotocore_sns import SNSClient
    from types_aiobotocore_sqs import SQSClient

log = structlog.get_logger(__name__)

BUDGETED = (
    "worker_kill",
    "interruption",
    "master_kill",
    "storage_outage",
    "capacity_outage",
    "quota_outage",
    "region_outage",
)
OUTAGE_SERVICES = (("s3",), ("dynamodb",), ("s3", "dynamodb"))
QUOTA_VCPUS = (0, 2, 4, 8)  # live vCPUs allowed per market during a quota outage


@dataclass
class FaultSchedule:
    """When (as a fraction of jobs finished) each budgeted fault falls due."""

    due_at: dict[str, list[float]]
    fired: Counter[str] = field(default_factory=Counter)

    @classmethod
    def draw(cls, rng: random.Random, budgets: dict[str, int]) -> FaultSchedule:
        return cls(
            {k: sorted(rng.uniform(0.0, 0.85) for _ in range(n)) for k, n in budgets.items()}
        )

    def due(self, progress: float) -> list[str]:
        """Kinds with a fault due at `progress` (at most one of each per call)."""
        return [
            kind
            for kind, times in self.due_at.items()
            if self.fired[kind] < len(times) and times[self.fired[kind]] <= progress
        ]


class FaultInjector:
    """Carries out faults against the local cloud; counts what it did."""

    def __init__(
        self,
        *,
        rng: random.Random,
        hypervisor: Hypervisor,
        interrupter: Interrupter,
        masters: Masters,
        gate: FaultGate,
        sqs: SQSClient,
        queue_url: str,
        sns: SNSClient,
        events_topic_arn: str,
        region: str,
        clock: Clock,
        zones: tuple[str, ...] = (),
        instance_types: tuple[str, ...] = ("c5.large",),
        second_master_p: float = 0.3,
        regions: RegionMasters | None = None,
    ) -> None:
        self._rng = rng
        self.regions = regions  # a run across regions: its masters by region
        self._hypervisor = hypervisor
        self._interrupter = interrupter
        self._masters = masters
        self._gate = gate
        self._sqs = sqs
        self._queue_url = queue_url
        self._sns = sns
        self._events_topic_arn = events_topic_arn
        self._region = region
        self._clock = clock
        self._second_master_p = second_master_p
        self._zones = zones
        self._instance_types = instance_types
        self._recent: deque[str] = deque(maxlen=50)
        self._noticed: set[str] = set()  # instances already under a spot notice
        self.done: Counter[str] = Counter()

    async def inject(self, kind: str) -> bool:
        """Try one fault of `kind`; False when it has no target yet."""
        match kind:
            case "worker_kill":
                return self.kill_worker()
            case "interruption":
                return await self.interrupt()
            case "master_kill":
                return await self.kill_master()
            case "storage_outage":
                return self.storage_outage()
            case "capacity_outage":
                return self.capacity_outage()
            case "quota_outage":
                return self.quota_outage()
            case "region_outage":
                return await self.region_outage()
            case _:
                raise ValueError(kind)

    def _victim(self) -> str | None:
        live = sorted(
            i for i, w in self._hypervisor.instances.items() if w.process.returncode is None
        )
        return self._rng.choice(live) if live else None

    def kill_worker(self) -> bool:
        victim = self._victim()
        if victim is None:
            return False
        self._hypervisor.kill(victim)
        self.done["worker_kill"] += 1
        log.info("chaos_worker_killed", instance_id=victim)
        return True

    async def interrupt(self) -> bool:
        victim = self._victim()
        if victim is None:
            return False
        job_id = self._hypervisor.instances[victim].job_id
        noticed = await self._interrupter.interrupt(job_id)  # the job's newest instance
        if noticed is None:
            return False
        self._noticed.add(noticed)
        self.done["interruption"] += 1
        return True

    async def kill_master(self) -> bool:
        """kill -9 one live master, start another; sometimes two run side by side."""
        if self.regions is not None:
            self.done["master_kill"] += await self.regions.kill_one()
            self.done["two_masters_at_once"] += len(self._masters.live) > len(self.regions.regions)
            return True
        live = self._masters.live
        if live:
            await self._masters.kill(self._rng.choice(live))
            self.done["master_kill"] += 1
        wanted = 2 if self._rng.random() < self._second_master_p else 1
        for _ in range(max(0, wanted - len(self._masters.live))):
            await self._masters.start()
            self.done["master_start"] += 1
        self.done["two_masters_at_once"] += len(self._masters.live) > 1
        return True

    async def region_outage(self) -> bool:
        """Every master of one region killed for a while (runs across regions only)."""
        if self.regions is None or not await self.regions.outage():
            return False
        self.done["region_outage"] += 1
        return True

    def storage_outage(self) -> bool:
        """S3, DynamoDB or both fail half or all of their calls for 1 to 4 seconds."""
        services = self._rng.choice(OUTAGE_SERVICES)
        seconds = round(self._rng.uniform(1.0, 4.0), 1)
        probability = self._rng.choice((0.5, 1.0))
        for service in services:
            self._gate.fail(service, seconds=seconds, probability=probability)
        self.done["storage_outage"] += 1
        log.info("chaos_storage_outage", services=services, s=seconds, p=probability)
        return True

    def capacity_outage(self) -> bool:
        """One pool (a zone or all, a type the workload allows, spot or both markets) has
        no capacity for 5 to 45 seconds: longer than the EC2 client's retries of the 500
        often enough for the product to see the error. Half are `all`: a launch that names
        no zone lands wherever EC2 has capacity, so only those stop it."""
        ec2 = self._gate.ec2
        assert ec2 is not None, "the local cloud's gate refuses EC2 launches"
        zone = self._rng.choice(("all", *self._zones)) if self._rng.random() < 0.5 else "all"
        instance_type = self._rng.choice(self._instance_types)
        market = self._rng.choice(("spot", None))
        seconds = round(self._rng.uniform(5.0, 45.0), 1)
        ec2.capacity(
            region=self._region,
            zone=zone,
            instance_type=instance_type,
            market=market,
            seconds=seconds,
        )
        self.done["capacity_outage"] += 1
        log.info("chaos_capacity_outage", zone=zone, type=instance_type, market=market, s=seconds)
        return True

    def quota_outage(self) -> bool:
        """Launches beyond a few live vCPUs per market are refused for 2 to 20 seconds."""
        ec2 = self._gate.ec2
        assert ec2 is not None, "the local cloud's gate refuses EC2 launches"
        vcpus = self._rng.choice(QUOTA_VCPUS)
        seconds = round(self._rng.uniform(2.0, 20.0), 1)
        ec2.quota(vcpus=vcpus, seconds=seconds)
        self.done["quota_outage"] += 1
        log.info("chaos_quota_outage", vcpus=vcpus, s=seconds)
        return True

    def injected_errors(self) -> Counter[str]:
        """Errors the gate answered, by service (storage) and by EC2 error code."""
        found = Counter({f"{k}_errors_injected": n for k, n in self._gate.failed.items()})
        if self._gate.ec2 is not None:
            found.update({f"{k}_injected": n for k, n in self._gate.ec2.failed.items()})
        return found

    async def replay_warnings(self) -> None:
        """Sometimes re-publish the spot warning of an instance noticed earlier (late, out of
        order, often for an attempt long gone), twice, each with a new event id."""
        if not self._noticed or self._rng.random() > 0.1:
            return
        instance_id = self._rng.choice(sorted(self._noticed))
        for _ in range(2):
            event = spot_warning(instance_id, self._region, utc_iso(self._clock.now()))
            event["id"] = str(uuid.UUID(int=self._rng.getrandbits(128)))
            await self._sns.publish(TopicArn=self._events_topic_arn, Message=json.dumps(event))
        self.done["warnings_replayed"] += 2

    async def echo_pings(self) -> None:
        """Peek at the ping queue (visibility 0: the master still gets every ping), and
        sometimes re-send a shuffled sample of recent pings: duplicates, out of order."""
        peeked = await self._sqs.receive_message(
            QueueUrl=self._queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0
        )
        self._recent.extend(m["Body"] for m in peeked.get("Messages", []) if "Body" in m)
        if not self._recent or self._rng.random() > 0.2:
            return
        sample = self._rng.sample(list(self._recent), min(len(self._recent), 5))
        entries = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(sample)]
        await self._sqs.send_message_batch(QueueUrl=self._queue_url, Entries=entries)  # type: ignore[arg-type]
        self.done["pings_replayed"] += len(sample)
