"""Making mapped objects for ``create``: straight into ``__dict__`` when nothing can tell.

A mapped class's constructor sets each attribute through SQLAlchemy's
instrumentation: history, events, backrefs — a third of a batch's cost. For
objects :mod:`.bulk` writes and registers as loaded rows, none of that is
needed, so when the class has the default constructor, no validators and no
attribute or init listeners besides SQLAlchemy's own, the values go into the
instance's ``__dict__`` directly. Whatever the constructor would have done for
relationships (the other side of a backref) the writer does after the insert
(:func:`.bulk.write`); if the writer declines, :func:`normalize` replays the
values through the instrumentation before the flush.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from functools import cache
from typing import Any

from .write_plan import writable

__all__ = ["WRITING", "normalize", "raw_constructor"]

WRITING: ContextVar[bool] = ContextVar("aksara_factories_writing", default=False)
"""True while ``create_batch`` builds the objects it will write."""

# SQLAlchemy's own listeners: cascade into the session, backrefs, mapper configuration.
# SQLAlchemy's own attribute listeners, by the names 2.1 gives them and those of 2.0.
_OWN_LISTENERS = (
    "_track_cascade_events.",
    "track_cascade_events.",
    "_backref_listeners.",
    "backref_listeners.",
    "_event_on_init",
)
_STATE = "_sa_instance_state"


@cache
def raw_constructor(model: type) -> Callable[[dict[str, Any]], Any] | None:
    """A constructor writing ``__dict__`` for ``model``, or None when only ``model()`` will do."""
    from sqlalchemy import inspect
    from sqlalchemy.orm import configure_mappers

    configure_mappers()
    mapper: Any = inspect(model)
    manager = mapper.class_manager
    if (
        manager.original_init is not mapper.registry.constructor
        or mapper.validators
        or not writable(mapper)
        or not _only_own(manager.dispatch)
        or not all(_only_own(manager[key].impl.dispatch) for key in manager)
    ):
        return None
    columns = frozenset(prop.key for prop in mapper.column_attrs)
    scalars = frozenset(rel.key for rel in mapper.relationships if not rel.uselist)
    new_instance = manager.new_instance

    def construct(fields: dict[str, Any]) -> Any:
        for key, value in fields.items():
            if key in columns:
                continue
            if key not in scalars or not _transient(value):
                return model(**fields)  # collections, synonyms, rows already saved
        instance = new_instance()
        instance.__dict__.update(fields)
        return instance

    return construct


def _only_own(dispatch: Any) -> bool:
    names = getattr(dispatch, "_event_names", None)
    if names is None:
        return False  # cannot tell: construct the ordinary way
    for name in names:
        for listener in getattr(dispatch, name):
            if not _name(listener).startswith(_OWN_LISTENERS):
                return False
    return True


def _name(listener: Any) -> str:
    """A listener's qualified name, looking through SQLAlchemy's argument-adapting wrappers."""
    name: str = getattr(listener, "__qualname__", "")
    if name.endswith("._listen.<locals>.wrap"):
        for cell in listener.__closure__ or ():
            if callable(cell.cell_contents):
                return _name(cell.cell_contents)
    return name


def _transient(value: Any) -> bool:
    if value is None:
        return True
    state = getattr(value, _STATE, None)
    return state is not None and state.key is None and state.session_id is None


def normalize(instances: list[Any]) -> None:
    """Replay raw-made objects' values through the instrumentation (history, backrefs)."""
    raw = [instance for instance in instances if not getattr(instance, _STATE).modified]
    for instance in raw:  # replayed after all are found: backrefs mark the others modified
        values = instance.__dict__
        fields = {key: value for key, value in values.items() if key != _STATE}
        for key in fields:
            del values[key]
        for key, value in fields.items():
            setattr(instance, key, value)
