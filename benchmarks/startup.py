"""Start-up and per-test overhead of ``aksara`` against the baselines it is built on.

Run it with the Python of the virtualenv where aksara-testing is installed::

    python benchmarks/startup.py [--repeats 15] [--write]

Three comparisons, each timed as whole subprocesses (wall clock), interleaved
so that drift in machine load hits every variant alike:

1. ``aksara --help`` and ``aksara --version`` against ``python -c pass``;
2. ``aksara test`` against ``python -m pytest`` on the same one-test project;
3. 1,000 trivial async tests in a project configured for aksara (an empty
   ``[tool.aksara]``: the plugin fills pytest-asyncio's unset options) against
   plain pytest + pytest-asyncio (``-p no:aksara``, the same loop settings in
   the project's ini), so both run the same tests the same way.

Every run must succeed (and the async runs must report 1,000 passed) or the
benchmark stops: a figure for a broken run is worse than none. Medians are
quoted per variant; the difference and the ratio are the medians of the
per-round differences and ratios against the named baseline. Targets come
from issue 3 and are reported, never asserted.

``--write`` replaces the section between ``<!-- startup:start -->`` and
``<!-- startup:end -->`` in ``benchmarks/RESULTS.md`` (creating the file if
needed) and leaves the rest of the file alone.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from _results import machine_line, replace_section  # benchmarks/ is on sys.path
from loop import foreign_plugins

HERE = Path(__file__).resolve().parent
RESULTS_FILE = HERE / "RESULTS.md"
START_MARKER = "<!-- startup:start -->"
END_MARKER = "<!-- startup:end -->"

PYTHON = sys.executable
AKSARA = str(Path(sys.executable).with_name("aksara"))
QUIET = ("-q", "-p", "no:randomly")
ASYNC_TESTS = 1000
TIMES = "\u00d7"  # the multiplication sign, for ratios
# The rows run again with the plugins of the dev extra blocked (pytest-django's nine autouse
# fixtures per test, pytest-randomly...): those a user of aksara does not get with it.
LEAN = "dev-extra plugins blocked"


@dataclass(frozen=True)
class Variant:
    """One command to time: its label, argv and the project it runs in."""

    label: str
    argv: tuple[str, ...]
    cwd: Path
    expect: str | None = None  # text the output must contain for the run to count


@dataclass(frozen=True)
class Comparison:
    """A measured variant against its baseline, with the issue's target."""

    variant: str
    baseline: str
    variant_median: float
    baseline_median: float
    difference: float
    ratio: float
    target: str
    met: bool


# Whether children may keep compiled (and pytest's assertion-rewritten) modules in
# __pycache__, as on a developer's machine; --no-bytecode-cache sets PYTHONDONTWRITEBYTECODE=1.
BYTECODE_CACHE = True


def clean_env() -> dict[str, str]:
    """This environment without CI flags, aksara settings or extra pytest options.

    PYTHONDONTWRITEBYTECODE goes too (unless ``--no-bytecode-cache``): with it,
    every start compiles again each module of an editable install and pytest
    rewrites again the asserts of every module of every plugin's package, a
    cost an installed user does not pay from the second run on.
    """
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("CI", "PYTHONDONTWRITEBYTECODE")
        and not name.startswith(("AKSARA_", "PYTEST_", "COV_CORE_"))
    }
    if not BYTECODE_CACHE:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def time_once(variant: Variant, env: Mapping[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        variant.argv, cwd=variant.cwd, env=env, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0 or (variant.expect and variant.expect not in done.stdout):
        sys.exit(
            f"{variant.label} failed (exit {done.returncode}):\n{done.stdout[-2000:]}{done.stderr}"
        )
    return elapsed


def measure(variants: Sequence[Variant], repeats: int) -> dict[str, list[float]]:
    """Wall times per variant, interleaved; the order rotates every round; one warm-up round."""
    env = clean_env()
    times: dict[str, list[float]] = {v.label: [] for v in variants}
    for variant in variants:
        time_once(variant, env)
    for round_ in range(repeats):
        shift = round_ % len(variants)
        for variant in [*variants[shift:], *variants[:shift]]:
            times[variant.label].append(time_once(variant, env))
        if sys.stderr.isatty():
            print(f"  round {round_ + 1}/{repeats}", end="\r", file=sys.stderr, flush=True)
    return times


def compare(
    times: Mapping[str, list[float]],
    variant: str,
    baseline: str,
    *,
    max_difference: float | None = None,
    max_ratio: float | None = None,
) -> Comparison:
    pairs = list(zip(times[variant], times[baseline], strict=True))
    difference = statistics.median(v - b for v, b in pairs)
    ratio = statistics.median(v / b for v, b in pairs)
    if max_difference is not None:
        target, met = f"≤ {max_difference:.2f} s above", difference <= max_difference
    else:
        assert max_ratio is not None
        target, met = f"≤ {max_ratio:.2f}{TIMES}", ratio <= max_ratio
    return Comparison(
        variant,
        baseline,
        statistics.median(times[variant]),
        statistics.median(times[baseline]),
        difference,
        ratio,
        target,
        met,
    )


# --------------------------------------------------------------------------
# Projects
# --------------------------------------------------------------------------


def write_one_test_project(root: Path) -> Path:
    root.mkdir()
    (root / "pyproject.toml").write_text('[project]\nname = "one"\nversion = "0"\n')
    (root / "test_one.py").write_text("def test_one():\n    assert 1 + 1 == 2\n")
    return root


def write_async_project(root: Path, ini: str, aksara: bool = False) -> Path:
    """1,000 async tests; ``aksara``: configured for the plugin (it fills the loop options)."""
    root.mkdir()
    table = "[tool.aksara]\n\n" if aksara else ""
    (root / "pyproject.toml").write_text(f"{table}[tool.pytest.ini_options]\n{ini}")
    body = "".join(
        f"\n\nasync def test_{i}():\n    await asyncio.sleep(0)\n" for i in range(ASYNC_TESTS)
    )
    (root / "test_async.py").write_text(f"import asyncio{body}")
    return root


PLAIN_ASYNCIO_INI = (
    'asyncio_mode = "auto"\n'
    'asyncio_default_test_loop_scope = "session"\n'
    'asyncio_default_fixture_loop_scope = "session"\n'
)


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------


def machine() -> str:
    return (
        f"{machine_line()}, "
        f"Python {platform.python_version()}, pytest {version('pytest')}, "
        f"pytest-asyncio {version('pytest-asyncio')}, aksara-testing {version('aksara-testing')}"
    )


def table(comparisons: Sequence[Comparison]) -> str:
    lines = [
        "| measured | median (s) | baseline | median (s) | difference (s) | ratio | target | met |",
        "|---|---:|---|---:|---:|---:|---|---|",
    ]
    for c in comparisons:
        met = "yes" if c.met else "no"
        lines.append(
            f"| {c.variant} | {c.variant_median:.3f} | {c.baseline} | {c.baseline_median:.3f} "
            f"| {c.difference:+.3f} | {c.ratio:.2f}{TIMES} | {c.target} | {met} |"
        )
    return "\n".join(lines)


def section(comparisons: Sequence[Comparison], repeats: int) -> str:
    today = datetime.datetime.now(datetime.UTC).date().isoformat()
    flag = "" if BYTECODE_CACHE else " --no-bytecode-cache"
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return "\n".join(
        [
            START_MARKER,
            "## Start-up and per-test overhead",
            "",
            f"`python benchmarks/startup.py --repeats {repeats}{flag}` on {today}; "
            f"{machine()}; load average at the end {load}.",
            "",
            f"Wall time of whole subprocesses, {repeats} interleaved rounds after one warm-up. "
            "Medians per command; difference and ratio are the medians of the per-round "
            "difference and ratio against the baseline in the same row. The pytest runs use "
            "`-q -p no:randomly`; the 1,000-test baseline is pytest + pytest-asyncio with "
            "`-p no:aksara` and `asyncio_mode = auto` plus session loop scopes in its ini. "
            f"The rows marked '{LEAN}' also pass `-p no:NAME` for every plugin of a "
            "distribution outside aksara-testing's own dependency tree (those of the dev "
            "extra: pytest-django, whose nine autouse fixtures run at every test, "
            "pytest-randomly, respx...; see benchmarks/loop.py), to both commands. "
            + (
                "Bytecode caching on (`PYTHONDONTWRITEBYTECODE` removed from the children's "
                "environment), as on a developer's machine: compiled and assertion-rewritten "
                "modules are read from `__pycache__` from the warm-up round on."
                if BYTECODE_CACHE
                else "`PYTHONDONTWRITEBYTECODE=1`: every start compiles the modules of the "
                "editable install and rewrites the asserts of every plugin package's modules."
            ),
            "",
            table(comparisons),
            END_MARKER,
        ]
    )


def write_results(text: str, path: Path = RESULTS_FILE) -> None:
    """Replace only the start-up section of ``path``; keep everything else."""
    replace_section(text, START_MARKER, END_MARKER, path)


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def run(repeats: int) -> list[Comparison]:
    with tempfile.TemporaryDirectory(prefix="aksara-startup-") as tmp:
        root = Path(tmp)
        one = write_one_test_project(root / "one")
        with_plugin = write_async_project(root / "async_aksara", "", aksara=True)
        plain = write_async_project(root / "async_plain", PLAIN_ASYNCIO_INI)
        passed = f"{ASYNC_TESTS} passed"

        print("start-up: python -c pass, aksara --help, aksara --version", file=sys.stderr)
        startup = measure(
            [
                Variant("`python -c pass`", (PYTHON, "-c", "pass"), root),
                Variant("`aksara --help`", (AKSARA, "--help"), root),
                Variant("`aksara --version`", (AKSARA, "--version"), root),
            ],
            repeats,
        )
        print("one-test project: aksara test, python -m pytest", file=sys.stderr)
        one_test = measure(
            [
                Variant(
                    "`python -m pytest` (1 test)", (PYTHON, "-m", "pytest", *QUIET), one, "1 passed"
                ),
                Variant(
                    "`aksara test` (1 test)",
                    (AKSARA, "test", "-q", "--", "-p", "no:randomly"),
                    one,
                    "1 passed",
                ),
            ],
            repeats,
        )
        print(f"{ASYNC_TESTS} async tests: with aksara, plain pytest-asyncio", file=sys.stderr)
        no_foreign = tuple(arg for name in foreign_plugins() for arg in ("-p", f"no:{name}"))
        many = measure(
            [
                Variant(
                    f"pytest + pytest-asyncio, {ASYNC_TESTS:,} async tests",
                    (PYTHON, "-m", "pytest", *QUIET, "-p", "no:aksara"),
                    plain,
                    passed,
                ),
                Variant(
                    f"pytest + aksara plugin, {ASYNC_TESTS:,} async tests",
                    (PYTHON, "-m", "pytest", *QUIET),
                    with_plugin,
                    passed,
                ),
                Variant(
                    f"pytest + pytest-asyncio, {ASYNC_TESTS:,} async tests, {LEAN}",
                    (PYTHON, "-m", "pytest", *QUIET, "-p", "no:aksara", *no_foreign),
                    plain,
                    passed,
                ),
                Variant(
                    f"pytest + aksara plugin, {ASYNC_TESTS:,} async tests, {LEAN}",
                    (PYTHON, "-m", "pytest", *QUIET, *no_foreign),
                    with_plugin,
                    passed,
                ),
            ],
            repeats,
        )
    times = {**startup, **one_test, **many}
    return [
        compare(times, "`aksara --help`", "`python -c pass`", max_difference=0.15),
        compare(times, "`aksara --version`", "`python -c pass`", max_difference=0.15),
        compare(
            times, "`aksara test` (1 test)", "`python -m pytest` (1 test)", max_difference=0.15
        ),
        compare(
            times,
            f"pytest + aksara plugin, {ASYNC_TESTS:,} async tests",
            f"pytest + pytest-asyncio, {ASYNC_TESTS:,} async tests",
            max_ratio=1.05,
        ),
        compare(
            times,
            f"pytest + aksara plugin, {ASYNC_TESTS:,} async tests, {LEAN}",
            f"pytest + pytest-asyncio, {ASYNC_TESTS:,} async tests, {LEAN}",
            max_ratio=1.05,
        ),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=15, help="timed rounds (default 15)")
    parser.add_argument(
        "--write", action="store_true", help=f"update the start-up section of {RESULTS_FILE.name}"
    )
    parser.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="run the children with PYTHONDONTWRITEBYTECODE=1 (no __pycache__)",
    )
    options = parser.parse_args(argv)
    if options.repeats < 1:
        parser.error("--repeats must be at least 1")
    global BYTECODE_CACHE
    BYTECODE_CACHE = not options.no_bytecode_cache
    comparisons = run(options.repeats)
    text = section(comparisons, options.repeats)
    print(text)
    if options.write:
        write_results(text)
        print(f"wrote {RESULTS_FILE}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
