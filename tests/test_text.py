"""The text helpers one-line messages share: an error's first line, a path shown short."""

from __future__ import annotations

import ast
from pathlib import Path

from sqlalchemy.exc import IntegrityError

from aksara_testing._text import error_line, first_line, relative_path, typed_line


class DriverError(Exception):
    pass


def test_first_line_skips_blank_lines_and_surrounding_spaces() -> None:
    assert first_line(ValueError("\n  no such revision  \n(details)")) == "no such revision"


def test_first_line_of_an_empty_message_is_the_type() -> None:
    assert first_line(KeyError()) == "KeyError"


def test_typed_line_names_the_type_once() -> None:
    assert typed_line(OSError("refused\nmore")) == "OSError: refused"
    assert typed_line(TimeoutError()) == "TimeoutError"


def test_error_line_gives_the_driver_error_inside_a_sqlalchemy_error() -> None:
    wrapped = IntegrityError("INSERT ...", {}, DriverError('duplicate key "x"\nDETAIL: ...'))

    assert error_line(wrapped) == 'DriverError: duplicate key "x"'


def test_error_line_places_a_syntax_error() -> None:
    try:
        compile("def broken(:\n", "/somewhere/versions/0001_init.py", "exec")
    except SyntaxError as exc:
        line = error_line(exc)

    assert line.startswith("SyntaxError in 0001_init.py line 1: ")


def test_error_line_of_anything_else_is_the_typed_line() -> None:
    assert error_line(RuntimeError("boom\ntrace")) == "RuntimeError: boom"


def test_relative_path_inside_and_outside_the_root(tmp_path: Path) -> None:
    assert relative_path(tmp_path / "pkg" / "pyproject.toml", tmp_path) == "pkg/pyproject.toml"
    assert relative_path("/elsewhere/x.py", tmp_path) == "/elsewhere/x.py"


def test_relative_path_sees_through_a_symlinked_root(tmp_path: Path) -> None:
    real = tmp_path / "real"
    (real / "app").mkdir(parents=True)
    link = tmp_path / "link"
    link.symlink_to(real)

    assert relative_path(real / "app" / "main.py", link) == "app/main.py"


def test_it_is_a_leaf_importing_nothing_of_ours() -> None:
    import aksara_testing._text as text

    tree = ast.parse(Path(text.__file__).read_text())
    imports = [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
    ours = [
        n
        for n in imports
        if isinstance(n, ast.ImportFrom) and (n.level or "aksara" in (n.module or ""))
    ]

    assert imports and ours == []
