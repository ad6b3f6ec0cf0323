"""Making the objects of rows :mod:`.bulk` inserted persistent, as a flush leaves them.

SQLAlchemy's own way is ``Session._save_impl`` before the insert and
``Session._register_persistent`` after it. Where no attach listener could
tell the difference, :class:`Registration` sets what those two leave on each
object's state and on the session directly, which costs far less for a
thousand objects; any internal it needs missing, SQLAlchemy's pair runs.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from functools import cache
from typing import Any

from .write_plan import WritePlan

__all__ = ["Registration", "session_supported"]


_ATTACH_EVENTS = ("before_attach", "after_attach", "transient_to_pending", "pending_to_persistent")


@cache
def session_supported(session_class: Any) -> bool:
    """The two Session internals a flush uses that this writer uses too (SQLAlchemy 2.0, 2.1)."""
    return hasattr(session_class, "_save_impl") and hasattr(session_class, "_register_persistent")


class Registration:
    """The new objects of one batch, registered in ``session`` around the insert of their rows.

    Made before the insert, where SQLAlchemy's own way adds them as pending;
    :meth:`finish` after it.
    """

    def __init__(self, session: Any, states: list[Any]) -> None:
        self.session = session
        self.states = states
        self.lean = _lean_registration(session)
        if not self.lean:
            _add_pending(session, states)

    def finish(self, plans: dict[Any, WritePlan]) -> None:
        """Make the objects persistent, as a flush leaves them."""
        session, states = self.session, self.states
        if not self.lean or not _register(session, states, plans):
            if self.lean:
                _add_pending(session, states)
            session._register_persistent(set(states))


def _add_pending(session: Any, states: list[Any]) -> None:
    """What ``add_all`` would do to these objects (every link cascades)."""
    for state in states:
        session._save_impl(state)


def _lean_registration(session: Any) -> bool:
    """Whether :func:`_register` can stand in for ``_save_impl`` + ``_register_persistent``.

    It sets what those two leave on a new object's state and the session
    (SQLAlchemy 2.0 and 2.1 internals, each checked here); with any attach
    listener, or an internal missing, SQLAlchemy's own pair runs instead.
    """
    from sqlalchemy.orm.state import InstanceState

    dispatch = session.dispatch
    if any(getattr(dispatch, name, None) for name in _ATTACH_EVENTS):
        return False
    identity_map = session.identity_map
    return (
        isinstance(getattr(identity_map, "_dict", None), dict)
        and hasattr(identity_map, "_wr")
        and hasattr(session, "hash_key")
        and hasattr(InstanceState, "_commit_all_states")
    )


def _register(session: Any, states: list[Any], plans: dict[Any, WritePlan]) -> bool:
    """Make the new rows' objects persistent, as a flush leaves them; False if it cannot.

    Each gets its identity key, a place in the identity map, the session's id
    and its transaction's list of new objects (a rollback makes them transient
    again), and no pending changes.
    """
    from sqlalchemy.orm.state import InstanceState

    transaction = session._transaction
    new_in_transaction = getattr(transaction, "_new", None)
    if not isinstance(new_in_transaction, MutableMapping):
        return False
    identity_map = session.identity_map
    present, weak = identity_map._dict, identity_map._wr
    keys = []
    for state in states:
        mapper = state.mapper
        values = state.dict
        key = (
            mapper._identity_class,
            tuple(values[k] for k in plans[mapper].primary_keys),
            state.identity_token,
        )
        if key in present or None in key[1]:
            return False  # SQLAlchemy's own registration warns or refuses
        keys.append(key)
    hash_key = session.hash_key
    for state, key in zip(states, keys, strict=True):
        state.session_id = hash_key
        state.key = key
        present[key] = state
        state._instance_dict = weak
        state._orphaned_outside_of_session = False
        new_in_transaction[state] = True
    InstanceState._commit_all_states(((state, state.dict) for state in states), identity_map)
    return True
