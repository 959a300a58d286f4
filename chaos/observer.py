"""Watches the run while it happens: live instances per job (from the hypervisor) and
checkpoint pointers (from the store), for the invariants that history cannot show."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field

from cbas_async.clock import Clock
from cbas_async.local.hypervisor import Hypervisor
from cbas_async.states import JobState
from cbas_async.store import JobStore

ALL_STATES = list(JobState)


@dataclass
class Observations:
    """What the observer saw: longest overlap of live instances per job, pointer moves."""

    overlap_s: dict[str, float] = field(default_factory=dict)
    instance_samples: int = 0
    pointer_samples: int = 0
    pointer_violations: list[str] = field(default_factory=list)


class Observer:
    """Samples instances every `instance_poll_s` and pointers every `pointer_poll_s`."""

    def __init__(
        self,
        *,
        hypervisor: Hypervisor,
        store: JobStore,
        clock: Clock,
        instance_poll_s: float = 0.1,
        pointer_poll_s: float = 1.0,
    ) -> None:
        self._hypervisor = hypervisor
        self._store = store
        self._clock = clock
        self._instance_poll_s = instance_poll_s
        self._pointer_poll_s = pointer_poll_s
        self._overlap_since: dict[str, float] = {}
        self._pointer_attempt: dict[str, int] = {}
        self.seen = Observations()

    async def run(self, stopping: asyncio.Event) -> None:
        next_pointers = 0.0
        while not stopping.is_set():
            self.sample_instances()
            if self._clock.monotonic() >= next_pointers:
                await self.sample_pointers()
                next_pointers = self._clock.monotonic() + self._pointer_poll_s
            await self._clock.sleep(self._instance_poll_s)

    def sample_instances(self) -> None:
        now = self._clock.monotonic()
        live = Counter(
            w.job_id for w in self._hypervisor.instances.values() if w.process.returncode is None
        )
        for job_id in [j for j in self._overlap_since if live[j] < 2]:
            del self._overlap_since[job_id]
        for job_id, count in live.items():
            if count > 1:
                since = self._overlap_since.setdefault(job_id, now)
                longest = self.seen.overlap_s.get(job_id, 0.0)
                self.seen.overlap_s[job_id] = max(longest, now - since)
        self.seen.instance_samples += 1

    async def sample_pointers(self) -> None:
        """Pointer attempts never go down, and never run ahead of the job's attempt."""
        for job in await self._store.all_in_states(ALL_STATES):
            if job.checkpoint is None:
                continue
            pointer = job.checkpoint.attempt
            if pointer > job.attempt:
                self.seen.pointer_violations.append(
                    f"{job.job_id}: pointer attempt {pointer} > job attempt {job.attempt}"
                )
            before = self._pointer_attempt.get(job.job_id, 0)
            if pointer < before:
                self.seen.pointer_violations.append(
                    f"{job.job_id}: pointer attempt went back from {before} to {pointer}"
                )
            self._pointer_attempt[job.job_id] = max(before, pointer)
            self.seen.pointer_samples += 1
