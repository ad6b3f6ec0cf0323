"""The safety net, through real pytest runs: outside mock_ai a test's call to an AI host fails
at once with one line; the marker, the setting and extra hosts."""

from __future__ import annotations

from collections.abc import Iterator

# Imported here, before any pytester run: modules first imported inside an in-process
# run are dropped after it, and pydantic-based SDKs do not survive being imported twice.
import anthropic  # noqa: F401
import httpx2  # noqa: F401
import ollama  # noqa: F401
import openai  # noqa: F401
import pytest
from loopback import Loopback, loopback_server

BLOCKED = (
    "aksara: test_calls.py::test_ask tried to call a real AI service (POST {url}); "
    "wrap the call in `with mock_ai(...)` (from aksara_testing) or mark the test "
    "@pytest.mark.allow_ai_calls to let it through"
)


@pytest.fixture
def loopback() -> Iterator[Loopback]:
    with loopback_server() as server:
        yield server


@pytest.fixture(autouse=True)
def configured_project(pytester: pytest.Pytester) -> None:
    """The net guards projects configured for aksara; others are left alone (test_inert.py)."""
    pytester.makepyprojecttoml("[tool.aksara]\n")


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "no:randomly", "-p", "no:cacheprovider", *args)


def test_openai_call_outside_mock_ai_fails_at_once_with_one_line(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_calls="""
        import openai

        client = openai.OpenAI(api_key="sk-test")  # default: two retries with backoff

        def test_ask():
            client.chat.completions.create(model="gpt-4o-mini", messages=[])
        """
    )

    result = run(pytester)

    result.assert_outcomes(failed=1)
    message = BLOCKED.format(url="https://api.openai.com/v1/chat/completions")
    result.stdout.fnmatch_lines([message])
    # pytest.fail(pytrace=False): the message is the whole report, no traceback, no retry.
    assert "Traceback" not in result.stdout.str() and "retry" not in result.stdout.str().lower()


@pytest.mark.parametrize(
    ("call", "url"),
    [
        (
            "anthropic.Anthropic(api_key='k').messages.create("
            "model='claude', max_tokens=1, messages=[])",
            "https://api.anthropic.com/v1/messages",
        ),
        ("ollama.chat(model='llama3.2', messages=[])", "http://127.0.0.1:11434/api/chat"),
        ("httpx.post('http://localhost:11434/api/generate', json={})", "*localhost:11434*"),
    ],
)
def test_other_sdks_and_plain_httpx_are_stopped_too(
    pytester: pytest.Pytester, call: str, url: str
) -> None:
    pytester.makepyfile(
        test_calls=f"""
        import anthropic, httpx, ollama

        async def test_ask():
            {call}
        """
    )

    result = run(pytester)

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([BLOCKED.format(url=url)])


def test_calls_from_threads_are_stopped_even_behind_except_exception(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_calls="""
        from concurrent.futures import ThreadPoolExecutor

        import httpx

        def test_ask():
            try:  # an app's catch-all error handler
                with ThreadPoolExecutor(1) as pool:
                    pool.submit(httpx.post, "http://localhost:11434/api/chat", json={}).result()
            except Exception:
                pass
        """
    )

    result = run(pytester)

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([BLOCKED.format(url="http://localhost:11434/api/chat")])


def test_extra_hosts_from_the_setting_and_the_marker_that_lets_a_test_through(
    pytester: pytest.Pytester, loopback: Loopback
) -> None:
    pytester.makepyprojecttoml(f'[tool.aksara]\nai_hosts = ["127.0.0.1:{loopback.port}"]\n')
    pytester.makepyfile(
        test_calls=f"""
        import httpx, pytest
        from aksara_testing import mock_ai

        URL = "{loopback.url}/v1/chat/completions"
        BODY = {{"model": "local", "messages": [{{"role": "user", "content": "hi"}}]}}

        def test_ask():
            httpx.post(URL, json=BODY)

        @pytest.mark.allow_ai_calls
        def test_allowed():
            assert httpx.post(URL, json=BODY).json() == {{"served": "/v1/chat/completions"}}

        def test_mocked():
            with mock_ai(response="local answer"):
                reply = httpx.post(URL, json=BODY).json()
            assert reply["choices"][0]["message"]["content"] == "local answer"
        """
    )

    result = run(pytester, "-v")

    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        ["*test_ask FAILED*", "*test_allowed PASSED*", "*test_mocked PASSED*"]
    )
    result.stdout.fnmatch_lines([BLOCKED.format(url=f"{loopback.url}/v1/chat/completions")])
    assert loopback.paths == ["/v1/chat/completions"]  # only the allowed test went out


@pytest.mark.parametrize(
    "how", ["pyproject", "env"], ids=["allow_ai_calls-setting", "AKSARA_ALLOW_AI_CALLS"]
)
def test_the_setting_turns_the_net_off_for_every_test(
    pytester: pytest.Pytester, loopback: Loopback, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    hosts = f'ai_hosts = ["127.0.0.1:{loopback.port}"]\n'
    if how == "pyproject":
        pytester.makepyprojecttoml(f"[tool.aksara]\n{hosts}allow_ai_calls = true\n")
    else:
        pytester.makepyprojecttoml(f"[tool.aksara]\n{hosts}")
        monkeypatch.setenv("AKSARA_ALLOW_AI_CALLS", "true")
    pytester.makepyfile(
        test_calls=f"""
        import httpx

        def test_ask():
            httpx.post("{loopback.url}/api/chat", json={{}})
        """
    )

    result = run(pytester)

    result.assert_outcomes(passed=1)
    assert loopback.paths == ["/api/chat"]


def test_the_tests_own_respx_route_for_an_ai_host_is_not_blocked(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_calls="""
        import httpx, respx

        @respx.mock
        def test_ask():
            respx.post("https://api.openai.com/v1/chat/completions").respond(json={"ok": 1})
            assert httpx.post("https://api.openai.com/v1/chat/completions").json() == {"ok": 1}
        """
    )

    run(pytester).assert_outcomes(passed=1)


def test_an_http_library_first_imported_inside_the_test_is_guarded(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_calls="""
        import sys

        def test_ask():
            assert "httpcore" not in sys.modules  # nothing imported it before the test
            import httpx

            httpx.post("http://localhost:11434/api/chat", json={})
        """
    )

    # A fresh interpreter: this one imported httpx long ago. respx's own plugin (a dev
    # dependency here) would import httpx at start-up.
    result = pytester.runpytest_subprocess("-p", "no:randomly", "-p", "no:faker", "-p", "no:respx")

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([BLOCKED.format(url="http://localhost:11434/api/chat")])


def test_the_net_loads_no_http_library_in_projects_without_one(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import sys

        def test_nothing_loaded():
            loaded = {name.split(".")[0] for name in sys.modules}
            assert loaded & {"httpx", "httpx2", "httpcore", "httpcore2", "respx"} == set()
        """
    )

    result = pytester.runpytest_subprocess("-p", "no:randomly", "-p", "no:faker", "-p", "no:respx")

    result.assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('["http://ok.example", "bad host!"]', "setting ai_hosts entry 'bad host!'"),
        ("1", "setting ai_hosts = 1 (from pyproject.toml) has the wrong type"),
    ],
)
def test_a_bad_ai_hosts_setting_is_a_one_line_usage_error(
    pytester: pytest.Pytester, value: str, message: str
) -> None:
    pytester.makepyprojecttoml(f"[tool.aksara]\nai_hosts = {value}\n")
    pytester.makepyfile("def test_ok(): pass")

    result = run(pytester)

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message}*"])
