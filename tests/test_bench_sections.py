"""`python -m benchmarks --only dmtcp` rewrites one section of docs/BENCHMARKS.md in place."""

from __future__ import annotations

from benchmarks.__main__ import replace_section

DOC = "# Benchmarks\n\n## A\n\nold a\n\n## B\n\nold b\n"


def test_a_section_is_replaced_up_to_the_next_heading() -> None:
    assert replace_section(DOC, "## A", "## A\n\nnew a\n") == (
        "# Benchmarks\n\n## A\n\nnew a\n\n## B\n\nold b\n"
    )


def test_the_last_section_is_replaced_to_the_end() -> None:
    assert replace_section(DOC, "## B", "## B\n\nnew b\n") == (
        "# Benchmarks\n\n## A\n\nold a\n\n## B\n\nnew b\n\n"
    )


def test_a_missing_section_is_appended() -> None:
    assert replace_section(DOC, "## C", "## C\n\nc\n").endswith("old b\n\n## C\n\nc\n")
