"""The suite's guard against CPython's AST depth bug (see ``tests/conftest.py``).

A collection during ``ast.parse`` whose finalizer parses too breaks the outer parse on
CPython 3.11.0-3.11.7 and 3.12.0-3.12.1; the suite's ``ast.parse`` pauses the collector.
"""

from __future__ import annotations

import ast
import gc
from collections.abc import Callable

import pytest
from conftest import AST_DEPTH_BUG, UNPATCHED_AST_PARSE

SOURCE = "\n".join(f"x{i} = [{i}, ({i}, {i})]" for i in range(3000))


class ParsesWhenCollected:
    """Garbage in a reference cycle whose finalizer parses, as a traceback formatter does."""

    def __init__(self) -> None:
        self.cycle = self

    def __del__(self) -> None:
        ast.parse("a = b + c")


def parse_with_garbage_waiting(parse: Callable[[str], ast.AST]) -> ast.AST:
    """Parse with cyclic garbage waiting in the youngest generation, collected mid-parse.

    After a full collection the youngest generation is empty; the 50 objects stay well
    under the threshold until the parse builds its thousands of nodes, so the one
    collection falls inside the AST constructor.
    """
    gc.collect()
    threshold = gc.get_threshold()
    gc.set_threshold(1000)
    try:
        for _ in range(50):
            ParsesWhenCollected()
        return parse(SOURCE)
    finally:
        gc.set_threshold(*threshold)
        gc.collect()


def test_a_parse_survives_a_collection_whose_finalizers_parse() -> None:
    tree = parse_with_garbage_waiting(ast.parse)

    assert isinstance(tree, ast.Module)
    assert len(tree.body) == 3000
    assert gc.isenabled()


def test_the_parse_leaves_a_paused_collector_paused() -> None:
    gc.disable()
    try:
        ast.parse("a = 1")
        assert not gc.isenabled()
    finally:
        gc.enable()


@pytest.mark.skipif(not AST_DEPTH_BUG, reason="this Python's AST constructor has no shared depth")
def test_without_the_guard_this_python_fails_that_parse() -> None:
    with pytest.raises(SystemError, match="AST constructor recursion depth mismatch"):
        parse_with_garbage_waiting(UNPATCHED_AST_PARSE)
