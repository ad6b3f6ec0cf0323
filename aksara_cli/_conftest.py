"""The ``conftest.py`` that ``aksara init`` writes, in the folder pytest collects tests from.

The folder follows pytest's ``testpaths`` (see :mod:`._testpaths`). An
existing ``conftest.py`` is never changed: what it lacks is printed instead.
An app built by a factory that takes arguments gets an ``app`` fixture the
user completes; one that takes none is named in the ``app`` setting instead.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

from ._scan import Found
from ._testpaths import read_layout

__all__ = ["conftest_path", "write_conftest"]

_PLAIN = '''\
"""Fixtures shared by the tests.

aksara-testing already provides db_session, client, app and test_settings
(see `pytest --fixtures`); add the project's own fixtures here.
"""
'''

_FACTORY = '''\
"""Fixtures shared by the tests.

aksara-testing already provides db_session, client and test_settings (see
`pytest --fixtures`); the app comes from the project's factory below.
"""

import pytest


@pytest.fixture(scope="session")
def app():
    """The app under test, built once by {module}:{name}.

    {name}() needs arguments aksara init cannot know ({params}): replace the
    pytest.fail line by, for example,

        from {module} import {name}

        return {name}(...)
    """
    pytest.fail(
        "the app fixture in {conftest} must build the app: "
        "call {name}({params}) there with the values the tests need",
        pytrace=False,
    )
'''


def conftest_path(root: Path) -> tuple[str, str]:
    """Where ``conftest.py`` goes (relative to ``root``) and why there."""
    layout = read_layout(root)
    relative = "conftest.py" if layout.folder == "." else f"{layout.folder}/conftest.py"
    return relative, layout.reason


def write_conftest(
    root: Path, path: tuple[str, str], factory: Found | None, echo: Callable[[str], None]
) -> None:
    """Write ``conftest.py`` at ``path`` (from :func:`conftest_path`) unless one is there.

    ``factory`` is an app factory that needs arguments: the file gets an
    ``app`` fixture to complete, which fails with a one-line reason until then.
    """
    relative, reason = path
    conftest = root / relative
    if conftest.exists():
        echo(f"{relative} exists: left as it is")
        if factory is not None and not _defines_app_fixture(conftest):
            module, _, name = factory.target.partition(":")
            echo(f"  add an app fixture to it that returns {name}(...) from {module}")
        return
    conftest.parent.mkdir(parents=True, exist_ok=True)
    if factory is None:
        conftest.write_text(_PLAIN)
    else:
        module, _, name = factory.target.partition(":")
        params = ", ".join(factory.params)
        conftest.write_text(
            _FACTORY.format(module=module, name=name, params=params, conftest=relative)
        )
    echo(f"wrote {relative} ({reason})")


def _defines_app_fixture(conftest: Path) -> bool:
    try:
        tree = ast.parse(conftest.read_bytes())
    except SyntaxError:
        return False
    return any(
        isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == "app"
        for node in tree.body
    )
