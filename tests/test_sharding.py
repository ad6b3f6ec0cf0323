"""``aksara test --splits N --group I`` (pytest-split), stored durations, and coverage.

Through the real ``aksara`` executable on a small generated project whose
four test modules each exercise one function of ``pkg``: a shard covers only
its functions, so combining the shards' coverage is what makes it whole.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from textwrap import dedent

import pytest
from app_process import AKSARA, Outcome, clean_env

PACKAGE = """
def one(x):
    return x + 1


def two(x):
    if x > 10:
        return x * 2
    return x


def three(x):
    total = 0
    for i in range(x):
        total += i
    return total


def four(x):
    return [x] * 2
"""

FUNCTIONS = ("one", "two", "three", "four")
TEST_MODULE = """
from pkg import {name}


def test_{name}_small():
    assert {name}(1) is not None


def test_{name}_large():
    assert {name}(20) is not None
"""

# relative_files: data recorded in one checkout combines in another (CI machines).
PYPROJECT = """
[tool.pytest.ini_options]
pythonpath = ["."]

[tool.coverage.run]
relative_files = true
"""

PASSED = re.compile(r"^(tests/\S+::\S+) PASSED", re.MULTILINE)


def make_project(path: Path) -> Path:
    (path / "pkg").mkdir(parents=True)
    (path / "pkg" / "__init__.py").write_text(dedent(PACKAGE).lstrip())
    (path / "tests").mkdir()
    for name in FUNCTIONS:
        module = dedent(TEST_MODULE.format(name=name)).lstrip()
        (path / "tests" / f"test_{name}.py").write_text(module)
    (path / "pyproject.toml").write_text(dedent(PYPROJECT).lstrip())
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "project")


def aksara_test(project: Path, *args: str, **env: str) -> Outcome:
    done = subprocess.run(
        [str(AKSARA), "test", *args],
        cwd=project,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=180,
    )
    return Outcome(done.returncode, done.stdout, done.stderr)


def ran(outcome: Outcome) -> list[str]:
    """The node ids that passed, from ``-v`` output; the run must have succeeded."""
    assert outcome.code == 0, str(outcome)
    return PASSED.findall(outcome.stdout)


ALL_TESTS = sorted(
    f"tests/test_{name}.py::test_{name}_{size}" for name in FUNCTIONS for size in ("small", "large")
)


# -- sharding ---------------------------------------------------------------------------------


def test_two_groups_run_disjoint_halves_whose_union_is_the_suite(project: Path) -> None:
    first = ran(aksara_test(project, "-v", "--splits", "2", "--group", "1"))
    second = ran(aksara_test(project, "-v", "--splits", "2", "--group", "2"))

    assert len(first) == len(second) == 4
    assert set(first).isdisjoint(second)
    assert sorted(first + second) == ALL_TESTS


def test_store_durations_writes_test_durations_in_the_project(project: Path) -> None:
    outcome = aksara_test(project, "--store-durations")

    assert outcome.code == 0, str(outcome)
    durations = json.loads((project / ".test_durations").read_text())
    assert sorted(durations) == ALL_TESTS
    assert all(seconds >= 0 for seconds in durations.values())


def test_store_durations_with_workers_records_every_test_once(project: Path) -> None:
    outcome = aksara_test(project, "-n", "2", "--store-durations")

    assert outcome.code == 0, str(outcome)
    assert sorted(json.loads((project / ".test_durations").read_text())) == ALL_TESTS


def test_durations_path_is_where_durations_are_stored_and_read(project: Path) -> None:
    stored = project / "ci" / "durations.json"
    stored.parent.mkdir()
    outcome = aksara_test(project, "--store-durations", "--durations-path", str(stored))
    assert outcome.code == 0, str(outcome)
    assert sorted(json.loads(stored.read_text())) == ALL_TESTS
    assert not (project / ".test_durations").exists()

    # One test as long as all the others together: least_duration gives it a group of its own.
    durations = dict.fromkeys(ALL_TESTS, 1.0) | {"tests/test_three.py::test_three_large": 7.0}
    stored.write_text(json.dumps(durations))
    args = ["-v", "--splits", "2", "--durations-path", "ci/durations.json"]
    args += ["--splitting-algorithm", "least_duration"]
    alone = aksara_test(project, *args, "--group", "1")
    others = aksara_test(project, *args, "--group", "2")

    assert "Splitting tests with algorithm: least_duration" in alone.stdout
    assert ran(alone) == ["tests/test_three.py::test_three_large"]
    assert sorted(ran(others)) == sorted(set(ALL_TESTS) - set(ran(alone)))


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["-n", "two"], "-n two"),
        (["-n", "-1"], "-n -1"),
        (["-n", "1.5"], "-n 1.5"),
        (["--splits", "2"], "--group"),
        (["--group", "1"], "--splits"),
        (["--splits", "2", "--group", "3"], "--group 3"),
        (["--splits", "0", "--group", "1"], "--splits"),
        (["--splits", "2", "--group", "0"], "--group"),
        (["--splits", "two", "--group", "1"], "--splits"),
        (["--splits", "2", "--group", "1", "--splitting-algorithm", "fastest"], "fastest"),
    ],
)
def test_bad_worker_and_shard_values_exit_4_with_one_line(
    project: Path, args: list[str], named: str
) -> None:
    outcome = aksara_test(project, *args)

    assert outcome.code == 4, str(outcome)
    [line] = [line for line in outcome.stderr.splitlines() if line.strip()]
    assert line.startswith("aksara test: error: "), line
    assert named in line, line
    assert outcome.stdout == ""  # refused before pytest starts


# -- sharding with pytest-randomly -------------------------------------------------------------

# Every module has the same four test names, as real suites do (test_create, test_list...):
# pytest-split's least_duration breaks ties on the name, then on the order it was given.
SHUFFLED_MODULE = """
def test_create():
    pass


def test_list():
    pass


def test_update():
    pass


def test_delete():
    pass
"""
SHUFFLED_MODULES = ("users", "posts", "tags", "likes", "feeds")
SHUFFLED_TESTS = sorted(
    f"tests/test_{module}.py::test_{name}"
    for module in SHUFFLED_MODULES
    for name in ("create", "list", "update", "delete")
)
# pytest's -v line, without workers ("tests/x.py::t PASSED") and with them ("PASSED tests/x.py::t").
RAN = re.compile(
    r"^(?:\[gw\d+\] \[\s*\d+%\] PASSED (tests/\S+::\S+)|(tests/\S+::\S+) PASSED)", re.M
)


@pytest.fixture
def shuffled_project(tmp_path: Path) -> Path:
    """Twenty tests in five modules; pytest-randomly reorders them on every run."""
    root = tmp_path / "shuffled"
    (root / "tests").mkdir(parents=True)
    for module in SHUFFLED_MODULES:
        (root / "tests" / f"test_{module}.py").write_text(dedent(SHUFFLED_MODULE).lstrip())
    (root / "pyproject.toml").write_text("")
    return root


def run_order(project: Path, seed: int, *args: str) -> list[str]:
    """The tests one machine ran, in order, with pytest-randomly shuffling by ``seed``."""
    addopts = f"-p randomly -p no:cacheprovider -p no:faker --randomly-seed={seed}"
    outcome = aksara_test(project, "-v", *args, PYTEST_ADDOPTS=addopts)
    assert outcome.code == 0, str(outcome)
    assert f"--randomly-seed={seed}" in outcome.stdout  # randomly was active
    return [first or second for first, second in RAN.findall(outcome.stdout)]


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--splitting-algorithm", "least_duration"],
        ["-n", "2"],
    ],
    ids=["duration_based_chunks", "least_duration", "two-workers"],
)
def test_groups_on_machines_with_different_random_orders_run_every_test_once(
    shuffled_project: Path, args: list[str]
) -> None:
    """Each CI machine gets its own pytest-randomly seed; the groups must still partition."""
    groups = [
        run_order(shuffled_project, seed, "--splits", "3", "--group", str(group), *args)
        for group, seed in ((1, 101), (2, 202), (3, 303))
    ]

    assert all(groups), groups
    assert sorted(test for group in groups for test in group) == SHUFFLED_TESTS
    for group in groups:
        assert len(set(group)) == len(group)  # nothing twice within a group either


def test_a_group_keeps_its_tests_and_randomly_still_shuffles_them(shuffled_project: Path) -> None:
    orders = [
        run_order(shuffled_project, seed, "--splits", "2", "--group", "1") for seed in (1, 2, 3)
    ]

    assert len({frozenset(order) for order in orders}) == 1  # the same tests every time
    assert len({tuple(order) for order in orders}) > 1  # in another order under another seed


# -- coverage ---------------------------------------------------------------------------------


def executed_lines(report: Path) -> dict[str, list[int]]:
    files = json.loads(report.read_text())["files"]
    return {name: data["executed_lines"] for name, data in files.items()}


def coverage(*args: str, cwd: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "coverage", *args],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture
def single_run_lines(project: Path) -> dict[str, list[int]]:
    outcome = aksara_test(project, "--cov=pkg", "--cov-report=json:single.json")
    assert outcome.code == 0, str(outcome)
    return executed_lines(project / "single.json")


def test_coverage_with_two_workers_matches_a_single_run(
    project: Path, single_run_lines: dict[str, list[int]]
) -> None:
    outcome = aksara_test(project, "-n", "2", "--cov=pkg", "--cov-report=json:workers.json")

    assert outcome.code == 0, str(outcome)
    assert executed_lines(project / "workers.json") == single_run_lines


def test_two_shards_on_two_machines_combine_to_a_single_runs_coverage(
    project: Path, single_run_lines: dict[str, list[int]], tmp_path: Path
) -> None:
    """Each shard runs in its own checkout (another path); ``coverage combine`` joins them."""
    combined = tmp_path / "combine"
    combined.mkdir()
    shards = []
    for group in ("1", "2"):
        machine = make_project(tmp_path / f"machine{group}")
        data = f".coverage.shard{group}"
        outcome = aksara_test(
            machine, "--splits", "2", "--group", group, "--cov=pkg", COVERAGE_FILE=data
        )
        assert outcome.code == 0, str(outcome)
        coverage("json", f"--data-file={data}", "-o", "shard.json", cwd=machine)
        shards.append(executed_lines(machine / "shard.json"))
        shutil.copy(machine / data, combined / data)  # CI: upload, then download in one job

    shutil.copytree(project / "pkg", combined / "pkg")
    shutil.copy(project / "pyproject.toml", combined)
    coverage("combine", cwd=combined)
    coverage("json", "-o", "combined.json", cwd=combined)

    assert all(shard != single_run_lines for shard in shards)  # neither shard alone is whole
    assert executed_lines(combined / "combined.json") == single_run_lines


def test_plain_pytest_in_a_configured_project_shards_the_same_way(shuffled_project: Path) -> None:
    """``pytest --splits`` behaves as ``aksara test --splits`` once the project uses aksara."""
    (shuffled_project / "pyproject.toml").write_text("[tool.aksara]\n")
    groups = []
    for group, seed in ((1, 101), (2, 202), (3, 303)):
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-v", "--splits", "3", "--group", str(group)],
            cwd=shuffled_project,
            env=clean_env(
                PYTEST_ADDOPTS=f"-p randomly -p no:cacheprovider -p no:faker --randomly-seed={seed}"
            ),
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        groups.append([first or second for first, second in RAN.findall(done.stdout)])

    assert sorted(test for group in groups for test in group) == SHUFFLED_TESTS
