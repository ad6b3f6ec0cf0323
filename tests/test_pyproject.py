"""Writing [tool.aksara] into pyproject.toml as text: everything else stays byte for byte."""

from __future__ import annotations

import tomllib

import pytest

from aksara_cli._pyproject import PyprojectError, has_table, render_table, replace_table

TABLE = render_table({"app": "pkg.main:app", "database_url": "sqlite:///pkg.db"})


def test_table_is_valid_toml_with_lists_tables_and_escapes() -> None:
    table = render_table(
        {
            "app": 'odd"name:app',
            "session": ["a.db:One", "b.db:Two"],
            "env": {"DATABASE_URL": "sqlite:///x.db", "odd.key": "é\\", "DEBUG": True, "N": 3},
        },
        comments=["auth: choose one of a:f, b:f"],
    )

    assert tomllib.loads(table)["tool"]["aksara"] == {
        "app": 'odd"name:app',
        "session": ["a.db:One", "b.db:Two"],
        "env": {"DATABASE_URL": "sqlite:///x.db", "odd.key": "é\\", "DEBUG": True, "N": 3},
    }
    assert table.endswith("# auth: choose one of a:f, b:f\n")


def test_appended_after_the_rest_which_is_untouched() -> None:
    text = '[project]\nname = "pkg"  # keep me\n\n[tool.ruff]\nline-length = 88\n'

    result = replace_table(text, TABLE)

    assert result == text + "\n" + TABLE


def test_file_without_final_newline_gets_one_before_the_table() -> None:
    result = replace_table('[project]\nname = "pkg"', TABLE)

    assert result == '[project]\nname = "pkg"\n\n' + TABLE


def test_existing_table_and_its_sub_tables_are_replaced_in_place() -> None:
    text = (
        "# first\n"
        "[tool.aksara]\n"
        'app = "old:app"\n'
        "\n"
        "[tool.aksara.env]\n"
        'X = "1"\n'
        "\n"
        "# about pytest\n"
        "[tool.pytest.ini_options]\n"
        'testpaths = ["tests"]\n'
    )

    result = replace_table(text, TABLE)

    assert result == (
        "# first\n" + TABLE + '\n# about pytest\n[tool.pytest.ini_options]\ntestpaths = ["tests"]\n'
    )


def test_windows_line_endings_are_kept() -> None:
    text = '[project]\r\nname = "pkg"\r\n'
    table = render_table({"app": "pkg:app"}, newline="\r\n")

    result = replace_table(text, table)

    assert result == text + "\r\n" + table
    assert "\n" not in result.replace("\r\n", "")


def test_a_header_inside_a_multi_line_string_is_not_a_table() -> None:
    text = 'readme = """\n[tool.aksara]\nnot a table\n"""\n\n[tool.aksara]\napp = "old:app"\n'

    result = replace_table(text, TABLE)

    assert result.startswith('readme = """\n[tool.aksara]\nnot a table\n"""\n\n')
    assert tomllib.loads(result)["tool"]["aksara"]["app"] == "pkg.main:app"


@pytest.mark.parametrize(
    "text",
    ['tool.aksara.app = "x:app"\n', '[tool]\naksara = { app = "x:app" }\n'],
    ids=["dotted-keys", "inline-table"],
)
def test_settings_without_a_header_are_refused(text: str) -> None:
    assert has_table(text)
    with pytest.raises(PyprojectError, match=r"without a \[tool.aksara\] header"):
        replace_table(text, TABLE)


def test_invalid_toml_is_refused() -> None:
    with pytest.raises(PyprojectError, match="not valid TOML"):
        replace_table("[project\n", TABLE)
