"""Shared by the benchmark scripts: the pytest plugins a user of aksara does not have.

The benchmarks' virtualenv holds the dev and bench extras (pytest-django,
pytest-randomly, respx...). Their plugins load in every pytest run there and
add their own start-up and per-test fixtures, to our runs and the baselines
alike; a user who installs aksara-testing gets none of them. The benchmarks
block them with ``-p no:NAME``.

Example::

    args = [arg for name in foreign_plugins() for arg in ("-p", f"no:{name}")]
"""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, distribution, entry_points

__all__ = ["foreign_plugins"]


def _requirement_names(dist_name: str) -> set[str]:
    """Names of ``dist_name``'s unconditional requirements (markers with extras skipped)."""
    names = set()
    for requirement in distribution(dist_name).requires or ():
        if "extra ==" in requirement:
            continue
        match = re.match(r"[A-Za-z0-9._-]+", requirement)
        if match:
            names.add(_normal(match.group(0)))
    return names


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def our_dependency_tree() -> set[str]:
    seen: set[str] = set()
    todo = ["aksara-testing"]
    while todo:
        name = _normal(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        try:
            todo += sorted(_requirement_names(name))
        except PackageNotFoundError:
            continue
    return seen


def foreign_plugins() -> list[str]:
    """pytest11 entry points of distributions a user of aksara does not get with it."""
    tree = our_dependency_tree()
    names = []
    for point in entry_points(group="pytest11"):
        dist = point.dist.name if point.dist is not None else ""
        if _normal(dist) not in tree:
            names.append(point.name)
    return sorted(set(names))
