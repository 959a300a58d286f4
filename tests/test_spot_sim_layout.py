"""Production spot code and the simulator stay apart: the master, the worker, the local cloud,
the handlers, the fleet, the web face and `spot/` never load `cbas_async.sim`, directly or
through another module; only the `cbas` command line (for `cbas simulate`) and `sim/` itself
import it.

The import walk is tests/test_architecture.py's: every import counts, `TYPE_CHECKING` blocks
and function bodies included.
"""

from __future__ import annotations

import functools

import pytest

from tests.test_architecture import import_graph, in_group, reachable

SIM = "cbas_async.sim"
CLI = "cbas_async.cli"
graph_of_src = functools.cache(import_graph)  # walk src/ once for all the tests
PRODUCTION = (
    "cbas_async.master",
    "cbas_async.worker",
    "cbas_async.local",
    "cbas_async.handlers",
    "cbas_async.fleet",
    "cbas_async.web",
    "cbas_async.spot",
)


def sim_importers(graph: dict[str, set[str]]) -> set[str]:
    """The modules outside `sim/` that import a module of `sim/`."""
    return {
        module
        for module, targets in graph.items()
        if not in_group(module, SIM) and any(in_group(t, SIM) for t in targets)
    }


def sim_reached_from(graph: dict[str, set[str]], group: str) -> dict[str, list[str]]:
    """For each module of `group`, the `sim/` modules it loads, directly or not."""
    found: dict[str, list[str]] = {}
    for module in graph:
        if in_group(module, group):
            loaded = sorted(m for m in reachable(graph, module) if in_group(m, SIM))
            if loaded:
                found[module] = loaded
    return found


def test_only_the_command_line_imports_the_simulator() -> None:
    outside = {m for m in sim_importers(graph_of_src()) if not in_group(m, CLI)}
    assert not outside, f"modules outside sim/ and cli/ that import sim/: {sorted(outside)}"


def test_the_command_line_does_import_it() -> None:
    # otherwise the test above would pass on a walk that found nothing
    assert any(in_group(m, CLI) for m in sim_importers(graph_of_src()))


@pytest.mark.parametrize("group", PRODUCTION)
def test_production_code_never_loads_the_simulator(group: str) -> None:
    graph = graph_of_src()
    assert any(in_group(m, group) for m in graph), f"no module in {group}"
    assert sim_reached_from(graph, group) == {}


def test_a_module_that_loads_sim_through_another_is_found() -> None:
    graph = {
        "cbas_async.master.app": {"cbas_async.helper"},
        "cbas_async.helper": {"cbas_async.sim.step"},
        "cbas_async.sim.step": set(),
        "cbas_async.cli.daemons": {"cbas_async.sim.step"},
    }
    assert sim_importers(graph) == {"cbas_async.helper", "cbas_async.cli.daemons"}
    assert sim_reached_from(graph, "cbas_async.master") == {
        "cbas_async.master.app": ["cbas_async.sim.step"]
    }
