"""The run's start-up objects, kept out of the garbage collector's way.

A full collection walks every object the collector tracks, and a test run
makes few new ones next to what start-up left: the modules, classes and
collected items (over 100,000 objects in a one-table project, more with a
real app). So each full collection during the tests walks start-up again.
After collection, :func:`freeze` moves what exists into the collector's
permanent generation (``gc.freeze()``); full collections then walk only
what the tests made. :func:`thaw` hands everything back at the end of the
run, so an in-process run (pytester) leaves nothing behind.

A cycle made before the freeze that becomes garbage during the run is freed
at :func:`thaw` rather than at once. A test that needs such an object
collected calls ``gc.unfreeze()`` first.

Example::

    frozen = freeze()   # after collection
    ...                 # the tests
    if frozen:
        thaw()
"""

from __future__ import annotations

import gc

__all__ = ["freeze", "thaw"]


def freeze() -> bool:
    """Freeze what exists now; False (and nothing done) when something else already froze."""
    if gc.get_freeze_count():  # the project manages freezing itself (a pre-fork set-up)
        return False
    gc.freeze()
    return True


def thaw() -> None:
    """Hand the frozen objects back to the collector."""
    gc.unfreeze()
