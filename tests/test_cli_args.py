"""``aksara test`` options map to the pytest command line a user would have typed."""

from __future__ import annotations

import click
import pytest

from aksara_cli._app import test_command as aksara_test_command
from aksara_cli._passthrough import Arity, option_arities, split_argv
from aksara_cli._run import COV_REPORT_TYPES, TestOptions, pytest_args, validate_cov_report
from aksara_cli._usage_errors import one_line


def test_no_options_give_an_empty_pytest_command_line() -> None:
    assert pytest_args(TestOptions()) == []


def test_paths_and_node_ids_pass_through_in_order() -> None:
    options = TestOptions(args=("tests/test_users.py::test_create_user", "tests/api"))

    assert pytest_args(options) == ["tests/test_users.py::test_create_user", "tests/api"]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (TestOptions(keyword="users and not slow"), ["-k", "users and not slow"]),
        (TestOptions(keyword="-x"), ["-k", "-x"]),
        (TestOptions(markexpr="smoke or api"), ["-m", "smoke or api"]),
        (TestOptions(verbose=1), ["-v"]),
        (TestOptions(verbose=2), ["-v", "-v"]),
        (TestOptions(quiet=1), ["-q"]),
        (TestOptions(quiet=2), ["-q", "-q"]),
        (TestOptions(failfast=True), ["-x"]),
        (TestOptions(last_failed=True), ["--lf"]),
        (TestOptions(failed_first=True), ["--ff"]),
        (TestOptions(maxfail=3), ["--maxfail=3"]),
        (TestOptions(durations=0), ["--durations=0"]),
        (TestOptions(durations=10), ["--durations=10"]),
        (TestOptions(junitxml="reports/junit.xml"), ["--junitxml=reports/junit.xml"]),
        (TestOptions(pdb=True), ["--pdb"]),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else None,
)
def test_pytest_options_translate_to_their_pytest_spelling(
    options: TestOptions, expected: list[str]
) -> None:
    assert pytest_args(options) == expected


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (TestOptions(settings="ci/pyproject.toml"), ["--aksara-settings=ci/pyproject.toml"]),
        (TestOptions(app="myapp.main:app"), ["--aksara-app=myapp.main:app"]),
        (
            TestOptions(database_url="postgresql://u:pw@db/app"),
            ["--aksara-database-url=postgresql://u:pw@db/app"],
        ),
        (TestOptions(slow=True), ["--aksara-slow"]),
        (TestOptions(ci=True), ["--aksara-ci"]),
        (TestOptions(seed=1234), ["--aksara-seed=1234"]),
        (TestOptions(seed=0), ["--aksara-seed=0"]),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else None,
)
def test_aksara_options_translate_to_the_plugin_options(
    options: TestOptions, expected: list[str]
) -> None:
    assert pytest_args(options) == expected


def test_sharding_loads_the_plugin_that_makes_groups_independent_of_the_run_order() -> None:
    argv = pytest_args(TestOptions(splits=4, group=2))

    assert argv == ["--splits=4", "--group=2", "-p", "aksara_testing._sharding"]


def test_without_splits_the_sharding_plugin_stays_out() -> None:
    assert "aksara_testing._sharding" not in pytest_args(TestOptions(numprocesses="2"))


def test_bare_cov_measures_the_whole_project() -> None:
    assert pytest_args(TestOptions(cov=("",))) == ["--cov"]


def test_cov_with_a_package_names_it() -> None:
    assert pytest_args(TestOptions(cov=("myapp",))) == ["--cov=myapp"]


def test_repeated_cov_keeps_every_package_in_order() -> None:
    options = TestOptions(cov=("myapp", "", "mylib"))

    assert pytest_args(options) == ["--cov=myapp", "--cov", "--cov=mylib"]


def test_repeated_cov_report_keeps_every_report_and_its_destination() -> None:
    options = TestOptions(
        cov=("myapp",), cov_report=("term-missing", "html:out/cov", "xml:cov.xml")
    )

    assert pytest_args(options) == [
        "--cov=myapp",
        "--cov-report=term-missing",
        "--cov-report=html:out/cov",
        "--cov-report=xml:cov.xml",
    ]


@pytest.mark.parametrize(("percent", "expected"), [(90.0, "90"), (87.5, "87.5")])
def test_cov_fail_under_is_written_without_a_needless_decimal(
    percent: float, expected: str
) -> None:
    options = TestOptions(cov=("myapp",), cov_fail_under=percent)

    assert pytest_args(options) == [f"--cov-fail-under={expected}", "--cov=myapp"]


def test_passthrough_args_come_last_and_keep_their_order() -> None:
    options = TestOptions(
        args=("tests/test_a.py", "-p", "no:randomly", "-W", "error", "--tb=short"),
        keyword="create",
        verbose=1,
    )

    argv = pytest_args(options)

    assert argv == [
        "-v",
        "-k",
        "create",
        "tests/test_a.py",
        "-p",
        "no:randomly",
        "-W",
        "error",
        "--tb=short",
    ]


def test_every_option_at_once_gives_the_full_pytest_command_line() -> None:
    options = TestOptions(
        args=("tests",),
        keyword="api",
        markexpr="not db",
        verbose=2,
        failfast=True,
        last_failed=True,
        maxfail=2,
        durations=5,
        junitxml="junit.xml",
        cov=("myapp",),
        cov_report=("html",),
        cov_fail_under=80.0,
        settings="pyproject.toml",
        app="myapp:app",
        database_url="sqlite:///app.db",
        slow=True,
        ci=True,
        seed=7,
    )

    argv = pytest_args(options)

    assert sorted(argv) == sorted(
        [
            "-v",
            "-v",
            "-x",
            "--lf",
            "--aksara-slow",
            "--aksara-ci",
            "-k",
            "api",
            "-m",
            "not db",
            "--maxfail=2",
            "--durations=5",
            "--junitxml=junit.xml",
            "--cov-fail-under=80",
            "--aksara-settings=pyproject.toml",
            "--aksara-app=myapp:app",
            "--aksara-database-url=sqlite:///app.db",
            "--aksara-seed=7",
            "--cov=myapp",
            "--cov-report=html",
            "tests",
        ]
    )
    assert argv[-1] == "tests"
    assert argv[argv.index("-k") + 1] == "api"
    assert argv[argv.index("-m") + 1] == "not db"


def test_mapping_is_pure_and_leaves_the_options_untouched() -> None:
    options = TestOptions(args=("tests",), cov=("myapp",))

    assert pytest_args(options) == pytest_args(options)
    assert options == TestOptions(args=("tests",), cov=("myapp",))


@pytest.mark.parametrize("report", [*COV_REPORT_TYPES, "html:out/cov", "xml:cov.xml"])
def test_known_cov_report_types_are_accepted(report: str) -> None:
    assert validate_cov_report(report) is None


@pytest.mark.parametrize("report", ["term:skip-covered", "term-missing:skip-covered"])
def test_terminal_reports_accept_skip_covered(report: str) -> None:
    assert validate_cov_report(report) is None


def test_unknown_cov_report_type_names_the_valid_ones() -> None:
    problem = validate_cov_report("bogus")

    assert problem is not None
    assert "--cov-report=bogus" in problem
    assert all(kind in problem for kind in ("term-missing", "html", "xml"))
    assert "\n" not in problem


def test_terminal_report_with_a_destination_is_rejected() -> None:
    problem = validate_cov_report("term:out.txt")

    assert problem is not None
    assert "skip-covered" in problem


def test_every_translated_option_is_understood_by_pytest_with_the_plugin(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyprojecttoml("[tool.aksara]\n")
    options = TestOptions(
        args=("-p", "no:randomly"),
        keyword="api",
        markexpr="not db",
        verbose=1,
        failfast=True,
        failed_first=True,
        maxfail=2,
        durations=5,
        junitxml="junit.xml",
        cov=("myapp",),
        cov_report=("term-missing", "xml:cov.xml"),
        cov_fail_under=80.0,
        settings="pyproject.toml",
        app="myapp:app",
        database_url="sqlite:///app.db",
        slow=True,
        ci=True,
        seed=7,
    )

    config = pytester.parseconfig(*pytest_args(options))

    assert config.getoption("keyword") == "api"
    assert config.getoption("maxfail") == 2
    assert config.getoption("aksara_app") == "myapp:app"
    assert config.getoption("aksara_seed") == 7
    assert config.getoption("aksara_slow") is True
    assert config.getoption("cov_source") == ["myapp"]


# -- the command line: aksara test's own options for Click, every other word for pytest -----------


def parsed(*argv: str) -> dict[str, object]:
    """What ``aksara test ARGV`` gives its command: our options, and ``args`` for pytest."""
    return aksara_test_command.make_context("test", list(argv)).params


@pytest.mark.parametrize(
    "argv",
    [
        ["-p", "no:randomly"],
        ["--no-cov"],
        ["-o", "addopts=-x"],
        ["--tb=short"],
        ["--tb", "short"],
        ["-rs"],
        ["-rA"],
        ["-W", "error"],
        ["-W", "error::DeprecationWarning"],
        ["-Werror::DeprecationWarning"],
        ["-pno:randomly"],
        ["--capture=no"],
        ["-s"],
        ["--import-mode=importlib"],
        ["--deselect", "tests/test_a.py::test_x"],
        ["--randomly-seed=1"],
        ["--randomly-seed", "1"],
        ["--dist", "loadfile"],
        ["--durations-min=0.5"],
        ["--last-failed", "--exitfirst"],
        ["@args.txt"],
        ["-"],
    ],
    ids=" ".join,
)
def test_options_aksara_test_does_not_define_reach_pytest_whole_and_in_order(
    argv: list[str],
) -> None:
    params = parsed(*argv)

    assert params["args"] == tuple(argv)
    assert pytest_args(TestOptions(**params)) == argv  # type: ignore[arg-type]


def test_paths_pytest_options_and_ours_mix_in_any_order() -> None:
    params = parsed(
        *("tests/api", "-p", "no:randomly", "-k", "users", "--tb", "short", "-v"),
        *("--deselect", "tests/api/test_a.py::test_x", "--seed", "7", "tests/unit", "-rs"),
    )

    assert params["args"] == (
        *("tests/api", "-p", "no:randomly", "--tb", "short"),
        *("--deselect", "tests/api/test_a.py::test_x", "tests/unit", "-rs"),
    )
    assert (params["keyword"], params["verbose"], params["seed"]) == ("users", 1, 7)


def test_a_value_after_an_unknown_option_stays_next_to_it_and_is_not_taken_as_ours() -> None:
    # "-v" after --tb is an option (argparse would say so too), "short" after it is --tb's.
    params = parsed("--tb", "-v", "short")

    assert params["args"] == ("--tb", "short")
    assert params["verbose"] == 1


@pytest.mark.parametrize(
    ("argv", "ours", "theirs"),
    [
        (["-vx"], {"verbose": 1, "failfast": True}, ()),
        (["-vrs"], {"verbose": 1}, ("-rs",)),
        (["-xs"], {"failfast": True}, ("-s",)),
        (["-sv"], {"verbose": 0}, ("-sv",)),  # pytest reads -s -v: the same run
        (["-kusers"], {"keyword": "users"}, ()),
        (["-n2"], {"numprocesses": "2"}, ()),
        (["-vvq"], {"verbose": 2, "quiet": 1}, ()),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else None,
)
def test_short_option_clusters_split_where_ours_end(
    argv: list[str], ours: dict[str, object], theirs: tuple[str, ...]
) -> None:
    params = parsed(*argv)

    assert {name: params[name] for name in ours} == ours
    assert params["args"] == theirs


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["-k", "-x"], "-x"),  # a value option takes the next word, whatever it looks like
        (["-k", "--tb"], "--tb"),
        (["--maxfail", "2"], 2),
    ],
)
def test_our_value_options_take_the_next_word(argv: list[str], expected: object) -> None:
    params = parsed(*argv)

    assert expected in (params["keyword"], params["maxfail"])
    assert params["args"] == ()


@pytest.mark.parametrize(
    ("argv", "cov", "args"),
    [
        (["--cov"], ("",), ()),
        (["--cov", "-v"], ("",), ()),
        (["--cov", "myapp"], ("myapp",), ()),  # as pytest-cov reads it
        (["--cov=myapp", "tests"], ("myapp",), ("tests",)),
        (["--cov", "--no-cov"], ("",), ("--no-cov",)),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else None,
)
def test_cov_takes_a_package_only_when_one_follows(
    argv: list[str], cov: tuple[str, ...], args: tuple[str, ...]
) -> None:
    params = parsed(*argv)

    assert (params["cov"], params["args"]) == (cov, args)


def test_after_double_dash_everything_is_pytests_even_our_option_names() -> None:
    params = parsed("-v", "--", "-k", "x", "--slow")

    assert params["args"] == ("-k", "x", "--slow")
    assert (params["keyword"], params["slow"], params["verbose"]) == (None, False, 1)


def test_help_is_still_ours_among_pytest_options() -> None:
    with pytest.raises(click.exceptions.Exit):
        parsed("-p", "no:randomly", "--help")


def test_every_option_name_of_the_command_has_its_arity() -> None:
    ctx = click.Context(aksara_test_command)
    arities = option_arities(aksara_test_command.get_params(ctx))

    assert arities["-v"] == arities["--verbose"] == arities["-x"] == arities["--help"] == "flag"
    assert arities["-k"] == arities["--maxfail"] == arities["-n"] == "value"
    assert arities["--cov"] == "optional"
    assert "-p" not in arities and "--tb" not in arities


@pytest.mark.parametrize(
    ("argv", "ours", "theirs"),
    [
        ([], [], []),
        (["--", "--"], [], ["--"]),
        (["-a", "--", "-a"], ["-a"], ["-a"]),
        (["-b", "x", "-b"], ["-b", "x", "-b"], []),  # the value is missing: Click says so
        (["-abz"], ["-a", "-bz"], []),
        (["-ab", "z"], ["-a", "-b", "z"], []),
        (["-za"], [], ["-za"]),
        (["-z", "-a", "z"], ["-a"], ["-z", "z"]),
    ],
)
def test_split_argv_is_pure(argv: list[str], ours: list[str], theirs: list[str]) -> None:
    arities: dict[str, Arity] = {"-a": "flag", "-b": "value"}

    assert split_argv(argv, arities) == (ours, theirs)
    assert split_argv(argv, arities) == (ours, theirs)


# -- pytest's usage errors, on one line ------------------------------------------------------------

BANNER = "usage: pytest.main() [options] [file_or_dir] [file_or_dir] [...]\n"


def test_an_unknown_option_becomes_one_line_naming_it_and_where_options_come_from() -> None:
    message = (
        f"{BANNER}pytest.main(): error: unrecognized arguments: --bogus -Z\n"
        "  inifile: /home/me/app/pyproject.toml\n"
        "  rootdir: /home/me/app"
    )

    assert one_line(message) == (
        "aksara test: unrecognized arguments: --bogus -Z: not an option of aksara test, "
        "pytest or an installed plugin; check the spelling against aksara test --help, "
        "pytest --help and the addopts of /home/me/app/pyproject.toml"
    )


def test_without_an_ini_file_the_line_names_only_the_help_pages() -> None:
    message = f"{BANNER}pytest.main(): error: unrecognized arguments: --bogus"

    assert one_line(message).endswith(
        "check the spelling against aksara test --help, pytest --help"
    )


def test_other_argument_errors_keep_argparses_words() -> None:
    message = f"{BANNER}pytest.main(): error: argument --tb: expected one argument"

    assert one_line(message) == "aksara test: argument --tb: expected one argument"


def test_usage_errors_that_are_not_argparses_are_left_alone() -> None:
    message = "settings file 'x.toml' given by --settings does not exist; pass the path"

    assert one_line(message) == message
