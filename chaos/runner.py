"""One chaos run: the local cloud, masters, the workload and its faults, then the
invariants. `run_chaos` is what `python -m chaos` and the test call."""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from cbas_async.aws import open_region_clients
from cbas_async.clock import SystemClock
from cbas_async.deployment import Session, open_session
from cbas_async.fleet.tags import tag_value
from cbas_async.local.cloud import open_local_cloud
from cbas_async.records import JobRecord
from cbas_async.settings import Settings
from cbas_async.states import JobState
from chaos import invariants
from chaos.driver import Driver
from chaos.faults import BUDGETED, FaultInjector, FaultSchedule
from chaos.masters import Masters
from chaos.observer import Observations, Observer
from chaos.region_faults import RegionMasters
from chaos.workload import JobPlan, plan_workload, write_specs

OBSERVER_KEY = "chaos-observer"


@dataclass(frozen=True, kw_only=True)
class ChaosOptions:
    jobs: int
    worker_kills: int
    master_kills: int
    interruptions: int
    seed: int
    home: Path
    storage_outages: int = 12
    capacity_outages: int = 0
    quota_outages: int = 0
    regions: tuple[str, ...] = ()  # several: a deployment across them, a master in each
    region_outages: int = 0  # every master of one region killed for a while
    concurrency: int = 10
    timeout_s: float | None = None  # default: scales with the number of jobs

    @property
    def budgets(self) -> dict[str, int]:
        counts = (
            self.worker_kills,
            self.interruptions,
            self.master_kills,
            self.storage_outages,
            self.capacity_outages,
            self.quota_outages,
            self.region_outages,
        )
        return dict(zip(BUDGETED, counts, strict=True))

    @property
    def command(self) -> str:
        return (
            f"python -m chaos --jobs {self.jobs} --worker-kills {self.worker_kills} "
            f"--master-kills {self.master_kills} --interruptions {self.interruptions} "
            f"--storage-outages {self.storage_outages} --capacity-outages "
            f"{self.capacity_outages} --quota-outages {self.quota_outages} --seed {self.seed}"
            + (
                f" --regions {','.join(self.regions)} --region-outages {self.region_outages}"
                if self.regions
                else ""
            )
        )


@dataclass
class ChaosReport:
    options: ChaosOptions
    verdicts: list[invariants.Verdict]
    faults: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        return all(v.holds for v in self.verdicts)

    def render(self) -> str:
        planned = self.options.budgets
        rows = [
            (k, str(planned.get(k, "-")), str(self.faults[k]))
            for k in sorted({*planned, *self.faults})
        ]
        lines = [
            f"chaos: {self.options.command}  ({self.elapsed_s:.0f} s)",
            "workload: " + ", ".join(f"{n} {k}" for k, n in sorted(self.kinds.items())),
            "",
            invariants.table(rows, ("fault", "planned", "injected")),
            "",
            invariants.verdict_table(self.verdicts),
        ]
        for verdict in self.verdicts:
            lines += [f"  {verdict.name}: {v}" for v in verdict.violations[:20]]
        return "\n".join(lines)


def chaos_settings(home: Path, regions: tuple[str, ...] = ()) -> Settings:
    """Short timeouts so kills are noticed in seconds (as in the end-to-end tests)."""
    return Settings(
        regions=regions,
        region=regions[0] if regions else "us-east-1",
        deployment="chaos",
        home=home,
        heartbeat_interval_s=0.5,
        lost_worker_timeout_s=6.0,
        launch_timeout_s=30.0,  # a worker killed while booting is re-queued after this
        lease_ttl_s=4.0,
        supervise_interval_s=0.3,
        shutdown_grace_s=5.0,
        speed=24.0,  # a 5 s spot notice
    )


def observer_settings(settings: Settings) -> Settings:
    """The harness's own session: signed with a key the fault gate lets through."""
    return settings.replace(aws_access_key_id=OBSERVER_KEY, aws_secret_access_key=OBSERVER_KEY)


async def run_chaos(options: ChaosOptions) -> ChaosReport:
    clock = SystemClock()
    started = clock.monotonic()
    rng = random.Random(options.seed)
    plans = plan_workload(rng, options.jobs)
    specs = write_specs(plans, options.home / "specs")
    schedule = FaultSchedule.draw(rng, options.budgets)
    timeout_s = options.timeout_s or 120.0 + 4.0 * options.jobs
    exempt = frozenset({OBSERVER_KEY})  # the harness's own calls never fail
    async with (
        open_local_cloud(
            chaos_settings(options.home, options.regions),
            clock=clock,
            fault_exempt_keys=exempt,
        ) as cloud,
        open_session(observer_settings(cloud.settings)) as session,
    ):
        # moto's tracebacks when it delivers SNS to a master killed with -9 are expected
        logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
        masters = Masters(cloud.env, options.home)
        regions = (
            RegionMasters(masters=masters, regions=options.regions, rng=rng, clock=clock)
            if len(options.regions) > 1
            else None
        )
        injector = FaultInjector(
            rng=rng,
            hypervisor=cloud.hypervisor,
            interrupter=cloud.interrupter,
            masters=masters,
            gate=cloud.faults,
            sqs=session.clients.sqs,
            queue_url=session.resources.ping_queue_url,
            sns=session.clients.sns,
            events_topic_arn=session.resources.events_topic_arn,
            region=cloud.settings.region,
            clock=clock,
            zones=await _zones(session),
            instance_types=_instance_types(plans),
            regions=regions,
        )
        observer = Observer(hypervisor=cloud.hypervisor, store=session.store, clock=clock)
        driver = Driver(
            session=session,
            plans=plans,
            specs=specs,
            schedule=schedule,
            injector=injector,
            clock=clock,
            concurrency=options.concurrency,
            master_gap_s=2 * cloud.settings.lease_ttl_s,
        )
        stopping = asyncio.Event()
        async with asyncio.TaskGroup() as tg:
            for part in (*cloud.parts, observer):
                tg.create_task(part.run(stopping))
            try:
                await (regions.start_all() if regions is not None else masters.start())
                await driver.run(timeout_s)
            finally:
                await masters.stop_all()
                stopping.set()
        allowance_s = cloud.settings.lease_ttl_s + cloud.settings.scaled_notice_s
        verdicts = await check(session, driver.submitted, observer.seen, allowance_s)
        used = await regions_used(session, list(driver.submitted)) if regions else Counter()
    kinds = Counter(plan.kind for plan in plans)
    faults = injector.done + injector.injected_errors() + used
    return ChaosReport(options, verdicts, faults, kinds, clock.monotonic() - started)


async def check(
    session: Session, plans: dict[str, JobPlan], seen: Observations, allowance_s: float
) -> list[invariants.Verdict]:
    jobs = {job_id: await session.store.get(job_id) for job_id in plans}
    events = {job_id: await session.store.events(job_id) for job_id in plans}
    outputs = {job_id: await _output(session, job, plans[job_id]) for job_id, job in jobs.items()}
    launched = await _launched_attempts(session)
    return [
        invariants.terminal_once(jobs, events),
        invariants.expected_outcomes(jobs, plans),
        invariants.outputs_correct(jobs, plans, outputs),
        invariants.single_instance(seen, allowance_s),
        invariants.legal_histories(jobs, events),
        invariants.fenced_pointers(jobs, seen),
        invariants.attempts_launched(events, launched),
    ]


async def _launched_attempts(session: Session) -> dict[str, set[int]]:
    """The attempts of each job EC2 has (or had: terminated) an instance for, by its tags,
    in every region of the deployment."""
    launched: dict[str, set[int]] = {}
    async with open_region_clients(session.settings) as regions:
        for clients in regions.values():
            pages = clients.ec2.get_paginator("describe_instances").paginate(
                Filters=[{"Name": "tag:cbas:deployment", "Values": [session.settings.deployment]}]
            )
            async for page in pages:
                for reservation in page.get("Reservations", []):
                    for instance in reservation.get("Instances", []):
                        job_id = tag_value(dict(instance), "cbas:job_id")
                        attempt = tag_value(dict(instance), "cbas:attempt")
                        if job_id and attempt:
                            launched.setdefault(job_id, set()).add(int(attempt))
    return launched


async def regions_used(session: Session, job_ids: list[str]) -> Counter[str]:
    """Launches by region, and how many jobs launched in more than one region."""
    used: Counter[str] = Counter()
    for job_id in job_ids:
        placed = [
            e.placement.region
            for e in await session.store.events(job_id)
            if e.to_state is JobState.LAUNCHING and e.placement is not None
        ]
        used.update(f"launches_in_{region}" for region in placed)
        used["jobs_in_two_regions"] += len(set(placed)) > 1
    return used


async def _zones(session: Session) -> tuple[str, ...]:
    found = await session.clients.ec2.describe_availability_zones()
    return tuple(z["ZoneName"] for z in found["AvailabilityZones"] if "ZoneName" in z)


def _instance_types(plans: list[JobPlan]) -> tuple[str, ...]:
    """The instance types the workload's specs allow, where capacity outages bite."""
    types = {t for p in plans for t in p.spec.get("resources", {}).get("instance_types", [])}
    return tuple(sorted(types)) or ("c5.large",)


async def _output(session: Session, job: JobRecord, plan: JobPlan) -> str | None:
    if plan.output is None or job.state.value != "SUCCEEDED":
        return None
    key = session.sandbox.key(job.job_id, "output", plan.output[0])
    try:
        return (await session.sandbox.read(key)).decode()
    except Exception:  # a missing output is a violation, reported by the check
        return None
