"""The run's start-up objects, kept out of the garbage collector's way.

A full collection walks every object the collector tracks, and start-up
leaves many: the modules, classes and collected items (over 100,000 objects
in a one-table project, more with a real app). Every full collection walks
them again: those during the tests, pytest's own at the end of the run, and
the interpreter's at exit, which together cost a one-test run about 0.3 s
here. After collection, :func:`freeze` moves what exists into the
collector's permanent generation (``gc.freeze()``); full collections then
walk only what came after.

At the end of the run (:func:`end_run`) the objects stay frozen, so the
process's last collections skip them too; files left open are flushed at
exit as that last collection would have (:func:`flush_open_files`, which
``aksara test`` also calls). A run inside another one (pytester's
in-process runs) does not freeze; a second run in the same process (a
notebook, a script calling ``pytest.main`` twice) hands back the first
run's objects and collects them before freezing its own, so garbage never
piles up.

A cycle made before the freeze that becomes garbage during the run is not
freed before the run ends; a test that needs such an object collected calls
``gc.unfreeze()`` first.

Example::

    start_run()
    frozen = freeze()   # after collection
    ...                 # the tests
    end_run(frozen)
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import io

__all__ = ["end_run", "flush_open_files", "freeze", "start_run", "take_over_exit_flush"]

_FILES = (io.TextIOWrapper, io.BufferedWriter, io.BufferedRandom)

# Process-wide, as the collector is: how many pytest runs are active now (an
# in-process run nests in another), and whether an ended run left its freeze.
_active_runs = 0
_left_frozen = False


def start_run() -> None:
    global _active_runs
    _active_runs += 1


def freeze() -> bool:
    """Freeze what exists now; False (and nothing done) when nested or something else froze.

    A run nested in another (pytester's in-process runs) does not freeze: the
    process and its collector belong to the outer run, which decides alone.
    """
    global _left_frozen
    if _active_runs > 1:
        return False
    if _left_frozen:  # an earlier run in this process kept its freeze: free its garbage
        _left_frozen = False
        gc.unfreeze()
        gc.collect()
    elif gc.get_freeze_count():  # the project manages freezing itself (a pre-fork set-up)
        return False
    gc.freeze()
    return True


def end_run(frozen: bool) -> None:
    """The run is over: its freeze is kept to exit (only an outermost run freezes)."""
    global _active_runs, _left_frozen
    _active_runs = max(_active_runs - 1, 0)
    if frozen:
        _left_frozen = True


def flush_open_files() -> None:
    """Flush the files left open (a conftest's report file...), frozen ones included.

    An exit's collection would flush those in reference cycles; a frozen one,
    or one after ``os._exit``, never is. What was frozen stays frozen.
    """
    frozen = gc.get_freeze_count() > 0
    gc.unfreeze()  # get_objects() leaves the frozen out
    try:
        for obj in gc.get_objects():
            if type(obj) in _FILES and not obj.closed:
                with contextlib.suppress(Exception):
                    obj.flush()
    finally:
        if frozen:
            gc.freeze()


def take_over_exit_flush() -> None:
    """The caller flushes after every exit handler (``aksara test``): no flush of ours at exit."""
    atexit.unregister(_flush_if_frozen)


def _flush_if_frozen() -> None:
    if _left_frozen:
        flush_open_files()


atexit.register(_flush_if_frozen)  # once per process; a no-op unless a run kept its freeze
