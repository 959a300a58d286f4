"""Where the tests find DMTCP: installed on the PATH, or unpacked by `make dmtcp` into
`.venv/dmtcp`. Workers get the folder as CBAS_DMTCP_BIN; without either, the DMTCP tests
skip with `NO_DMTCP`."""

from __future__ import annotations

import os

from cbas_async.hostpath import installed_bin

DMTCP_BIN = installed_bin(os.environ.get("PATH"))
HAVE_DMTCP = DMTCP_BIN is not None
NO_DMTCP = (
    "dmtcp_launch is not installed on this host and no copy is unpacked in .venv/dmtcp"
    " (`make dmtcp` unpacks ../shared/tools/dmtcp/*.tar.xz)"
)


def put_on_path() -> None:
    """Make DMTCP callable by name in this process and the processes it starts directly
    (workers are not among them: they get CBAS_DMTCP_BIN)."""
    if DMTCP_BIN is None:
        return
    parts = os.environ.get("PATH", os.defpath).split(os.pathsep)
    if str(DMTCP_BIN) not in parts:
        os.environ["PATH"] = os.pathsep.join([str(DMTCP_BIN), *parts])
