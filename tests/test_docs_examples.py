"""Every code block in docs/ works (conventions: tests/docs_blocks.py).

Python blocks run as tests of a real project through the ``aksara``
executable; TOML, YAML and INI blocks must parse; ``aksara`` command lines
must parse with the real CLI.
"""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest
from docs_blocks import REPO, DocsError, check_page, parse_page

PAGES = sorted((REPO / "docs").rglob("*.md"))


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO / "docs")))
def test_the_code_blocks_of_the_page_work(page: Path, tmp_path: Path) -> None:
    try:
        check_page(parse_page(page), tmp_path)
    except DocsError as exc:
        problem = str(exc)
    else:
        return
    pytest.fail(problem, pytrace=False)


def test_docs_folder_has_pages() -> None:
    assert len(PAGES) >= 6


# -- the checker itself: a broken block is reported with its page and line ----------


def _page(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "example.md"
    path.write_text(dedent(text).lstrip())
    return path


def _error(tmp_path: Path, text: str) -> str:
    page = parse_page(_page(tmp_path, text), "docs/example.md")
    with pytest.raises(DocsError) as caught:
        check_page(page, tmp_path / "work")
    return str(caught.value)


def test_a_failing_python_block_names_the_page_line_of_the_failure(tmp_path: Path) -> None:
    message = _error(
        tmp_path,
        """
        # Example

        ```python
        def test_arithmetic():
            total = 1 + 1
            assert total == 3
        ```
        """,
    )
    assert message.startswith("docs/example.md (end of page): aksara test -q exited 1")
    assert "docs/example.md:6: AssertionError" in message


def test_a_working_project_page_passes(tmp_path: Path) -> None:
    page = _page(
        tmp_path,
        """
        <!-- file: pyproject.toml -->
        ```toml
        [tool.pytest.ini_options]
        pythonpath = ["."]
        ```

        <!-- file: calc.py -->
        ```python
        def double(x):
            return 2 * x
        ```

        ```python
        from calc import double


        def test_double():
            assert double(2) == 4
        ```

        <!-- run -->
        ```bash
        aksara test -q
        ```
        """,
    )
    check_page(parse_page(page, "docs/example.md"), tmp_path / "work")
    assert (tmp_path / "work" / "project" / "calc.py").is_file()


def test_a_block_whose_tests_are_not_collected_is_reported(tmp_path: Path) -> None:
    message = _error(
        tmp_path,
        """
        <!-- file: pyproject.toml -->
        ```toml
        [tool.pytest.ini_options]
        testpaths = ["elsewhere"]
        ```

        <!-- file: elsewhere/test_other.py -->
        ```python
        def test_other():
            pass
        ```

        ```python
        def test_left_out():
            pass
        ```
        """,
    )
    assert message.startswith("docs/example.md:13: the tests of this block did not run")


def test_a_failing_run_block_names_its_command_line(tmp_path: Path) -> None:
    message = _error(
        tmp_path,
        """
        ```python
        def test_fails():
            assert False
        ```

        <!-- run -->
        ```console
        $ aksara test -q
        ```
        """,
    )
    assert message.startswith("docs/example.md:8: aksara test -q exited 1")


def test_an_unknown_aksara_option_is_reported(tmp_path: Path) -> None:
    message = _error(
        tmp_path,
        """
        Run:

        ```bash
        aksara test -x
        aksara test --no-such-option
        ```
        """,
    )
    assert message.startswith("docs/example.md:5: aksara test --no-such-option: ")
    assert "No such option" in message


def test_environment_prefixes_are_not_taken_for_the_command(tmp_path: Path) -> None:
    message = _error(
        tmp_path,
        """
        ```bash
        AKSARA_DATABASE_URL=postgresql://u@h/app aksara test --no-such-option
        ```
        """,
    )
    assert message.startswith("docs/example.md:2: aksara test --no-such-option: ")


def test_an_unknown_setting_in_a_toml_block_is_reported(tmp_path: Path) -> None:
    message = _error(
        tmp_path,
        """
        ```toml
        [tool.aksara]
        databse_url = "sqlite:///app.db"
        ```
        """,
    )
    assert message.startswith("docs/example.md:1: [tool.aksara] does not load: ")
    assert "did you mean 'database_url'?" in message


def test_a_skip_needs_a_reason(tmp_path: Path) -> None:
    with pytest.raises(DocsError, match=r"^docs/example.md:3: <!-- skip: \.\.\. --> needs"):
        parse_page(
            _page(tmp_path, "text\n\n<!-- skip -->\n```python\nx = 1\n```\n"), "docs/example.md"
        )


def test_a_skipped_block_is_not_run(tmp_path: Path) -> None:
    page = _page(tmp_path, "<!-- skip: a fragment -->\n```python\nawait undefined()\n```\n")
    check_page(parse_page(page, "docs/example.md"), tmp_path / "work")


def test_an_unknown_directive_is_reported(tmp_path: Path) -> None:
    with pytest.raises(DocsError, match=r"^docs/example.md:1: unknown docs directive 'skp'"):
        parse_page(_page(tmp_path, "<!-- skp: x -->\n```python\nx = 1\n```\n"), "docs/example.md")


def test_an_unclosed_block_is_reported(tmp_path: Path) -> None:
    with pytest.raises(DocsError, match=r"^docs/example.md:2: code block is never closed"):
        parse_page(_page(tmp_path, "text\n```python\nx = 1\n"), "docs/example.md")
