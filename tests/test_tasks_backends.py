"""register_task_backend: home-grown, dramatiq-style and arq-style queues; bad backends."""

from __future__ import annotations

import functools
import importlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from aksara_testing import (
    AksaraError,
    ConfigurationError,
    TaskCall,
    capture_tasks,
    register_task_backend,
)
from aksara_testing._tasks import backends

done: list[Any] = []


@pytest.fixture(autouse=True)
def registry() -> Iterator[None]:
    """Backends registered by a test are removed after it (the built-ins come back)."""
    done.clear()
    before = dict(backends._BACKENDS)
    yield
    for name, backend in list(backends._BACKENDS.items()):
        if before.get(name) is not backend:
            backend.retire()
            del backends._BACKENDS[name]


# A home-grown in-process queue: enqueue now, a worker drains it later.
class Queue:
    def __init__(self) -> None:
        self.jobs: list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = []

    def enqueue(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> str:
        self.jobs.append((func, args, kwargs))
        return f"job-{len(self.jobs)}"


def describe_enqueue(queue: Queue, func: Callable[..., Any], *args: Any, **kwargs: Any) -> TaskCall:
    return TaskCall(func.__name__, func, args, kwargs, held_result="held")


def notify(user: str, *, channel: str = "mail") -> str:
    done.append((user, channel))
    return user


def test_a_registered_queue_is_held_inside_a_block_and_untouched_outside() -> None:
    register_task_backend("homegrown", (Queue, "enqueue"), describe_enqueue)
    queue = Queue()

    with capture_tasks() as tasks:
        held = queue.enqueue(notify, "ann", channel="sms")
    outside = queue.enqueue(notify, "bob")

    assert held == "held"
    assert [(t.name, t.args, t.kwargs, t.backend) for t in tasks] == [
        ("notify", ("ann",), {"channel": "sms"}, "homegrown")
    ]
    assert outside == "job-1"
    assert [job[1] for job in queue.jobs] == [("bob",)]


async def test_held_tasks_of_a_registered_queue_run_in_the_test() -> None:
    register_task_backend("homegrown", (Queue, "enqueue"), describe_enqueue)

    with capture_tasks() as tasks:
        Queue().enqueue(notify, "ann")

    assert await tasks.run_all() == ["ann"]
    assert done == [("ann", "mail")]


def test_run_true_lets_the_original_call_proceed_when_there_is_no_dispatch() -> None:
    register_task_backend("homegrown", (Queue, "enqueue"), describe_enqueue)
    queue = Queue()

    with capture_tasks(run=True) as tasks:
        job = queue.enqueue(notify, "ann")

    assert job == "job-1"
    assert len(queue.jobs) == 1
    assert [t.name for t in tasks] == ["notify"]


def test_registering_a_name_again_replaces_the_backend_and_restores_the_original() -> None:
    original = Queue.enqueue
    register_task_backend("homegrown", (Queue, "enqueue"), describe_enqueue)
    register_task_backend(
        "homegrown",
        (Queue, "enqueue"),
        lambda queue, func, *args, **kwargs: TaskCall("renamed", func, args, kwargs),
    )

    with capture_tasks() as tasks:
        Queue().enqueue(notify, "ann")

    assert [t.name for t in tasks] == ["renamed"]
    backends._BACKENDS.pop("homegrown").retire()
    assert Queue.enqueue is original


def test_a_static_method_target_stays_static() -> None:
    class Jobs:
        @staticmethod
        def submit(func: Callable[..., Any], *args: Any) -> str:
            return "submitted"

    register_task_backend(
        "jobs", (Jobs, "submit"), lambda func, *args: TaskCall(func.__name__, func, args)
    )

    with capture_tasks() as tasks:
        assert Jobs.submit(notify, "ann") is None
        assert Jobs().submit(notify, "bob") is None
    assert Jobs.submit(notify, "cy") == "submitted"
    assert [t.args for t in tasks] == [("ann",), ("bob",)]


# dramatiq style: actors whose .send() ends in send_with_options(args=, kwargs=, delay=).
DRAMATIQ_LIKE = """
class Actor:
    def __init__(self, fn):
        self.fn = fn
        self.actor_name = fn.__name__
        self.sent = []

    def send(self, *args, **kwargs):
        return self.send_with_options(args=args, kwargs=kwargs)

    def send_with_options(self, *, args=(), kwargs=None, delay=None, **options):
        self.sent.append((args, kwargs, delay))
        return "message"


def actor(fn):
    return Actor(fn)
"""


@pytest.fixture
def dramatiq_like(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    (tmp_path / "fakequeue.py").write_text(DRAMATIQ_LIKE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "fakequeue", raising=False)
    return importlib.import_module("fakequeue")


def describe_send(
    actor: Any, *, args: tuple[Any, ...] = (), kwargs: Any = None, delay: Any = None, **options: Any
) -> TaskCall:
    kwargs = kwargs or {}
    return TaskCall(
        actor.actor_name,
        actor.fn,
        args,
        kwargs,
        options={"delay": delay, **options},
        dispatch=lambda: actor.fn(*args, **kwargs),  # no broker in tests: run it inline
    )


def test_a_dramatiq_style_actor_by_module_path(dramatiq_like: Any) -> None:
    register_task_backend("dramatiq", "fakequeue:Actor.send_with_options", describe_send)
    send_notice = dramatiq_like.actor(notify)

    with capture_tasks() as held:
        assert send_notice.send("ann") is None
        send_notice.send_with_options(args=("bob",), delay=5000)
    with capture_tasks(run=True) as ran:
        assert send_notice.send("cy", channel="push") == "cy"

    assert [(t.name, t.args, t.options) for t in held] == [
        ("notify", ("ann",), {"delay": None}),
        ("notify", ("bob",), {"delay": 5000}),
    ]
    assert [t.kwargs for t in ran] == [{"channel": "push"}]
    assert done == [("cy", "push")]
    assert send_notice.sent == []


# arq style: an async pool that enqueues by function name; functions take a ctx first.
async def send_welcome(ctx: dict[str, Any], user: str) -> str:
    done.append((ctx["job_try"], user))
    return f"welcomed {user}"


WORKER_FUNCTIONS = {"send_welcome": send_welcome}


class Pool:
    async def enqueue_job(self, function: str, *args: Any, _job_id: str | None = None) -> str:
        return f"job {function}"


def describe_enqueue_job(
    pool: Pool, function: str, *args: Any, _job_id: str | None = None, **kwargs: Any
) -> TaskCall:
    func = WORKER_FUNCTIONS.get(function)
    return TaskCall(
        function,
        func,
        args,
        kwargs,
        options={"job_id": _job_id},
        runner=functools.partial(func, {"job_try": 1}, *args, **kwargs) if func else None,
    )


async def test_an_arq_style_async_pool_by_function_name() -> None:
    register_task_backend("arq", (Pool, "enqueue_job"), describe_enqueue_job)
    pool = Pool()

    with capture_tasks() as tasks:
        assert await pool.enqueue_job("send_welcome", "ann", _job_id="j1") is None
    with capture_tasks(run=True) as passed:
        assert await pool.enqueue_job("send_welcome", "bob") == "job send_welcome"

    assert [(t.name, t.args, t.options) for t in tasks] == [
        ("send_welcome", ("ann",), {"job_id": "j1"})
    ]
    assert await tasks[0].run() == "welcomed ann"
    assert done == [(1, "ann")]
    assert [t.name for t in passed] == ["send_welcome"]


async def test_a_task_known_only_by_name_cannot_be_run() -> None:
    register_task_backend("arq", (Pool, "enqueue_job"), describe_enqueue_job)

    with capture_tasks() as tasks:
        await Pool().enqueue_job("not_a_worker_function")

    with pytest.raises(AksaraError, match=r"^task not_a_worker_function has no function to run"):
        await tasks[0].run()


def test_a_describe_that_returns_something_else_is_a_one_line_error() -> None:
    register_task_backend("homegrown", (Queue, "enqueue"), lambda *a, **k: ("notify", a))

    with (
        capture_tasks(),
        pytest.raises(ConfigurationError) as excinfo,
    ):
        Queue().enqueue(notify, "ann")
    assert str(excinfo.value) == (
        "task backend 'homegrown': describe returned tuple; it must return "
        "aksara_testing.TaskCall(name, func, args, kwargs)"
    )


@pytest.mark.parametrize(
    ("name", "target", "describe", "message"),
    [
        ("", (Queue, "enqueue"), describe_enqueue, "register_task_backend() got the name ''"),
        (
            "q",
            (Queue, "enqueue"),
            "describe",
            "register_task_backend('q', ...): describe must be a function returning a "
            "TaskCall, got str",
        ),
        (
            "q",
            "queue.Queue.enqueue",
            describe_enqueue,
            "register_task_backend('q', ...): target must be 'module:Class.method' or "
            "(owner, 'attribute'), got 'queue.Queue.enqueue'",
        ),
        (
            "q",
            "no_such_module_x:Queue.enqueue",
            describe_enqueue,
            "register_task_backend('q', ...): target 'no_such_module_x:Queue.enqueue' cannot "
            "be imported (No module named 'no_such_module_x'); check the module path",
        ),
        (
            "q",
            "tests_that_do_not_exist:x",
            describe_enqueue,
            "register_task_backend('q', ...): target 'tests_that_do_not_exist:x' cannot",
        ),
        (
            "q",
            f"{__name__}:Queue.push",
            describe_enqueue,
            f"register_task_backend('q', ...): {__name__}:Queue.push is not a function or "
            "method; name the callable that schedules a task",
        ),
        (
            "q",
            f"{__name__}:Nope.enqueue",
            describe_enqueue,
            f"register_task_backend('q', ...): {__name__}:Nope.enqueue is not a function",
        ),
        (
            "q",
            (Queue, "jobs_count"),
            describe_enqueue,
            "register_task_backend('q', ...): Queue.jobs_count is not a function",
        ),
        (
            "q",
            f"{__name__}:done",
            describe_enqueue,
            f"register_task_backend('q', ...): {__name__}:done is not a function",
        ),
    ],
)
def test_a_bad_backend_is_a_one_line_error(
    name: str, target: Any, describe: Any, message: str
) -> None:
    with pytest.raises(ConfigurationError) as excinfo:
        register_task_backend(name, target, describe)

    assert str(excinfo.value).startswith(message)
    assert "\n" not in str(excinfo.value)


def test_a_target_another_backend_captures_is_refused() -> None:
    register_task_backend("homegrown", (Queue, "enqueue"), describe_enqueue)

    with pytest.raises(ConfigurationError) as excinfo:
        register_task_backend("other", (Queue, "enqueue"), describe_enqueue)

    assert str(excinfo.value) == (
        "register_task_backend('other', ...): enqueue is already captured by the 'homegrown' "
        "backend; register under the name 'homegrown' to replace it"
    )


def test_a_built_in_backend_can_be_replaced_and_comes_back() -> None:
    from starlette.background import BackgroundTask

    with capture_tasks():
        pass
    original_init = backends._BACKENDS["starlette"].patches[0].raw
    register_task_backend(
        "starlette",
        (BackgroundTask, "__init__"),
        lambda task, func, *args, **kwargs: TaskCall("mine", func, args, kwargs),
    )

    with capture_tasks() as tasks:
        BackgroundTask(notify, "ann")

    assert [(t.name, t.backend) for t in tasks] == [("mine", "starlette")]
    backends._BACKENDS.pop("starlette").retire()
    assert BackgroundTask.__init__ is original_init
    with capture_tasks() as tasks:  # the built-in is installed again
        BackgroundTask(notify, "ann")
    assert [t.name for t in tasks] == ["notify"]


def test_a_framework_module_imported_afresh_is_patched_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with capture_tasks():
        pass
    monkeypatch.delitem(sys.modules, "starlette.background")
    fresh = importlib.import_module("starlette.background")

    with capture_tasks() as tasks:
        fresh.BackgroundTask(notify, "ann")

    assert [t.name for t in tasks] == ["notify"]


ENTRY_POINT_TEST = """
from aksara_testing import capture_tasks
from myqueue import Queue, notify

def test_captured_through_the_entry_point():
    with capture_tasks() as tasks:
        assert Queue().enqueue(notify, "ann") is None
    assert [(t.name, t.backend) for t in tasks] == [("notify", "myqueue")]
"""

MYQUEUE = """
from aksara_testing import TaskCall, register_task_backend

class Queue:
    def enqueue(self, func, *args):
        return "queued"

def notify(user):
    return user

def register():
    register_task_backend(
        "myqueue", (Queue, "enqueue"), lambda q, func, *args: TaskCall(func.__name__, func, args)
    )

def broken():
    raise RuntimeError("no redis here")
"""


def make_distribution(pytester: pytest.Pytester, entry_point: str) -> None:
    pytester.makepyfile(myqueue=MYQUEUE)
    info = pytester.path / "myqueue_testing-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: myqueue-testing\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        f"[{backends.ENTRY_POINT_GROUP}]\nmyqueue = {entry_point}\n"
    )


def test_a_package_registers_its_backend_through_the_entry_point_group(
    pytester: pytest.Pytester,
) -> None:
    make_distribution(pytester, "myqueue:register")
    pytester.makepyfile(test_it=ENTRY_POINT_TEST)

    # A fresh process: entry points load once per process.
    result = pytester.runpytest_subprocess("-p", "no:randomly", "-p", "no:cacheprovider")

    result.assert_outcomes(passed=1)


def test_a_failing_entry_point_is_a_one_line_error_naming_the_package(
    pytester: pytest.Pytester,
) -> None:
    make_distribution(pytester, "myqueue:broken")
    pytester.makepyfile(test_it=ENTRY_POINT_TEST)

    result = pytester.runpytest_subprocess("-p", "no:randomly", "-p", "no:cacheprovider")

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E  *aksara_testing.errors.ConfigurationError: task backend entry point myqueue = "
            "'myqueue:broken' failed: RuntimeError: no redis here; fix or uninstall "
            "myqueue-testing"
        ]
    )
