"""Starting `cbas` stays light: the parser every process builds does not load numpy.

Each check runs in a fresh interpreter, as `sys.modules` of the test process already holds
whatever other tests imported.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

_HEAVY = {"numpy", "matplotlib"}
_HELP = """
import contextlib, io, sys
from cbas_async.cli import main
with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.suppress(SystemExit):
    main({argv!r})
assert "usage: cbas" in out.getvalue(), out.getvalue()
"""


def _heavy_after(code: str) -> list[str]:
    """The heavy modules loaded by running `code` in a new interpreter."""
    report = f"import json, sys\nprint(json.dumps(sorted({sorted(_HEAVY)!r} & sys.modules.keys())))"
    probe = f"{code}\n{report}"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    heavy: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return heavy


@pytest.mark.parametrize(
    "code",
    [
        "import cbas_async.cli",
        "import cbas_async.spot, cbas_async.sim, cbas_async.sim.options",
        _HELP.format(argv=["--help"]),
        _HELP.format(argv=["simulate", "--help"]),
    ],
    ids=["import-cli", "import-packages", "cbas-help", "cbas-simulate-help"],
)
def test_starting_cbas_does_not_load_numpy(code: str) -> None:
    assert _heavy_after(code) == []


def test_the_probe_sees_numpy_when_it_is_loaded() -> None:
    assert _heavy_after("import cbas_async.sim.simulator") == ["numpy"]
