"""``.env`` files read as python-dotenv (and so pydantic-settings) reads them."""

from __future__ import annotations

from pathlib import Path

from aksara_cli._dotenv import read_env_file


def test_the_syntax_real_env_files_use(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text(
        "\ufeff# a comment\n"
        "\n"
        "PLAIN=postgresql://u@h/db  # trailing comment\n"
        "export EXPORTED=yes\n"
        "SPACED = spaced value\n"
        'DOUBLE="quoted # not a comment\\n"\n'
        "SINGLE='${PLAIN} too'\n"
        'EXPANDED="${PLAIN}?ssl=1"\n'
        "DEFAULTED=${MISSING:-fallback}\n"
        "HASH=a#b\n"
        "EMPTY=\n"
        "not a binding\n"
    )

    assert read_env_file(path) == {
        "PLAIN": "postgresql://u@h/db",
        "EXPORTED": "yes",
        "SPACED": "spaced value",
        "DOUBLE": "quoted # not a comment\n",
        "SINGLE": "postgresql://u@h/db too",
        "EXPANDED": "postgresql://u@h/db?ssl=1",
        "DEFAULTED": "fallback",
        "HASH": "a#b",
        "EMPTY": "",
    }


def test_a_missing_or_binary_file_is_empty(tmp_path: Path) -> None:
    (tmp_path / "binary").write_bytes(b"\xff\xfe\x00")

    assert read_env_file(tmp_path / "missing") == {}
    assert read_env_file(tmp_path / "binary") == {}
