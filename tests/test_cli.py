"""The ``aksara`` command, in-process through Click's runner and as the installed executable."""

from __future__ import annotations

import inspect
import json
import re
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from textwrap import dedent

import pytest
from app_process import clean_env
from click.testing import CliRunner

from aksara_cli._app import run_cli

AKSARA = Path(sys.executable).with_name("aksara")
# Faker's own pytest plugin costs ~0.4 s of start-up per run and none of these projects use it.
HEAVY_MODULES = (
    "pytest",
    "_pytest",
    "aksara_testing",
    "sqlalchemy",
    "aiosqlite",
    "asyncpg",
    "httpx",
)

PASSING = """
    def test_a():
        assert 1 + 1 == 2

    def test_b():
        assert "ab".upper() == "AB"
"""


@dataclass(frozen=True)
class Outcome:
    """What a user sees from one ``aksara`` invocation."""

    code: int
    stdout: str
    stderr: str

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]

    def header(self) -> str:
        return next(line for line in self.stdout.splitlines() if line.startswith("aksara: "))

    def counts(self) -> dict[str, int]:
        """The pass/fail/skip counts of pytest's summary line."""
        summary = self.stdout.strip().splitlines()[-1]
        return {
            kind: int(n) for n, kind in re.findall(r"(\d+) (passed|failed|skipped|error)", summary)
        }


Invoke = Callable[..., Outcome]


def run_executable(*args: str, cwd: Path, env: Mapping[str, str] | None = None) -> Outcome:
    done = subprocess.run(
        [str(AKSARA), *args],
        cwd=cwd,
        env=dict(env) if env is not None else clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    return Outcome(done.returncode, done.stdout, done.stderr)


def run_in_process(*args: str) -> Outcome:
    # Click 8.1 mixes stderr into stdout unless told not to (8.2 dropped the switch and
    # always yields (stdout, stderr, output)); the first two streams are ours either way.
    keep_apart = "mix_stderr" in inspect.signature(CliRunner).parameters
    runner = CliRunner(mix_stderr=False) if keep_apart else CliRunner()  # type: ignore[call-arg]
    with runner.isolation() as streams:
        code = run_cli(list(args))
        stdout, stderr = (stream.getvalue().decode() for stream in streams[:2])
    return Outcome(code, stdout, stderr)


@pytest.fixture(params=["in_process", "executable"])
def invoke(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Invoke:
    """Run ``aksara ARGS`` once through CliRunner (exit codes as ``main`` returns them) and once
    as the installed command in ``tmp_path``."""
    if request.param == "in_process":
        # Click names the program after argv[0]; the console script is called ``aksara``.
        monkeypatch.setattr(sys, "argv", ["aksara"])
        return run_in_process
    return lambda *args: run_executable(*args, cwd=tmp_path)


def make_project(root: Path, files: Mapping[str, str]) -> Path:
    """Write a throwaway project (``pyproject.toml`` and tests) under ``root``."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dedent(text).lstrip())
    return root


# --- help, version and usage errors --------------------------------------------------------------


def test_version_prints_the_distribution_version(invoke: Invoke) -> None:
    from importlib.metadata import version

    outcome = invoke("--version")

    assert outcome.code == 0
    assert outcome.stdout.strip() == f"aksara-testing, version {version('aksara-testing')}"


def test_help_lists_the_test_command(invoke: Invoke) -> None:
    outcome = invoke("--help")

    assert outcome.code == 0
    assert outcome.stdout.startswith("Usage: aksara [OPTIONS] COMMAND")
    assert re.search(r"^\s+test\s+Run the test suite", outcome.stdout, re.MULTILINE)
    assert re.search(r"^\s+init\s+Write \[tool.aksara\]", outcome.stdout, re.MULTILINE)
    assert re.search(r"^\s+doctor\s+Check the configuration", outcome.stdout, re.MULTILINE)


TEST_OPTIONS = (
    *("-k", "-m", "--verbose", "--quiet", "--failfast", "--lf", "--ff", "--maxfail"),
    *("--durations", "--junitxml", "--pdb", "--cov", "--cov-report", "--cov-fail-under"),
    *("--settings", "--app", "--database-url", "--slow", "--ci", "--seed"),
)


def test_test_help_lists_every_option(invoke: Invoke) -> None:
    outcome = invoke("test", "--help")

    assert outcome.code == 0
    assert outcome.stdout.startswith("Usage: aksara test [OPTIONS] [PATHS | PYTEST OPTIONS]...")
    assert "Any other option goes to pytest and its plugins" in outcome.stdout
    listed = set(re.findall(r"^\s+(?:-\w, )?(-[\w-]+)", outcome.stdout, re.MULTILINE))
    assert listed >= set(TEST_OPTIONS)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["test", "--app"], "Option '--app' requires an argument"),
        (["test", "--cov=app", "--cov-report=bogus"], "--cov-report=bogus is not a report type"),
        (["test", "--cov-report=html"], "--cov-report needs --cov"),
        (["test", "--maxfail=0"], "--maxfail"),
        (["bogus"], "No such command 'bogus'"),
    ],
    ids=["missing-value", "bad-cov-report", "cov-report-without-cov", "bad-value", "no-command"],
)
def test_usage_errors_exit_4_with_one_line_on_stderr(
    invoke: Invoke, args: list[str], message: str
) -> None:
    outcome = invoke(*args)

    assert outcome.code == 4
    assert len(outcome.error_lines) == 1, outcome.stderr
    assert outcome.error_lines[0].startswith(
        "aksara test: error: " if args[0] == "test" else "aksara"
    )
    assert message in outcome.error_lines[0]
    assert outcome.stdout == ""


@pytest.mark.parametrize(
    "args",
    [["--help"], ["test", "--help"], ["init", "--help"], ["doctor", "--help"], ["--version"]],
)
def test_help_and_version_import_no_pytest_plugin_app_or_database_driver(
    tmp_path: Path, args: list[str]
) -> None:
    script = (
        "import json, sys, aksara_cli\n"
        f"code = aksara_cli.main({args!r})\n"
        "print(json.dumps([code, sorted(sys.modules)]))\n"
    )

    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )

    code, modules = json.loads(done.stdout.strip().splitlines()[-1])
    assert code == 0
    loaded = {name for name in modules if name.split(".")[0] in HEAVY_MODULES}
    assert loaded == set()


# --- running a project ---------------------------------------------------------------------------


def test_passing_project_exits_0(tmp_path: Path) -> None:
    project = make_project(tmp_path, {"pyproject.toml": "", "tests/test_ok.py": PASSING})

    outcome = run_executable("test", cwd=project)

    assert outcome.code == 0, outcome.stdout
    assert outcome.counts() == {"passed": 2}


def test_failing_test_exits_1(tmp_path: Path) -> None:
    project = make_project(
        tmp_path,
        {
            "pyproject.toml": "",
            "tests/test_bad.py": """
                def test_ok():
                    pass

                def test_broken():
                    assert 1 + 1 == 3
            """,
        },
    )

    outcome = run_executable("test", cwd=project)

    assert outcome.code == 1
    assert outcome.counts() == {"failed": 1, "passed": 1}
    assert "test_broken" in outcome.stdout


def test_project_without_tests_exits_5(tmp_path: Path) -> None:
    project = make_project(tmp_path, {"pyproject.toml": "[tool.aksara]\n"})

    outcome = run_executable("test", cwd=project)

    assert outcome.code == 5
    assert "no tests ran" in outcome.stdout


def test_project_without_pyproject_runs_as_plain_pytest(tmp_path: Path) -> None:
    project = make_project(tmp_path, {"test_ok.py": PASSING})

    outcome = run_executable("test", cwd=project)

    assert outcome.code == 0, outcome.stdout + outcome.stderr
    assert "aksara: " not in outcome.stdout  # not configured: the plugin stays out of the way


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ('databse_url = "sqlite://"', ["'databse_url'", "did you mean 'database_url'?"]),
        ("session = 3", ["session = 3", "wrong type"]),
        ('app = "nocolon"', ["app = 'nocolon'", "'module:attr'"]),
    ],
    ids=["typo-key", "wrong-type", "not-module-attr"],
)
def test_bad_settings_exit_4_with_one_line_naming_the_problem(
    tmp_path: Path, table: str, expected: list[str]
) -> None:
    project = make_project(
        tmp_path, {"pyproject.toml": f"[tool.aksara]\n{table}\n", "test_ok.py": PASSING}
    )

    outcome = run_executable("test", cwd=project)

    assert outcome.code == 4
    assert len(outcome.error_lines) == 1, outcome.stderr
    line = outcome.error_lines[0]
    assert "pyproject.toml" in line
    for fragment in expected:
        assert fragment in line
    assert "Traceback" not in outcome.stdout + outcome.stderr


def test_missing_settings_file_exits_4_with_one_line(tmp_path: Path) -> None:
    project = make_project(tmp_path, {"test_ok.py": PASSING})

    outcome = run_executable("test", "--settings", "missing.toml", cwd=project)

    assert outcome.code == 4
    assert len(outcome.error_lines) == 1
    assert "'missing.toml'" in outcome.error_lines[0]


def test_arguments_after_double_dash_reach_pytest_untouched(tmp_path: Path) -> None:
    pytest.importorskip("pytest_randomly")
    project = make_project(tmp_path, {"pyproject.toml": "", "test_ok.py": PASSING})
    env = clean_env(PYTEST_ADDOPTS="-p no:cacheprovider -p no:faker")

    default = run_executable("test", cwd=project, env=env)
    passed_through = run_executable("test", "--", "-p", "no:randomly", "-rA", cwd=project, env=env)

    assert "randomly" in default.stdout
    assert passed_through.code == 0
    assert "randomly" not in passed_through.stdout
    # -rA: pytest's summary lists each passed test.
    assert "PASSED test_ok.py::test_a" in passed_through.stdout


# -- pytest's and plugins' options, given without -- -------------------------------------------

PASS_THROUGH_PROJECT = {
    "pyproject.toml": "[tool.aksara]\n",
    "tests/test_through.py": """
        import warnings

        import pytest

        def test_prints():
            print("printed by the test")

        def test_warns():
            warnings.warn("careful", UserWarning)

        @pytest.mark.skip(reason="skipped on purpose")
        def test_skipped():
            pass

        def test_unwanted():
            pass

        def check_custom():
            pass
    """,
    # Two test modules of one name in folders without __init__.py: pytest's default
    # import mode refuses them, --import-mode=importlib accepts them.
    "twins/a/test_twin.py": "def test_a():\n    pass\n",
    "twins/b/test_twin.py": "def test_b():\n    pass\n",
    # A project's own option, as many conftests add (--integration, --runslow...).
    "custom/conftest.py": """
        def pytest_addoption(parser):
            parser.addoption("--flavour", default="plain")
    """,
    "custom/test_custom.py": """
        def test_flavour(request):
            assert request.config.getoption("flavour") == "spicy"
    """,
}
THROUGH = "tests/test_through.py"
# pytest-randomly active (clean_env turns it off): its options must reach it.
WITH_RANDOMLY = {"PYTEST_ADDOPTS": "-p no:cacheprovider -p no:faker"}


@dataclass(frozen=True)
class PassThrough:
    """One ``aksara test ARGS`` run and what pytest (or its plugin) visibly did with ARGS."""

    args: tuple[str, ...]
    check: Callable[[Outcome], bool]
    code: int = 0
    env: Mapping[str, str] | None = None


PASS_THROUGH = {
    "-p no:randomly": PassThrough(
        ("-p", "no:randomly", THROUGH),
        lambda out: "randomly" not in out.stdout,
        env=WITH_RANDOMLY,
    ),
    "--randomly-seed=N": PassThrough(
        ("--randomly-seed=1234", THROUGH),
        lambda out: "Using --randomly-seed=1234" in out.stdout,
        env=WITH_RANDOMLY,
    ),
    "--randomly-seed N": PassThrough(
        (THROUGH, "--randomly-seed", "1234"),
        lambda out: "Using --randomly-seed=1234" in out.stdout,
        env=WITH_RANDOMLY,
    ),
    "-s": PassThrough(("-s", THROUGH), lambda out: "printed by the test" in out.stdout),
    "--capture=no": PassThrough(
        ("--capture=no", THROUGH), lambda out: "printed by the test" in out.stdout
    ),
    "-rs": PassThrough(("-rs", THROUGH), lambda out: "skipped on purpose" in out.stdout),
    "-W error": PassThrough(
        ("-W", "error", THROUGH),
        lambda out: "FAILED tests/test_through.py::test_warns" in out.stdout,
        code=1,
    ),
    "--tb=no": PassThrough(
        ("-W", "error::UserWarning", "--tb=no", THROUGH),
        lambda out: out.counts()["failed"] == 1 and "def test_warns" not in out.stdout,
        code=1,
    ),
    "--tb short": PassThrough(
        (THROUGH, "-W", "error", "--tb", "short"),
        lambda out: "UserWarning: careful" in out.stdout and "def test_warns" not in out.stdout,
        code=1,
    ),
    "--deselect": PassThrough(
        ("--deselect", f"{THROUGH}::test_unwanted", THROUGH),
        lambda out: "1 deselected" in out.stdout and "test_unwanted" not in out.stdout,
    ),
    "-o key=value": PassThrough(
        ("-o", "python_functions=check_*", THROUGH),
        lambda out: out.counts() == {"passed": 1},
    ),
    "--import-mode=importlib": PassThrough(
        ("--import-mode=importlib", "twins"), lambda out: out.counts() == {"passed": 2}
    ),
    "--import-mode importlib": PassThrough(
        ("twins", "--import-mode", "importlib"), lambda out: out.counts() == {"passed": 2}
    ),
    "--no-cov": PassThrough(("--cov", "--no-cov", THROUGH), lambda out: "TOTAL" not in out.stdout),
    "a conftest's option": PassThrough(
        ("custom", "--flavour", "spicy"), lambda out: out.counts() == {"passed": 1}
    ),
    "--dist loadfile": PassThrough(
        ("-n", "2", "--dist", "loadfile", THROUGH),
        lambda out: "2 workers" in out.stdout and out.counts() == {"passed": 3, "skipped": 1},
    ),
    "mixed with paths and our options": PassThrough(
        (
            *("tests", "-p", "no:randomly", "-k", "not warns", "-rs"),
            *("--deselect", f"{THROUGH}::test_prints", "-v", "--tb=short", "--seed", "7"),
        ),
        lambda out: (
            out.counts() == {"passed": 1, "skipped": 1}
            and "skipped on purpose" in out.stdout
            and "test_unwanted PASSED" in out.stdout
            and out.header().endswith("seed 7")
            and "randomly" not in out.stdout
        ),
        env=WITH_RANDOMLY,
    ),
}


@pytest.mark.parametrize("case", PASS_THROUGH.values(), ids=PASS_THROUGH.keys())
def test_options_aksara_does_not_define_reach_pytest_and_its_plugins(
    tmp_path: Path, case: PassThrough
) -> None:
    project = make_project(tmp_path, PASS_THROUGH_PROJECT)
    env = clean_env(**case.env) if case.env is not None else None

    outcome = run_executable("test", *case.args, cwd=project, env=env)

    assert outcome.code == case.code, outcome.stdout + outcome.stderr
    assert "file or directory not found" not in outcome.stdout + outcome.stderr
    assert case.check(outcome), outcome.stdout


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--bogus"], "--bogus"),
        (["-p", "no:randomly", "tests", "--no-such-flag", "-v"], "--no-such-flag"),
        (["--", "--no-such-pytest-option"], "--no-such-pytest-option"),
        (["tests", "--tb"], "--tb"),
        (["--tb=sideways"], "sideways"),
    ],
    ids=["unknown", "unknown-among-others", "unknown-after-double-dash", "no-value", "bad-value"],
)
def test_an_option_nobody_knows_is_pytests_usage_error_on_one_line(
    tmp_path: Path, args: list[str], named: str
) -> None:
    project = make_project(tmp_path, PASS_THROUGH_PROJECT)

    outcome = run_executable("test", *args, cwd=project)

    assert outcome.code == 4
    assert len(outcome.error_lines) == 1, outcome.stderr
    assert named in outcome.error_lines[0]
    assert "usage:" not in outcome.stderr
    assert outcome.stdout == ""


SELECTION_PROJECT = {
    "pyproject.toml": """
        [tool.pytest.ini_options]
        markers = ["smoke: quick checks"]
    """,
    "tests/test_x.py": """
        import pytest

        @pytest.mark.smoke
        def test_a():
            pass

        def test_b():
            pass

        def test_create_user():
            pass
    """,
}


@pytest.mark.parametrize(
    ("args", "selected"),
    [
        (["tests/test_x.py::test_a"], ["test_a"]),
        (["tests/test_x.py::test_a", "tests/test_x.py::test_b"], ["test_a", "test_b"]),
        (["-k", "user"], ["test_create_user"]),
        (["-k", "not user"], ["test_a", "test_b"]),
        (["-m", "smoke"], ["test_a"]),
        (["-m", "not smoke", "tests"], ["test_b", "test_create_user"]),
    ],
    ids=["node-id", "two-node-ids", "-k", "-k-not", "-m", "-m-not-with-path"],
)
def test_selection_runs_only_the_chosen_tests(
    tmp_path: Path, args: list[str], selected: list[str]
) -> None:
    project = make_project(tmp_path, SELECTION_PROJECT)

    outcome = run_executable("test", "-v", *args, cwd=project)

    assert outcome.code == 0, outcome.stdout
    ran = re.findall(r"::(\w+) PASSED", outcome.stdout)
    assert sorted(ran) == selected


@pytest.mark.parametrize(
    ("env", "flags", "shown"),
    [
        ({}, [], "app from_file:app (pyproject.toml)"),
        ({"AKSARA_APP": "from_env:app"}, [], "app from_env:app (env AKSARA_APP)"),
        ({"AKSARA_APP": "from_env:app"}, ["--app", "from_flag:app"], "app from_flag:app (--app)"),
    ],
    ids=["pyproject", "env-beats-pyproject", "flag-beats-env"],
)
def test_settings_precedence_shows_in_the_header_with_its_source(
    tmp_path: Path, env: dict[str, str], flags: list[str], shown: str
) -> None:
    project = make_project(
        tmp_path,
        {
            "pyproject.toml": '[tool.aksara]\napp = "from_file:app"\n',
            "test_ok.py": PASSING,
            # The app setting's module must exist: a misspelt one stops the run (exit 4).
            **{f"{source}.py": "app = None\n" for source in ("from_file", "from_env", "from_flag")},
        },
    )

    outcome = run_executable("test", *flags, cwd=project, env=clean_env(**env))

    assert outcome.code == 0, outcome.stderr
    assert outcome.header().startswith("aksara: settings pyproject.toml, ")
    assert shown in outcome.header()


@pytest.mark.parametrize("where", ["flag", "pyproject"])
def test_header_masks_the_database_password(tmp_path: Path, where: str) -> None:
    url = "postgresql://u:secret@h/db"
    table = f'database_url = "{url}"' if where == "pyproject" else ""
    flags = ["--database-url", url] if where == "flag" else []
    project = make_project(
        tmp_path, {"pyproject.toml": f"[tool.aksara]\n{table}\n", "test_ok.py": PASSING}
    )

    outcome = run_executable("test", *flags, cwd=project)

    assert outcome.code == 0, outcome.stderr
    assert "test database postgresql+asyncpg://u:***@h/test_db (" in outcome.header()
    assert "secret" not in outcome.stdout + outcome.stderr


def test_seed_flag_is_shown_in_the_header(tmp_path: Path) -> None:
    project = make_project(tmp_path, {"pyproject.toml": "[tool.aksara]\n", "test_ok.py": PASSING})

    outcome = run_executable("test", "--seed", "4242", cwd=project)

    assert outcome.header().endswith("seed 4242")


def test_pytest_and_aksara_test_give_the_same_outcome(tmp_path: Path) -> None:
    project = make_project(
        tmp_path,
        {
            "pyproject.toml": '[tool.aksara]\napp = "myapp:app"\n',
            "myapp.py": "app = None\n",
            "tests/test_mixed.py": """
                import pytest

                def test_passes():
                    pass

                async def test_async_passes():
                    pass

                def test_fails():
                    assert False

                @pytest.mark.slow
                def test_slow():
                    pass

                @pytest.mark.ci_only
                def test_in_ci():
                    pass
            """,
        },
    )

    through_aksara = run_executable("test", cwd=project)
    done = subprocess.run(
        [sys.executable, "-m", "pytest"],
        cwd=project,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    through_pytest = Outcome(done.returncode, done.stdout, done.stderr)

    assert through_aksara.code == through_pytest.code == 1
    assert (
        through_aksara.counts()
        == through_pytest.counts()
        == {
            "failed": 1,
            "passed": 2,
            "skipped": 2,
        }
    )
    assert (
        through_aksara.header().split(", seed ")[0] == through_pytest.header().split(", seed ")[0]
    )
