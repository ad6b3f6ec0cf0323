"""The ``aksara`` command. Kept light: ``--help`` imports no pytest, app or driver."""

from __future__ import annotations

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run the ``aksara`` command group; return the process exit code.

    Called as the command itself (``argv`` None: the console script, ``python -m
    aksara_cli``), the process ends here once the run is over; see :func:`_leave`.
    """
    from ._app import run_cli

    code = run_cli(argv)
    if argv is None:
        _leave(code)
    return code


def _leave(code: int) -> None:
    """End the process with ``code`` without the interpreter's own teardown.

    A normal exit waits for non-daemon threads, runs the ``atexit`` handlers
    (logging, coverage, multiprocessing...), then finalizes every module and
    frees every object one by one: 0.1-0.4 s after a run that imported an app,
    SQLAlchemy and pytest, for nothing, since the process ends anyway. The
    first two steps are done here as Python does them; the last is skipped.
    """
    import atexit
    import contextlib
    import os
    import sys
    import threading

    run_exit_functions = getattr(atexit, "_run_exitfuncs", None)
    if run_exit_functions is None:  # not CPython: exit the usual way
        return
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    from aksara_testing._gc_freeze import flush_open_files, take_over_exit_flush

    take_over_exit_flush()  # one flush, after every exit handler, as the teardown's would be
    run_exit_functions()
    flush_open_files()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # closed, or the reader went away
            stream.flush()
    os._exit(code)
