"""The master's Prometheus collectors, in a registry of their own (one per master app).

Counters move where the master already acts (store transitions, bus events); gauges are
refreshed from DynamoDB, the bus and the heartbeat tracker when `/metrics` is scraped.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from cbas_async.bus import Bus
from cbas_async.clock import Clock
from cbas_async.events import Event, InterruptionWarned
from cbas_async.fleet.tracker import HeartbeatTracker
from cbas_async.records import JobRecord
from cbas_async.states import JobState
from cbas_async.store import JobStore

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    """Collectors for jobs, transitions, interruptions, bus, heartbeats, checkpoints, spend."""

    def __init__(self, *, refresh_every_s: float = 5.0) -> None:
        self.registry = r = CollectorRegistry()
        self.jobs = Gauge("cbas_jobs", "Jobs by state", ["state"], registry=r)
        self.transitions = Counter(
            "cbas_job_transitions", "Transitions written by this process", ["to_state"], registry=r
        )
        self.interruption_warnings = Counter(
            "cbas_interruption_warnings", "Spot interruption warnings received", registry=r
        )
        self.queue_depth = Gauge(
            "cbas_bus_queue_depth", "Events waiting per bus subscriber", ["subscriber"], registry=r
        )
        self.heartbeat_lag = Gauge(
            "cbas_heartbeat_lag_seconds", "Longest silence of a running attempt", registry=r
        )
        self.checkpoint_bytes = Gauge(
            "cbas_checkpoint_bytes", "Total size of the latest checkpoints of live jobs", registry=r
        )
        self.checkpoint_seconds = Gauge(
            "cbas_checkpoint_duration_seconds",
            "Longest time the latest checkpoint of a live job took to become durable",
            registry=r,
        )
        self.spend = Gauge("cbas_spend_usd", "Recorded cost of all jobs", ["kind"], registry=r)
        self._refresh_every_s = refresh_every_s
        self._refreshed_at: float | None = None

    def transitioned(self, job: JobRecord) -> None:
        """The store's observer: called after each transition it wrote."""
        self.transitions.labels(job.state.value).inc()

    kinds = (InterruptionWarned,)  # the bus events `on_event` counts

    async def on_event(self, event: Event) -> None:
        """A bus subscriber: counts the events worth counting."""
        if isinstance(event, InterruptionWarned):
            self.interruption_warnings.inc()

    async def refresh(
        self, *, store: JobStore, bus: Bus, tracker: HeartbeatTracker, clock: Clock
    ) -> None:
        """Recompute the gauges, at most once per `refresh_every_s` (DynamoDB is scanned)."""
        for name, depth in bus.depths().items():
            self.queue_depth.labels(name).set(depth)
        now = clock.monotonic()
        if self._refreshed_at is not None and now - self._refreshed_at < self._refresh_every_s:
            return
        self._refreshed_at = now
        jobs = await store.all_in_states(list(JobState))
        for state in JobState:
            self.jobs.labels(state.value).set(sum(j.state is state for j in jobs))
        running = [j for j in jobs if j.state is JobState.RUNNING]
        lags = [tracker.silent_for(j.job_id, j.attempt, now) for j in running]
        self.heartbeat_lag.set(max(lags, default=0.0))
        live = [j for j in jobs if not j.state.terminal and j.checkpoint is not None]
        self.checkpoint_bytes.set(sum(j.checkpoint.size_bytes for j in live if j.checkpoint))
        took = [_duration_s(j.checkpoint.extra) for j in live if j.checkpoint]
        self.checkpoint_seconds.set(max(took, default=0.0))
        self.spend.labels("spot").set(sum(j.cost.spot_usd for j in jobs))
        self.spend.labels("ondemand_equivalent").set(sum(j.cost.ondemand_usd for j in jobs))

    def render(self) -> bytes:
        return generate_latest(self.registry)


def _duration_s(extra: dict[str, str]) -> float:
    """The measured checkpoint time the worker records in the pointer (0 when absent)."""
    try:
        return float(extra.get("duration_s", 0.0))
    except ValueError:
        return 0.0
