"""The user data of `cbas image build`: one shell script for cloud-init, made of a header
(what to install, `CBAS_INSTALL_ONLY=1`, whether to build DMTCP), `image.sh` (DMTCP when
asked; power off once everything installed) and the workers' own `boot.sh`, which installs
this version from its wheel in the bucket and, in install-only mode, stops right there."""

from __future__ import annotations

import shlex
from importlib.resources import files

from cbas_async import __version__
from cbas_async.aws import Clients
from cbas_async.errors import ConfigError
from cbas_async.settings import Settings
from cbas_async.wheels import latest_wheel_key


def image_script(settings: Settings, bucket: str, wheel_key: str, *, with_dmtcp: bool) -> str:
    values = {
        "CBAS_VERSION": __version__,
        "CBAS_BUCKET": bucket,
        "CBAS_WHEEL_KEY": wheel_key,
        "CBAS_REGION": settings.region,
        "CBAS_ENDPOINT_URL": settings.endpoint_url or "",
        "CBAS_INSTALL_ONLY": "1",
        "CBAS_WITH_DMTCP": "1" if with_dmtcp else "0",
    }
    header = "".join(f"{name}={shlex.quote(value)}\n" for name, value in values.items())
    scripts = files("cbas_async.fleet")
    image, boot = scripts.joinpath("image.sh").read_text(), scripts.joinpath("boot.sh").read_text()
    return f"#!/bin/sh\n{header}{image}{boot}"


async def image_user_data(
    clients: Clients, settings: Settings, bucket: str, *, with_dmtcp: bool
) -> str:
    """The script for this version; `ConfigError` when bootstrap uploaded no wheel of it."""
    key = await latest_wheel_key(clients.s3, bucket)
    if key is None:
        raise ConfigError(
            "CBAS_DEPLOYMENT",
            f"no wheel of cbas-async {__version__} in bucket {bucket}: run `cbas bootstrap`",
        )
    return image_script(settings, bucket, key, with_dmtcp=with_dmtcp)
