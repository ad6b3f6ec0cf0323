"""Wrapping the drivers' connect functions: what the guard learns about the caller."""

from __future__ import annotations

from pathlib import Path

import aksara_testing
from aksara_testing._db.drivers import caller_outside


def test_the_caller_named_is_outside_the_whole_package_not_only_db() -> None:
    """A connection opened through ``aksara_testing/_runtime.py`` names the project's line."""
    inside = str(Path(aksara_testing.__file__).parent / "_runtime.py")
    namespace: dict[str, object] = {"caller_outside": caller_outside}
    exec(compile("def through_aksara():\n    return caller_outside()\n", inside, "exec"), namespace)
    through_aksara = namespace["through_aksara"]

    found = through_aksara()  # type: ignore[operator]

    assert found is not None
    assert found.rsplit(":", 1)[0].endswith("test_drivers.py")
