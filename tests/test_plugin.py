"""The pytest plugin, through real pytest runs of throwaway projects (``pytester``)."""

from __future__ import annotations

import os

import pytest

MARKED_TESTS = """
    import pytest

    def test_plain():
        pass

    @pytest.mark.slow
    def test_slow():
        pass

    @pytest.mark.ci_only
    def test_in_ci():
        pass
"""


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """One in-process pytest run of the project, in a fixed order."""
    return pytester.runpytest("-p", "no:randomly", *args)


def error_lines(result: pytest.RunResult) -> list[str]:
    return [line for line in result.errlines if line.strip()]


# --- loading and the header ----------------------------------------------------------------------


def configure(pytester: pytest.Pytester, table: str = "") -> None:
    """Give the project a ``[tool.aksara]`` table: without one the plugin changes nothing."""
    pytester.makepyprojecttoml(f"[tool.aksara]\n{table}")


def test_plugin_loads_silently_in_a_project_without_any_pyproject(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile("def test_ok(): pass")

    # In a fresh interpreter: pytest-asyncio's own warning about its unset fixture loop
    # scope would otherwise land in this run's warnings.
    result = pytester.runpytest_subprocess("-p", "no:randomly")

    result.assert_outcomes(passed=1)
    assert not [line for line in result.outlines if line.startswith("aksara:")]


def test_plugin_loads_silently_in_a_project_whose_pyproject_has_no_aksara_table(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyprojecttoml('[project]\nname = "plain"\nversion = "1"\n')
    pytester.makepyfile("def test_ok(): pass")

    result = pytester.runpytest_subprocess("-p", "no:randomly")

    result.assert_outcomes(passed=1)
    assert not [line for line in result.outlines if line.startswith("aksara:")]


def test_an_empty_aksara_table_is_enough_to_configure_the_plugin(
    pytester: pytest.Pytester,
) -> None:
    configure(pytester)
    pytester.makepyfile("def test_ok(): pass")

    result = run(pytester)

    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["aksara: settings pyproject.toml, seed *"])


def test_project_without_settings_imports_no_database_or_http_library(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import sys

        def test_nothing_heavy_loaded():
            heavy = {"sqlalchemy", "aiosqlite", "asyncpg", "alembic", "httpx"}
            assert sorted(heavy & {name.split(".")[0] for name in sys.modules}) == []
        """
    )

    # A fresh interpreter: this process has long imported everything. respx (a dev
    # dependency) has a pytest plugin of its own that imports httpx.
    result = pytester.runpytest_subprocess("-p", "no:randomly", "-p", "no:faker", "-p", "no:respx")

    result.assert_outcomes(passed=1)


def test_header_names_settings_file_app_database_and_seed_with_their_sources(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyprojecttoml(
        """
        [tool.aksara]
        app = "myapp.main:app"
        database_url = "postgresql://alice:s3cret@db.example/app"
        """
    )
    pytester.makepyfile("def test_ok(): pass")

    result = run(pytester, "--aksara-seed", "99")

    header = [line for line in result.outlines if line.startswith("aksara: settings")]
    assert header == [
        "aksara: settings pyproject.toml, app myapp.main:app (pyproject.toml), "
        "test database postgresql+asyncpg://alice:***@db.example/test_app (pyproject.toml), "
        "seed 99"
    ]
    assert "s3cret" not in result.stdout.str()


def test_header_shows_env_and_flag_sources(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyprojecttoml('[tool.aksara]\napp = "from_file:app"\n')
    pytester.makepyfile("def test_ok(): pass")
    monkeypatch.setenv("AKSARA_DATABASE_URL", "sqlite:///app.db")

    result = run(pytester, "--aksara-app", "from_flag:app")

    result.stdout.fnmatch_lines(
        [
            "aksara: settings pyproject.toml, app from_flag:app (--app), "
            "test database sqlite+aiosqlite:///*/test_app.db (env AKSARA_DATABASE_URL), seed *"
        ]
    )


# --- one event loop ------------------------------------------------------------------------------

SHARED_LOOP_TESTS = """
    import asyncio

    import pytest

    @pytest.fixture(scope="session")
    async def session_loop():
        return id(asyncio.get_running_loop())

    @pytest.fixture(scope="module")
    async def module_loop():
        return id(asyncio.get_running_loop())

    @pytest.fixture
    async def function_loop():
        yield id(asyncio.get_running_loop())

    async def test_fixtures_of_every_scope_share_the_test_loop(
        session_loop, module_loop, function_loop
    ):
        assert session_loop == module_loop == function_loop == id(asyncio.get_running_loop())

    class TestInAClass:
        async def test_later_test_uses_the_same_loop(self, session_loop):
            assert session_loop == id(asyncio.get_running_loop())

    async def test_last_test_uses_the_same_loop(session_loop):
        assert session_loop == id(asyncio.get_running_loop())
"""


@pytest.mark.parametrize(
    "ini",
    [
        "",
        'asyncio_mode = "auto"',
        'asyncio_mode = "auto"\nasyncio_default_fixture_loop_scope = "session"',
    ],
    ids=["nothing-configured", "project-sets-auto-mode", "project-sets-auto-and-scope"],
)
def test_async_tests_and_fixtures_of_every_scope_share_one_loop(
    pytester: pytest.Pytester, ini: str
) -> None:
    configure(pytester, f"\n[tool.pytest.ini_options]\n{ini}\n")
    pytester.makepyfile(test_loop_a=SHARED_LOOP_TESTS, test_loop_b=SHARED_LOOP_TESTS)

    result = run(pytester, "-W", "error")

    result.assert_outcomes(passed=6)


# --- markers -------------------------------------------------------------------------------------


def test_slow_and_ci_only_markers_need_no_declaration_under_strict_markers(
    pytester: pytest.Pytester,
) -> None:
    configure(pytester)
    pytester.makepyfile(MARKED_TESTS)

    # In a subprocess: in-process runs share pytest's cache of known marker names.
    result = pytester.runpytest_subprocess(
        "-p", "no:randomly", "-p", "no:faker", "--strict-markers", "--aksara-slow", "--aksara-ci"
    )

    result.assert_outcomes(passed=3)


def test_markers_are_listed_with_how_to_run_them(pytester: pytest.Pytester) -> None:
    configure(pytester)

    result = run(pytester, "--markers")

    result.stdout.fnmatch_lines(["@pytest.mark.slow: *--slow*", "@pytest.mark.ci_only: *--ci*"])


def test_slow_tests_are_skipped_by_default_with_a_reason_naming_the_flag(
    pytester: pytest.Pytester,
) -> None:
    configure(pytester)
    pytester.makepyfile(MARKED_TESTS)

    result = run(pytester, "-rs")

    result.assert_outcomes(passed=1, skipped=2)
    result.stdout.fnmatch_lines(["SKIPPED * slow test: *--slow*"])


@pytest.mark.parametrize(
    ("args", "outcomes"),
    [
        (["--aksara-slow"], {"passed": 2, "skipped": 1}),
        (["-m", "slow"], {"passed": 1, "deselected": 2}),
        (["-m", "slow or not slow"], {"passed": 2, "skipped": 1}),
    ],
    ids=["--aksara-slow", "-m slow", "-m expression naming slow"],
)
def test_slow_tests_run_when_asked_for(
    pytester: pytest.Pytester, args: list[str], outcomes: dict[str, int]
) -> None:
    configure(pytester)
    pytester.makepyfile(MARKED_TESTS)

    result = run(pytester, "-rs", *args)

    result.assert_outcomes(**outcomes)
    assert "slow test:" not in result.stdout.str()


def test_ci_only_tests_are_skipped_outside_ci_with_a_reason_saying_how_to_run_them(
    pytester: pytest.Pytester,
) -> None:
    configure(pytester)
    pytester.makepyfile(MARKED_TESTS)

    result = run(pytester, "-rs", "--aksara-slow")

    result.assert_outcomes(passed=2, skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED * ci_only test: *--ci*CI=true*"])


def test_ci_only_tests_run_with_the_ci_flag(pytester: pytest.Pytester) -> None:
    configure(pytester)
    pytester.makepyfile(MARKED_TESTS)

    result = run(pytester, "-rs", "--aksara-ci")

    result.assert_outcomes(passed=2, skipped=1)
    assert "ci_only test:" not in result.stdout.str()


@pytest.mark.parametrize("value", ["true", "1", "yes", "TRUE"])
def test_ci_only_tests_run_when_the_ci_variable_is_true(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    configure(pytester)
    pytester.makepyfile(MARKED_TESTS)
    monkeypatch.setenv("CI", value)

    result = run(pytester, "-rs")

    result.assert_outcomes(passed=2, skipped=1)
    assert "ci_only test:" not in result.stdout.str()


@pytest.mark.parametrize("value", ["", "0", "false", "no"])
def test_ci_only_tests_stay_skipped_when_the_ci_variable_is_false(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    configure(pytester)
    pytester.makepyfile(MARKED_TESTS)
    monkeypatch.setenv("CI", value)

    result = run(pytester, "--aksara-slow")

    result.assert_outcomes(passed=2, skipped=1)


def test_class_level_slow_marker_skips_every_method(pytester: pytest.Pytester) -> None:
    configure(pytester)
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.slow
        class TestHeavy:
            def test_one(self):
                pass

            async def test_two(self):
                pass
        """
    )

    result = run(pytester)

    result.assert_outcomes(skipped=2)


# --- the env table -------------------------------------------------------------------------------


def test_env_table_is_exported_before_collection_and_restored_after_the_run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyprojecttoml(
        """
        [tool.aksara.env]
        DEMO_MODE = "test"
        DEMO_DEBUG = true
        DEMO_WORKERS = 3
        """
    )
    pytester.makepyfile(
        test_reads_env_at_import="""
        import os

        # Read at import time, as apps that build their settings on import do.
        SEEN = {name: os.environ.get(name) for name in ("DEMO_MODE", "DEMO_DEBUG", "DEMO_WORKERS")}

        def test_module_saw_the_test_values():
            assert SEEN == {"DEMO_MODE": "test", "DEMO_DEBUG": "true", "DEMO_WORKERS": "3"}
        """
    )
    monkeypatch.setenv("DEMO_MODE", "outer")
    monkeypatch.delenv("DEMO_DEBUG", raising=False)
    monkeypatch.delenv("DEMO_WORKERS", raising=False)

    result = run(pytester)

    result.assert_outcomes(passed=1)
    assert os.environ["DEMO_MODE"] == "outer"
    assert "DEMO_DEBUG" not in os.environ
    assert "DEMO_WORKERS" not in os.environ


# --- configuration errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pyproject", "expected"),
    [
        (
            '[tool.aksara]\ndatabse_url = "sqlite://"\n',
            ["unknown key 'databse_url'", "did you mean 'database_url'?", "pyproject.toml"],
        ),
        ("[tool.aksara]\nsession = 3\n", ["session = 3", "pyproject.toml", "wrong type"]),
        (
            '[tool.aksara]\napp = "nocolon"\n',
            ["app = 'nocolon'", "'module:attr'", "myapp.main:app"],
        ),
        ('[tool.aksara]\nenv = "DEBUG=1"\n', ["env = 'DEBUG=1'", "table"]),
        ("[tool.aksara]\napp = \n", ["pyproject.toml"]),
        ('[tool]\naksara = "app:app"\n', ["[tool.aksara]", "must be a table"]),
    ],
    ids=[
        "typo-key",
        "wrong-type",
        "not-module-attr",
        "env-not-a-table",
        "invalid-toml",
        "no-table",
    ],
)
def test_configuration_error_is_one_error_line_and_exit_4(
    pytester: pytest.Pytester, pyproject: str, expected: list[str]
) -> None:
    pytester.makepyprojecttoml(pyproject)
    pytester.makepyfile("def test_ok(): pass")

    result = run(pytester)

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    (line,) = error_lines(result)
    assert line.startswith("ERROR: ")
    for fragment in expected:
        assert fragment in line
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_invalid_toml_in_a_settings_file_names_the_file_and_the_fix(
    pytester: pytest.Pytester,
) -> None:
    pytester.makefile(".toml", settings='[tool.aksara]\napp = "unterminated\n')
    pytester.makepyfile("def test_ok(): pass")

    result = run(pytester, "--aksara-settings", "settings.toml")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    (line,) = error_lines(result)
    assert line.startswith("ERROR: settings.toml is not valid TOML")


def test_missing_settings_file_is_one_error_line_and_exit_4(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_ok(): pass")

    result = run(pytester, "--aksara-settings", "missing.toml")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    (line,) = error_lines(result)
    assert line.startswith("ERROR: settings file 'missing.toml'")


def test_bad_env_variable_names_the_variable(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile("def test_ok(): pass")
    monkeypatch.setenv("AKSARA_APP", "nocolon")

    result = run(pytester)

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    (line,) = error_lines(result)
    assert "(from env AKSARA_APP)" in line


def test_settings_file_given_by_option_is_used_instead_of_pyproject(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyprojecttoml('[tool.aksara]\napp = "from_pyproject:app"\n')
    pytester.makefile(".toml", ci='[tool.aksara]\napp = "from_ci_file:app"\n')
    pytester.makepyfile("def test_ok(): pass", from_ci_file="app = None")

    result = run(pytester, "--aksara-settings", "ci.toml")

    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["aksara: settings ci.toml, app from_ci_file:app (ci.toml), seed *"]
    )
