"""Faker's own pytest fixtures, importing Faker only when a test asks for one.

Faker's plugin (entry point ``faker``) imports Faker at every pytest start
(~0.09 s) and builds a Faker instance at the start of every session, whether
or not a test uses its ``faker`` fixture. ``aksara test`` runs pytest with
``-p no:faker -p aksara_testing._faker_fixtures``: this module stands in for
it with the same fixtures doing the same thing (a copy of
``faker/contrib/pytest/plugin.py``), so a test that uses ``faker``, with or
without ``faker_locale``/``faker_seed``/``faker_session_locale`` fixtures of
its own, sees exactly what Faker's plugin gives it. The one difference is
when: ``_session_faker`` is built by the first test that needs it, not by an
autouse fixture at the first test of every session.

Plain ``pytest`` is unchanged: this module is used only by ``aksara test``.
"""

from __future__ import annotations

from typing import Any

import pytest

__all__ = ["DEFAULT_SEED", "PLUGIN_ARGS"]

DEFAULT_SEED = 0  # as faker.contrib.pytest.plugin.DEFAULT_SEED

# What ``aksara test`` puts in front of the user's arguments (a later ``-p faker`` wins).
PLUGIN_ARGS = ("-p", "no:faker", "-p", __name__)


@pytest.fixture(scope="session")
def _session_faker(request: pytest.FixtureRequest) -> Any:
    """Fixture that stores the session level ``Faker`` instance.

    This fixture is internal and is only meant for use within the project.
    Third parties should instead use the ``faker`` fixture for their tests.
    """
    from faker import Faker
    from faker.config import DEFAULT_LOCALE

    if "faker_session_locale" in request.fixturenames:
        locale = request.getfixturevalue("faker_session_locale")
    else:
        locale = [DEFAULT_LOCALE]
    return Faker(locale=locale)


@pytest.fixture()
def faker(request: pytest.FixtureRequest) -> Any:
    """Fixture that returns a seeded and suitable ``Faker`` instance."""
    if "faker_locale" in request.fixturenames:
        from faker import Faker

        locale = request.getfixturevalue("faker_locale")
        fake = Faker(locale=locale)
    else:
        fake = request.getfixturevalue("_session_faker")

    seed = DEFAULT_SEED
    if "faker_seed" in request.fixturenames:
        seed = request.getfixturevalue("faker_seed")
    fake.seed_instance(seed=seed)
    fake.unique.clear()

    return fake
