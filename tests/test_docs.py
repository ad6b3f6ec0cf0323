"""The docs cannot drift from the code: every setting, option and public name is documented."""

from __future__ import annotations

import ast
import importlib.util
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import aksara_testing
from aksara_cli._app import test_command as aksara_test_command
from aksara_cli._run import validate_sharding
from aksara_testing._settings import SETTINGS

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _hooks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_hooks", DOCS / "hooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rendered(page: str) -> str:
    """The page as mkdocs renders it, generated parts included."""
    text: str = _hooks().render((DOCS / page).read_text())
    return text


def test_every_setting_is_documented_with_its_env_var_and_flag() -> None:
    text = _rendered("configuration.md")
    for setting in SETTINGS:
        assert f"| `{setting.key}` |" in text, setting.key
        if setting.env_var:
            assert f"`{setting.env_var}`" in text, setting.env_var
        if setting.flag:
            assert f"`{setting.flag}`" in text, setting.flag


def test_the_pytest_flags_named_for_settings_exist() -> None:
    plugin = (ROOT / "aksara_testing" / "plugin.py").read_text()
    for setting in SETTINGS:
        if setting.flag:
            assert f'"--aksara-{setting.flag[2:]}"' in plugin, setting.flag


def test_every_aksara_test_option_is_documented() -> None:
    text = (DOCS / "cli.md").read_text()
    for param in aksara_test_command.params:
        for flag in getattr(param, "opts", []):
            if flag.startswith("--"):
                assert flag in text, flag


def test_every_init_and_doctor_option_is_documented() -> None:
    from aksara_cli._app import doctor_command, init_command

    text = (DOCS / "cli.md").read_text()
    for command in (init_command, doctor_command):
        assert f"# `aksara {command.name}`" in text
        for param in command.params:
            for flag in getattr(param, "opts", []):
                if flag.startswith("--") and flag != "--help":
                    assert flag in text, (command.name, flag)


def test_the_api_reference_has_every_public_name() -> None:
    text = _rendered("api.md")
    for name in aksara_testing.__all__:
        if name != "__version__":
            assert f"::: aksara_testing.{name}\n" in text, name


# -- every error message we print is explained in docs/troubleshooting.md ------------

_ERROR_CLASSES = frozenset(
    {
        "AksaraError",
        "BadParameter",
        "ConfigurationError",
        "FactoryError",
        "MigrationError",
        "RefusedConnection",
        "UnsafeDatabaseError",
        "UsageError",
    }
)
_MIN_FRAGMENT = 8  # shorter literal pieces ("; ", " = ") say nothing


def _literal_pieces(node: ast.expr) -> list[str]:
    """The literal text of a message expression, split where values are interpolated."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        pieces, current = [], ""
        for value in node.values:
            if isinstance(value, ast.Constant):
                current += str(value.value)
            else:
                pieces.append(current)
                current = ""
        return [*pieces, current]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _literal_pieces(node.left) + _literal_pieces(node.right)
    return []


def _messages(tree: ast.Module) -> Iterator[tuple[int, ast.expr]]:
    """Error messages: error classes, failed migration checks, skip reasons, CLI validators."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in _ERROR_CLASSES and node.args:
                yield node.lineno, node.args[0]
            elif name == "Outcome" and len(node.args) == 2:
                status = node.args[0]
                if isinstance(status, ast.Constant) and status.value == "failed":
                    yield node.lineno, node.args[1]
            elif name == "skip":
                yield from ((node.lineno, kw.value) for kw in node.keywords if kw.arg == "reason")
        elif isinstance(node, ast.FunctionDef) and node.name.startswith("validate_"):
            for sub in ast.walk(node):
                if isinstance(sub, ast.Return) and sub.value is not None:
                    yield sub.lineno, sub.value


def error_fragments() -> Iterator[tuple[str, str]]:
    """``(file:line, literal piece)`` for every message the packages raise or print."""
    for package in ("aksara_testing", "aksara_cli"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for line, message in _messages(ast.parse(path.read_text())):
                for piece in _literal_pieces(message):
                    fragment = " ".join(piece.split()).strip(" ;:,.()'\"")
                    if len(fragment) >= _MIN_FRAGMENT:
                        yield f"{path.relative_to(ROOT)}:{line}", fragment


def test_the_troubleshooting_page_explains_every_error_message() -> None:
    page = " ".join((DOCS / "troubleshooting.md").read_text().split())
    missing = [f"{where}: {text!r}" for where, text in error_fragments() if text not in page]
    assert not missing, (
        "docs/troubleshooting.md does not show these messages; add each one, what it means "
        "and the fix:\n" + "\n".join(missing)
    )


def test_the_message_finder_sees_messages_in_every_form() -> None:
    found = {text for _, text in error_fragments()}
    assert "is not of the form 'module:attr'; write it like 'myapp.main:app" in found  # f-string
    assert "--cov-report needs --cov[=PKG]; add --cov=yourpackage" in found  # click.UsageError
    assert "give a number of workers or 'auto" in found  # a validator's return value
    assert "slow test: run it with aksara test --slow or -m slow" in found  # a skip reason
    assert "up-down-up changed the schema" in found  # a failed migration check


def test_the_api_reference_shows_the_factory_declarations() -> None:
    text = _rendered("api.md")
    for name in ("Sequence", "SubFactory", "LazyAttribute", "RelatedFactory", "Trait"):
        assert f'heading: "Factory.{name}"' in text, name


def test_rest_literal_markers_and_roles_become_markdown() -> None:
    convert = _hooks().rest_to_markdown
    assert convert("Like this::\n\n    x = 1\n") == "Like this:\n\n    x = 1\n"
    assert convert("Example.\n\n::\n\n    x = 1\n") == "Example.\n\n\n    x = 1\n"
    assert convert("see :func:`count_queries` and :class:`~a.B`") == "see `count_queries` and `a.B`"


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
