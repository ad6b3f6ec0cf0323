"""The docs cannot drift from the code: every setting and CLI option is documented."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from aksara_cli._app import test_command as aksara_test_command
from aksara_cli._run import validate_sharding
from aksara_testing._settings import SETTINGS

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_every_setting_is_documented_with_its_env_var() -> None:
    text = (DOCS / "configuration.md").read_text()
    for setting in SETTINGS:
        assert f"| `{setting.key}` |" in text, setting.key
        if setting.env_var:
            assert f"`{setting.env_var}`" in text, setting.env_var


def test_every_aksara_test_option_is_documented() -> None:
    text = (DOCS / "cli.md").read_text()
    for param in aksara_test_command.params:
        for flag in getattr(param, "opts", []):
            if flag.startswith("--"):
                assert flag in text, flag


PARALLEL_SOURCES = [DOCS / "parallel.md", DOCS.parent / "examples" / "ci" / "github-actions.yml"]


def test_the_parallel_page_is_linked_from_the_index() -> None:
    assert "(parallel.md)" in (DOCS / "index.md").read_text()


@pytest.mark.parametrize("source", PARALLEL_SOURCES, ids=lambda path: path.name)
def test_every_aksara_test_command_shown_for_parallel_runs_is_accepted(source: Path) -> None:
    text = source.read_text().replace("${{ matrix.group }}", "1")
    found = re.findall(r"aksara test(?!_)([^`\n#]*)", text)  # not "aksara test_app pid ..."
    commands = [shlex.split(args) for args in found]
    assert len(commands) >= 2
    for args in commands:
        context = aksara_test_command.make_context("test", list(args))
        params = context.params
        assert validate_sharding(params["numprocesses"], params["splits"], params["group"]) is None
