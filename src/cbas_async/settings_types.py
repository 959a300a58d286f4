"""The value types of `Settings` fields, with their checks: pydantic annotations that turn an
environment variable's text into a checked value (or a ValueError naming what is wrong)."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field
from pydantic_settings import NoDecode

from cbas_async.clock import parse_utc

_DEPLOYMENT = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]+$")


def blank_is_none(value: object) -> object:
    """An empty (or blank) variable means "not set" for the optional settings."""
    return (value.strip() or None) if isinstance(value, str) else value


def _optional_time(value: object) -> object:
    value = blank_is_none(value)
    return parse_utc(value) if isinstance(value, str) else value


def _region_list(value: object) -> object:
    """`CBAS_REGIONS`: comma-separated names, blanks dropped; empty means "just CBAS_REGION"."""
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


def _regions(value: tuple[str, ...]) -> tuple[str, ...]:
    for name in value:
        if not _REGION.match(name):
            raise ValueError(f"{name!r} is not a region name")
    if len(set(value)) != len(value):
        raise ValueError("names a region twice")
    return value


def deployment_name(value: str) -> str:
    if not _DEPLOYMENT.match(value):
        raise ValueError("must be 1-20 of a-z, 0-9 and '-', starting with a letter")
    return value


Seconds = Annotated[float, Field(gt=0)]
Rate = Annotated[float, Field(gt=0)]
Usd = Annotated[float, Field(ge=0)]
Count = Annotated[int, Field(ge=1)]
Port = Annotated[int, Field(ge=0, le=65535)]
OptionalText = Annotated[str | None, BeforeValidator(blank_is_none)]
OptionalPath = Annotated[Path | None, BeforeValidator(blank_is_none)]
OptionalTime = Annotated[datetime | None, BeforeValidator(_optional_time)]
OptionalCount = Annotated[Count | None, BeforeValidator(blank_is_none)]
Regions = Annotated[
    tuple[str, ...], NoDecode, BeforeValidator(_region_list), AfterValidator(_regions)
]
Deployment = Annotated[str, AfterValidator(deployment_name)]
