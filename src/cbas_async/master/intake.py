"""How the events topic's messages reach the master: the one `SnsIntake` that checks them,
the events queue's poller (always), and the SNS HTTP subscription of `/sns` (only when
`CBAS_PUBLIC_URL` is set). Both ways end in `master.http.dispatch`."""

from __future__ import annotations

import functools
from contextlib import AsyncExitStack

from cbas_async.aws import Clients
from cbas_async.bootstrap import Resources
from cbas_async.bus import Bus
from cbas_async.clock import Clock
from cbas_async.handlers.sweeper import subscription_key
from cbas_async.master.events_poller import EventsPoller
from cbas_async.master.http import dispatch
from cbas_async.master.server import Subscription
from cbas_async.settings import Settings
from cbas_async.sns import SnsVerifier
from cbas_async.sns_certs import CertificateCache, http_fetcher
from cbas_async.sns_intake import SnsIntake
from cbas_async.store import JobStore


def sns_verifier(settings: Settings, clients: Clients, clock: Clock) -> SnsVerifier:
    return SnsVerifier(
        certificates=CertificateCache(fetch=http_fetcher(clients.http), clock=clock),
        region=settings.region,
        enabled=settings.sns_verify,
        clock=clock,
    )


def sns_intake(
    settings: Settings, clients: Clients, resources: Resources, clock: Clock
) -> SnsIntake:
    """One check for both ways in, so a message that comes both ways (one MessageId) is
    handled once by this master."""
    return SnsIntake(
        verifier=sns_verifier(settings, clients, clock),
        topics=frozenset({resources.events_topic_arn}),
        max_bytes=settings.max_body_bytes,
    )


def events_poller(
    clients: Clients, resources: Resources, intake: SnsIntake, bus: Bus, clock: Clock
) -> EventsPoller:
    return EventsPoller(
        sqs=clients.sqs,
        queue_url=resources.events_queue_url,
        intake=intake,
        dispatch=functools.partial(dispatch, bus),
        clock=clock,
    )


async def subscribe_http(
    stack: AsyncExitStack,
    settings: Settings,
    clients: Clients,
    resources: Resources,
    store: JobStore,
) -> None:
    """With `CBAS_PUBLIC_URL`: SNS also POSTs the events topic to `<url>/sns` while this
    master runs (unsubscribed when `stack` closes)."""
    if settings.public_url is None:
        return
    endpoint = settings.public_url.rstrip("/") + "/sns"
    subscription = await stack.enter_async_context(
        Subscription(sns=clients.sns, topic_arn=resources.events_topic_arn, endpoint=endpoint)
    )
    if subscription.arn:  # so other masters can remove it if this one dies
        await store.misc_put(
            subscription_key(settings.master_id),
            {"owner": settings.master_id, "arn": subscription.arn},
        )
