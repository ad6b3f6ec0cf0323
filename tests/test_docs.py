"""The docs cannot drift from the code: every setting and CLI option is documented."""

from __future__ import annotations

from pathlib import Path

from aksara_cli._app import test_command as aksara_test_command
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


def test_every_init_and_doctor_option_is_documented() -> None:
    from aksara_cli._app import doctor_command, init_command

    text = (DOCS / "cli.md").read_text()
    for command in (init_command, doctor_command):
        assert f"# `aksara {command.name}`" in text
        for param in command.params:
            for flag in getattr(param, "opts", []):
                if flag.startswith("--") and flag != "--help":
                    assert flag in text, (command.name, flag)
