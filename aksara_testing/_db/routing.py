"""The app's own sessions and engines, rerouted to the test layers for the run.

:class:`AppRouting` reads what the ``session`` and ``engine`` settings name,
decides the kind of run (async or sync, see :mod:`.kinds`), and reroutes
them: session makers and classes through :mod:`.sessions`, engines through
:mod:`.engines`. :meth:`AppRouting.restore` undoes whatever was applied,
also after an error half-way::

    routing = AppRouting()
    try:
        routing.apply(settings, run)
    finally:  # at the end of the run
        routing.restore()
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import ConfigurationError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from .._context import Kind, Run
    from .._settings import Settings
    from .engines import EngineRouting
    from .sessions import SessionRebinding

__all__ = ["AppRouting"]


class AppRouting:
    """What ``session`` and ``engine`` name, and their rerouting for one run."""

    def __init__(self) -> None:
        self.kind: Kind = "async"  # "sync": the app's sessions are sync
        self.session_class: type[Session] | None = None  # a sync app's, for db_session
        self.sync_driver: str | None = None  # a sync app's driver, for the layer connection
        self._rebinding: SessionRebinding | None = None
        self._engines: EngineRouting | None = None

    def apply(self, settings: Settings, run: Run) -> None:
        """Reroute what ``session`` and ``engine`` name to ``run``'s layers."""
        from .engines import EngineRouting, sync_driver
        from .kinds import kind_of_run, named_targets
        from .sessions import SessionRebinding, library_session_without_engine, session_class

        named = named_targets(settings)
        self.kind = kind_of_run(named)
        if self.kind == "sync":
            bare = library_session_without_engine(named)
            if bare is not None:
                raise ConfigurationError(
                    f"setting session = {bare.spec!r} (from {settings.source('session')}) "
                    f"is {bare.target.__module__.split('.')[0]}'s own Session class, whose "
                    "sessions use the engine they are given; also set engine = 'module:attr' "
                    "naming the app's engine"
                )
            self.session_class = session_class(named)
            from sqlalchemy.engine import make_url

            url = settings.test_database_url or settings.database_url or "sqlite://"
            self.sync_driver = sync_driver(named, make_url(url))
        self._rebinding = SessionRebinding()
        self._rebinding.apply(named)
        self._engines = EngineRouting(run)
        self._engines.apply(named)

    def restore(self) -> None:
        """Put back what :meth:`apply` changed (all of it, or as far as it got)."""
        if self._rebinding is not None:
            self._rebinding.restore()
            self._rebinding = None
        if self._engines is not None:
            self._engines.restore()
            self._engines = None
