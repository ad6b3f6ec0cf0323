"""The public surface of ``aksara_testing`` changes only on purpose."""

from __future__ import annotations

import aksara_testing


def test_all_is_sorted_without_duplicates() -> None:
    assert aksara_testing.__all__ == sorted(set(aksara_testing.__all__))


def test_every_public_name_is_importable() -> None:
    missing = [name for name in aksara_testing.__all__ if not hasattr(aksara_testing, name)]

    assert missing == []


def test_star_import_gives_exactly_the_public_names() -> None:
    namespace: dict[str, object] = {}
    exec("from aksara_testing import *", namespace)

    assert sorted(name for name in namespace if name != "__builtins__") == aksara_testing.__all__


def test_errors_share_one_base_class() -> None:
    errors = [
        getattr(aksara_testing, name)
        for name in aksara_testing.__all__
        if isinstance(getattr(aksara_testing, name), type)
        and issubclass(getattr(aksara_testing, name), Exception)
    ]

    assert aksara_testing.AksaraError in errors
    assert all(issubclass(error, aksara_testing.AksaraError) for error in errors)
