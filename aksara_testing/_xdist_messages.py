"""One message per test from a pytest-xdist worker to its controller.

A worker tells the controller six things about every test, each in a message
of its own: the test started, its three reports, it finished, and it is done
(the scheduler's cue to send more). Each message is a pipe write the worker
flushes and a wake-up of the controller, a third process on the cores the
workers share: for tests of a few milliseconds, a large share of what they
cost (``benchmarks/RESULTS.md``, parallel runs). In a project configured for
aksara the worker keeps a test's first five messages and sends them with the
sixth; the controller takes them apart and handles each one as pytest-xdist
would, in the same order. Its hooks, reports, ``-x`` and junitxml see what
they saw before; only the start of a test reaches the controller when the
test has ended, as its reports do.

The two sides agree through the worker's input: a worker holds messages back
only when its controller asked for it (:func:`ask`), so a controller without
this never receives one it cannot read. Any other message (a warning, an
error, the end of the run) sends what is held first.

Example::

    ask(node)          # the controller, in pytest_configure_node
    hold_back(config)  # the worker, in pytest_configure
"""

from __future__ import annotations

import marshal
from collections.abc import Callable
from typing import Any

import pytest

__all__ = ["ask", "hold_back"]

KEY = "aksara_one_message_per_test"
_HELD = frozenset({"logstart", "testreport", "logfinish"})
_LAST = "runtest_protocol_complete"


def ask(node: Any) -> None:
    """Controller: ask the worker of ``node`` for one message per test, and read them.

    Only a worker this interpreter starts on this machine is asked: the messages travel
    in :mod:`marshal`'s format, which is the interpreter's own.
    """
    spec = getattr(getattr(node, "gateway", None), "spec", None)
    if not getattr(spec, "popen", False) or getattr(spec, "python", None):
        return
    node.workerinput[KEY] = True
    receive: Callable[[Any], None] = node.process_from_remote

    def process_from_remote(eventcall: Any) -> None:
        if type(eventcall) is tuple and eventcall[0] == KEY:
            for name, kwargs in marshal.loads(eventcall[1]["events"]):
                receive((name, kwargs))
            return
        receive(eventcall)

    node.process_from_remote = process_from_remote  # read before the worker starts


def hold_back(config: pytest.Config) -> None:
    """Worker: send a test's messages together, if the controller asked."""
    if not getattr(config, "workerinput", {}).get(KEY):
        return
    interactor = next(
        (
            plugin
            for plugin in config.pluginmanager.get_plugins()
            if type(plugin).__name__ == "WorkerInteractor" and hasattr(plugin, "sendevent")
        ),
        None,
    )
    if interactor is None:  # a pytest-xdist we do not know: every message goes as it comes
        return
    send: Callable[..., None] = interactor.sendevent
    held: list[tuple[str, dict[str, Any]]] = []

    def sendevent(name: str, **kwargs: Any) -> None:
        if name in _HELD:
            held.append((name, kwargs))
            return
        if held:
            if name == _LAST:
                held.append((name, kwargs))
            events = held.copy()
            held.clear()
            try:
                send(KEY, events=marshal.dumps(events))
            except ValueError:  # a value marshal cannot write: each goes on its own
                for event, its in events:
                    send(event, **its)
            if name == _LAST:
                return
        send(name, **kwargs)

    interactor.sendevent = sendevent
