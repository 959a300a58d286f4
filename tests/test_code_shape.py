"""The house style's sizes, measured with `ast` over src/: every module at most 300 lines, the
median function at most 10 lines and the 90th percentile at most 30.

A function's length runs from its `def` line to its last line (decorators not counted); a
nested function is measured on its own as well as inside the one that holds it.
"""

from __future__ import annotations

import ast
import math
import statistics
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
MAX_MODULE_LINES = 300
MAX_MEDIAN_FUNCTION_LINES = 10
MAX_P90_FUNCTION_LINES = 30


def sources() -> dict[str, str]:
    """Every module of src/ by its path relative to src/ (`cbas_async/jdl/parser.py`)."""
    return {p.relative_to(SRC).as_posix(): p.read_text() for p in sorted(SRC.rglob("*.py"))}


def function_lengths(source: str) -> list[int]:
    """The length in lines of every function and method in `source`, nested ones included."""
    lengths: list[int] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            assert node.end_lineno is not None
            lengths.append(node.end_lineno - node.lineno + 1)
    return lengths


def percentile(values: list[int], share: float) -> int:
    """The nearest-rank percentile: the smallest value that `share` of `values` do not exceed."""
    ordered = sorted(values)
    return ordered[max(math.ceil(share * len(ordered)), 1) - 1]


def all_function_lengths() -> list[int]:
    return [n for source in sources().values() for n in function_lengths(source)]


def test_modules_stay_under_the_line_limit() -> None:
    sizes = {path: len(text.splitlines()) for path, text in sources().items()}
    print(f"largest module: {max(sizes.values())} lines")
    long = {p: n for p, n in sizes.items() if n > MAX_MODULE_LINES}
    assert not long, f"modules over {MAX_MODULE_LINES} lines: {long}"


def test_functions_are_short() -> None:
    lengths = all_function_lengths()
    median, p90 = statistics.median(lengths), percentile(lengths, 0.9)
    print(f"{len(lengths)} functions: median {median} lines, p90 {p90} lines")
    assert median <= MAX_MEDIAN_FUNCTION_LINES
    assert p90 <= MAX_P90_FUNCTION_LINES


def test_a_function_is_measured_from_def_to_its_last_line() -> None:
    source = (
        "import functools\n"
        "@functools.cache\n"
        "def outer() -> int:\n"
        "    def inner() -> int:\n"
        "        return 1\n"
        "\n"
        "    return inner()\n"
        "class Thing:\n"
        "    async def method(self) -> None: ...\n"
    )
    assert sorted(function_lengths(source)) == [1, 2, 5]


def test_the_percentile_is_a_nearest_rank() -> None:
    values = list(range(1, 11))
    assert percentile(values, 0.9) == 9
    assert percentile(values, 0.5) == 5
    assert percentile([7], 0.9) == 7
    assert percentile([1, 100], 0.9) == 100
