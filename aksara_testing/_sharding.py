"""``--splits N --group I`` groups that do not depend on the order tests run in.

pytest-split cuts a group out of the list of tests in the order it receives
them. pytest-randomly shuffles that list first, with each machine's own seed,
so groups computed on different CI machines overlapped and missed tests.
``aksara test --splits`` loads this plugin (``-p aksara_testing._sharding``,
which pytest-xdist passes on to its workers), and plain ``pytest --splits`` in
a project configured for aksara registers it at session start: pytest-split
chooses from the tests in collection order, the same on every machine, and the
group keeps the run order it had, shuffled or not.
"""

from __future__ import annotations

from typing import Any

import pytest

__all__ = ["StableSplit"]

_COLLECTED = pytest.StashKey[dict[pytest.Item, int]]()


def pytest_itemcollected(item: pytest.Item) -> None:
    """Number the tests in collection order, before any plugin reorders them."""
    order = item.config.stash.setdefault(_COLLECTED, {})
    order.setdefault(item, len(order))


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    """Put pytest-split's group selection (registered by its own configure hook) behind ours."""
    split = config.pluginmanager.get_plugin("pytestsplitplugin")
    if split is not None:
        config.pluginmanager.unregister(split)
        config.pluginmanager.register(StableSplit(split), "aksara-stable-split")


class StableSplit:
    """pytest-split's selection, made on the collection order and applied to the run order."""

    def __init__(self, split: Any) -> None:
        self._split = split

    @pytest.hookimpl(trylast=True)  # where pytest-split's own selection runs
    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        collected = config.stash.get(_COLLECTED, {})
        stable = sorted(items, key=lambda item: collected.get(item, len(collected)))
        self._split.pytest_collection_modifyitems(config, stable)  # keeps only the group
        chosen = set(stable)
        items[:] = [item for item in items if item in chosen]
