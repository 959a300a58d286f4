"""Where programs are found on an instance: the standard PATH of a Linux host, and the
DMTCP tools (`CBAS_DMTCP_BIN` first, then that PATH; never the PATH of whoever started
the worker)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

# what an instance's services see, whatever the environment the local cloud was started with
HOST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def search_path(dmtcp_bin: Path | None) -> str:
    """Where a worker looks for the DMTCP tools: `dmtcp_bin`, then the host's PATH."""
    return HOST_PATH if dmtcp_bin is None else f"{dmtcp_bin.absolute()}:{HOST_PATH}"


def installed_bin(path: str | None) -> Path | None:
    """The folder holding `dmtcp_launch`: on `path`, else the copy `make dmtcp` unpacks
    into this Python's virtual environment (`<venv>/dmtcp/bin`); None if neither has it.
    For whoever starts workers (tests, benchmarks, `cbas local`), never for the worker."""
    found = shutil.which("dmtcp_launch", path=path)
    return Path(found).absolute().parent if found is not None else unpacked_bin()


def unpacked_bin() -> Path | None:
    """`<venv>/dmtcp/bin`, where `make dmtcp` unpacks DMTCP, if it is there."""
    unpacked = Path(sys.prefix) / "dmtcp" / "bin"
    return unpacked if (unpacked / "dmtcp_launch").is_file() else None
