"""No password of a URL the run knows appears anywhere in what pytest prints or writes.

Every check greps the whole output of a real run (stdout, stderr and the JUnit
file) for the password, whole or in part, and looks for ``***`` where the URL
was shown. The password holds characters a URL must percent-encode, so both
its plain and its encoded forms are looked for.
"""

from __future__ import annotations

import re
import subprocess
from urllib.parse import quote

import pytest
from app_process import AKSARA, clean_env
from conftest import Project

SECRET = "S3cr3t:p@ss/w0rd"
# Any leak of the password, whole, encoded or cut at one of its special characters.
FRAGMENTS = ("S3cr3t", "w0rd")
ENCODED = quote(SECRET, safe="")
LOWER_HEX = re.sub("%[0-9A-F]{2}", lambda m: m[0].lower(), ENCODED)
# A replica the tests never reach: port 1 refuses at once, the name passes the connection guard.
REPLICA = f"postgresql+asyncpg://reporter:{ENCODED}@127.0.0.1:1/test_replica"
MASKED = "reporter:***@127.0.0.1:1"
TB_STYLES = ["long", "short", "native", "line", "auto"]
JUNIT = "report.xml"

LEAKS = """
import logging
import os
import sys

from sqlalchemy.ext.asyncio import create_async_engine

log = logging.getLogger("app")


def test_url_in_locals(test_settings):
    url = os.environ["REPLICA_URL"]
    engine = create_async_engine(url)
    password = engine.url.password
    app_url = test_settings["database_url"]
    raise RuntimeError(f"cannot reach {url}")


def test_url_printed_and_logged():
    url = os.environ["REPLICA_URL"]
    print(f"connecting to {url}")
    print(f"again on stderr: {url}", file=sys.stderr)
    log.warning("replica at %s", url)
    assert url.endswith("/elsewhere"), url


def test_url_printed_by_a_passing_test():
    print("replica", os.environ["REPLICA_URL"])
"""

USES_THE_DATABASE = """
from helpers import count


async def test_one(db_session):
    assert await count(db_session) == 0


async def test_two(db_session):
    assert await count(db_session) == 0
"""


def everything(project: Project, result: pytest.RunResult) -> str:
    """All a user can read after the run: stdout, stderr and the JUnit file."""
    junit = project.pytester.path / JUNIT
    assert junit.is_file(), "\n".join(result.outlines + result.errlines)
    return "\n".join([*result.outlines, *result.errlines, junit.read_text()])


def assert_no_secret(text: str, *fragments: str) -> None:
    for fragment in fragments or FRAGMENTS:
        count = text.count(fragment)
        assert count == 0, f"{fragment!r} printed {count} times:\n{text}"
    assert ENCODED not in text and LOWER_HEX not in text


def run_leaks(project: Project, *args: str) -> str:
    project.write_settings(f'env = {{ REPLICA_URL = "{REPLICA}" }}')
    project.pytester.makepyfile(test_leaks=LEAKS)
    result = project.run(
        "-l", "-rA", f"--junitxml={JUNIT}", "-o", "junit_logging=all", "-p", "no:faker", *args
    )
    text = everything(project, result)
    assert result.ret == 1, text
    return text


# -- (b) and (c): a URL in locals, messages, prints and logs ---------------------------------


@pytest.mark.parametrize("tb", TB_STYLES)
def test_password_in_locals_messages_prints_and_logs_is_masked(project: Project, tb: str) -> None:
    text = run_leaks(project, f"--tb={tb}")
    assert_no_secret(text)
    assert MASKED in text
    if tb in ("long", "short", "auto"):  # frame locals (-l) are shown
        assert "password   = '***'" in text or "password = '***'" in text
    if project.backend == "postgres":  # the test server's password equals its user name
        assert "aksara:aksara@" not in text
        assert "aksara:***@" in text


# The controller writes down each report as it arrives from a worker, before any hook of
# its own could scrub it: the workers must send them scrubbed.
WIRE = """
import json

import pytest


@pytest.hookimpl(wrapper=True)
def pytest_report_from_serializable(config, data):
    with open("wire.jsonl", "a") as wire:
        wire.write(json.dumps(data, default=str) + "\\n")
    return (yield)
"""


def test_password_is_masked_in_parallel_workers_output(project: Project) -> None:
    project.pytester.makeconftest(WIRE)
    text = run_leaks(project, "-n", "2", "--tb=long")
    assert_no_secret(text)
    assert MASKED in text
    wire = (project.pytester.path / "wire.jsonl").read_text()
    assert_no_secret(wire)
    assert MASKED in wire


# -- (a): a wrong password stops the connection ----------------------------------------------


def wrong_password_url(project: Project) -> str:
    url = project.database_url.replace("://aksara:aksara@", f"://aksara:{ENCODED}@")
    assert url != project.database_url, "the test server's URL has another user or password"
    return url


@pytest.fixture
def postgres_project(pytester: pytest.Pytester, postgres_url: str) -> Project:
    return Project(pytester, "postgres", postgres_url)


def run_wrong_password(project: Project, *args: str, source: str = "flag") -> str:
    url = wrong_password_url(project)
    flags: tuple[str, ...] = ()
    if source == "flag":
        flags = (f"--aksara-database-url={url}",)
    elif source == "file":
        project.database_url = url
        project.write_settings()
    project.pytester.makepyfile(test_db=USES_THE_DATABASE)
    result = project.run("-l", "-rA", f"--junitxml={JUNIT}", "-p", "no:faker", *flags, *args)
    text = everything(project, result)
    assert result.ret != 0, text
    return text


@pytest.mark.postgres
# Native and line tracebacks show no frame arguments; the leak tests above cover both styles.
@pytest.mark.parametrize("tb", ["long", "short", "auto"])
def test_wrong_password_is_never_printed(postgres_project: Project, tb: str) -> None:
    text = run_wrong_password(postgres_project, f"--tb={tb}")
    assert_no_secret(text)
    assert "aksara:***@" in text  # the header shows the URL masked


@pytest.mark.postgres
@pytest.mark.parametrize("source", ["file", "env"])
def test_wrong_password_from_the_settings_file_or_environment(
    postgres_project: Project, source: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if source == "env":
        monkeypatch.setenv("AKSARA_DATABASE_URL", wrong_password_url(postgres_project))
    text = run_wrong_password(postgres_project, "--tb=long", source=source)
    assert_no_secret(text)
    assert "aksara:***@" in text


@pytest.mark.postgres
def test_wrong_password_is_never_printed_by_parallel_workers(postgres_project: Project) -> None:
    text = run_wrong_password(postgres_project, "-n", "2", "--tb=long")
    assert_no_secret(text)
    assert "aksara:***@" in text


# -- the real executable ---------------------------------------------------------------------


def run_aksara(project: Project, *args: str) -> str:
    done = subprocess.run(
        [str(AKSARA), "test", f"--junitxml={JUNIT}", *args, "--", "-l", "-rA", "--tb=long"],
        cwd=project.pytester.path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    text = "\n".join([done.stdout, done.stderr, (project.pytester.path / JUNIT).read_text()])
    assert done.returncode != 0, text
    return text


def test_aksara_test_masks_passwords(project: Project) -> None:
    project.write_settings(f'env = {{ REPLICA_URL = "{REPLICA}" }}')
    project.pytester.makepyfile(test_leaks=LEAKS, test_db=USES_THE_DATABASE)
    text = run_aksara(project, f"--database-url={project.database_url}")
    assert_no_secret(text)
    assert MASKED in text
    if project.backend == "postgres":
        assert "aksara:aksara@" not in text
        assert "aksara:***@" in text


@pytest.mark.postgres
def test_aksara_test_never_prints_a_wrong_password(postgres_project: Project) -> None:
    postgres_project.pytester.makepyfile(test_db=USES_THE_DATABASE)
    text = run_aksara(postgres_project, f"--database-url={wrong_password_url(postgres_project)}")
    assert_no_secret(text)
    assert "aksara:***@" in text


# -- where the password comes from -----------------------------------------------------------

CONFTEST_OVERRIDE = f'''
import pytest


@pytest.fixture(scope="session")
def test_settings(test_settings):
    return {{**test_settings, "REPLICA_URL": "{REPLICA}"}}
'''


@pytest.mark.parametrize("source", ["environment", "query", "test_settings"])
def test_password_from_other_sources_is_masked(
    sqlite_project: Project, source: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = sqlite_project
    expected = MASKED
    if source == "environment":  # not in any setting: the app reads it on its own
        monkeypatch.setenv("REPLICA_URL", REPLICA)
    elif source == "query":
        url = f"postgresql+asyncpg://reporter@127.0.0.1:1/test_replica?password={ENCODED}"
        monkeypatch.setenv("REPLICA_URL", url)
        expected = "?password=***"
    else:
        project.pytester.makeconftest(CONFTEST_OVERRIDE)
    project.pytester.makepyfile(test_leaks=LEAKS)
    result = project.run("-l", "-rA", f"--junitxml={JUNIT}", "-o", "junit_logging=all")
    text = everything(project, result)
    assert_no_secret(text)
    assert expected in text


# -- errors that stop the run ----------------------------------------------------------------

STOPPERS = {
    "usage error": """
import os
import pytest

def pytest_sessionstart(session):
    raise pytest.UsageError(f"cannot use {os.environ['REPLICA_URL']}")
""",
    "exit": """
import os
import pytest

@pytest.fixture(autouse=True)
def stop():
    pytest.exit(f"cannot use {os.environ['REPLICA_URL']}", returncode=3)
""",
    "internal error": """
import os

def pytest_collection_finish(session):
    url = os.environ["REPLICA_URL"]
    raise RuntimeError(f"cannot use {url}")
""",
}


@pytest.mark.parametrize("kind", list(STOPPERS))
def test_password_in_errors_that_stop_the_run_is_masked(sqlite_project: Project, kind: str) -> None:
    project = sqlite_project
    project.write_settings(f'env = {{ REPLICA_URL = "{REPLICA}" }}')
    project.pytester.makeconftest(STOPPERS[kind])
    project.pytester.makepyfile(test_leaks=LEAKS)
    result = project.run("-l", "--tb=long", f"--junitxml={JUNIT}")
    text = "\n".join([*result.outlines, *result.errlines])
    junit = project.pytester.path / JUNIT
    if junit.is_file():
        text += junit.read_text()
    assert result.ret != 0, text
    assert_no_secret(text)
    assert MASKED in text


# -- short passwords and unconfigured projects -----------------------------------------------

SHORT = """
import os


def test_short_password():
    url = os.environ["REPLICA_URL"]
    print("the word x9z stays")
    raise RuntimeError(f"cannot reach {url}")
"""


def test_short_password_is_masked_only_where_it_stands_as_a_password(
    sqlite_project: Project,
) -> None:
    project = sqlite_project
    project.write_settings('env = { REPLICA_URL = "postgresql://reporter:x9z@127.0.0.1:1/test_r" }')
    project.pytester.makepyfile(test_short=SHORT)
    result = project.run("-l", "-rA", "--tb=long")
    text = "\n".join(result.outlines + result.errlines)
    assert "x9z@" not in text and "'x9z'" not in text
    assert "reporter:***@127.0.0.1:1" in text
    assert "the word x9z stays" in text


UNCONFIGURED = f'''
import os


def test_prints_a_url():
    url = "{REPLICA}"
    print(url)
    raise RuntimeError(url)
'''


def test_unconfigured_project_output_is_unchanged(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REPLICA_URL", REPLICA)
    pytester.makepyfile(test_unconfigured=UNCONFIGURED)
    # The loop scope set the same both ways: pytest-asyncio warns when nothing sets it.
    scope = ("-o", "asyncio_default_fixture_loop_scope=function")
    args = ("-p", "no:randomly", "-p", "no:cacheprovider", *scope, "-l", "-rA", "--tb=long")
    with_plugin = pytester.runpytest(*args)
    without = pytester.runpytest(*args, "-p", "no:aksara")

    def shown(result: pytest.RunResult) -> list[str]:
        # Only the header (aksara's line, plugins, asyncio defaults) and the duration differ.
        return [
            line
            for line in result.outlines + result.errlines
            if not line.startswith(("aksara: ", "plugins: ", "asyncio: ", "====="))
        ]

    assert shown(with_plugin) == shown(without)
    assert "S3cr3t" in "\n".join(with_plugin.outlines)


# -- skip reasons, properties, live logs, collection errors ----------------------------------

ELSEWHERE = """
import logging
import os

import pytest

URL = os.environ["REPLICA_URL"]


def test_skipped():
    pytest.skip(f"no replica at {URL}")


@pytest.mark.xfail(reason=f"the replica at {URL} lags")
def test_expected_to_fail():
    assert False


def test_logs_live():
    logging.getLogger("app").warning("replica at %s", URL)


def test_records_a_property(record_property):
    record_property("replica", URL)
"""

BROKEN_MODULE = """
import os

raise RuntimeError("cannot import: " + os.environ["REPLICA_URL"])
"""


def test_password_in_reasons_properties_live_logs_and_collection_errors_is_masked(
    sqlite_project: Project,
) -> None:
    project = sqlite_project
    project.write_settings(f'env = {{ REPLICA_URL = "{REPLICA}" }}')
    project.pytester.makepyfile(test_elsewhere=ELSEWHERE, test_broken=BROKEN_MODULE)
    result = project.run(
        "-rA",
        "--continue-on-collection-errors",
        "-o",
        "log_cli=true",
        "-o",
        "junit_family=xunit1",  # record_property needs it
        f"--junitxml={JUNIT}",
    )
    text = everything(project, result)
    assert_no_secret(text)
    for shown in ("no replica at", "lags", "WARNING", 'name="replica"', "cannot import"):
        assert any(shown in line and MASKED in line for line in text.splitlines()), shown


def test_a_scrubbed_failure_keeps_its_rich_traceback(sqlite_project: Project) -> None:
    project = sqlite_project
    project.write_settings(f'env = {{ REPLICA_URL = "{REPLICA}" }}')
    project.pytester.makepyfile(test_leaks=LEAKS)
    recorder = project.pytester.inline_run("-p", "no:randomly", "-l", "-k", "in_locals")
    [report] = recorder.getfailures()

    assert hasattr(report.longrepr, "reprtraceback")  # not flattened to text
    assert MASKED in str(report.longrepr)
    assert "S3cr3t" not in str(report.longrepr)


REMEMBERED = """
from aksara_testing._secrets import remember


def pytest_configure(config):
    remember(config, "postgresql://app:Rem3mbered-pw@db/app")
"""


def test_remember_adds_a_password_to_scrub(sqlite_project: Project) -> None:
    project = sqlite_project
    project.pytester.makeconftest(REMEMBERED)
    project.pytester.makepyfile("def test_it():\n    assert 'Rem3mbered-pw' == ''\n")
    result = project.run("--tb=long")
    text = "\n".join(result.outlines + result.errlines)

    assert "Rem3mbered" not in text
    assert "assert '***' == ''" in text
