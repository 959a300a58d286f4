"""`$CBAS_HOME/local.env`: how a second shell finds the running local cloud."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

FILE_NAME = "local.env"


def home(environ: Mapping[str, str]) -> Path:
    return Path(environ.get("CBAS_HOME") or Path.home() / ".cbas")


def write(path: Path, values: Mapping[str, str]) -> None:
    """Write atomically, readable only by the user (it holds the API token)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    lines = [f"{key}={value}\n" for key, value in sorted(values.items())]
    partial.write_text("".join(lines))
    os.chmod(partial, 0o600)
    partial.replace(path)


def read(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() and not key.lstrip().startswith("#"):
            values[key.strip()] = value.strip()
    return values


def effective(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment, completed from local.env when it names no endpoint of its own."""
    merged = dict(environ)
    if "CBAS_ENDPOINT_URL" not in environ:
        for key, value in read(home(environ) / FILE_NAME).items():
            merged.setdefault(key, value)
    return merged
