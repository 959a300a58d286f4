"""A short-lived connection to a deployment for the CLI (clients, resources, store, sandbox),
and `make_store`, the job store on a deployment's tables."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp
from aiodynamo.errors import NoCredentialsFound
from aiodynamo.models import RetryTimeout
from botocore.exceptions import ClientError, EndpointConnectionError
from botocore.parsers import ResponseParserError

from cbas_async.aws import Clients, open_clients
from cbas_async.bootstrap import Resources, resolve
from cbas_async.errors import CloudUnreachable, ConfigError
from cbas_async.records import JobRecord
from cbas_async.sandbox import Sandbox
from cbas_async.settings import Settings
from cbas_async.store import JobStore


@dataclass(frozen=True, slots=True)
class Session:
    """What a command needs to talk to one deployment."""

    settings: Settings
    clients: Clients
    resources: Resources
    store: JobStore
    sandbox: Sandbox


def make_store(
    clients: Clients,
    resources: Resources,
    on_transition: Callable[[JobRecord], None] | None = None,
) -> JobStore:
    return JobStore(
        dynamo=clients.dynamo,
        jobs_table=resources.jobs_table,
        events_table=resources.events_table,
        misc_table=resources.misc_table,
        tokens_table=resources.tokens_table,
        on_transition=on_transition,
    )


@asynccontextmanager
async def open_session(settings: Settings) -> AsyncIterator[Session]:
    """Connect; `CloudUnreachable` names the endpoint when nothing answers there."""
    endpoint = settings.endpoint_url or f"AWS ({settings.region})"
    async with open_clients(settings) as clients:
        try:
            resources = await resolve(clients, settings)
        except (
            aiohttp.ClientConnectionError,
            EndpointConnectionError,
            OSError,
            RetryTimeout,
        ) as exc:
            raise CloudUnreachable(endpoint, str(exc) or type(exc).__name__) from exc
        except NoCredentialsFound as exc:
            raise ConfigError("AWS_ACCESS_KEY_ID", "no AWS credentials found") from exc
        except LookupError as exc:
            raise ConfigError("CBAS_DEPLOYMENT", f"{exc}; run `cbas bootstrap` first") from exc
        except (ClientError, ResponseParserError) as exc:
            raise CloudUnreachable(endpoint, str(exc)) from exc
        store = make_store(clients, resources)
        sandbox = Sandbox(s3=clients.s3, bucket=resources.files_bucket)
        yield Session(settings, clients, resources, store, sandbox)
