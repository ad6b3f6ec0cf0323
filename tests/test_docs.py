"""The docs cannot drift from the code: every setting, option and public name is documented."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import aksara_testing
from aksara_cli._app import test_command as aksara_test_command
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


def test_the_api_reference_has_every_public_name() -> None:
    text = _rendered("api.md")
    for name in aksara_testing.__all__:
        if name != "__version__":
            assert f"::: aksara_testing.{name}\n" in text, name
