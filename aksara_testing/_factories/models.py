"""What factories need to know about a model: its fields, and how to fill the required ones."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import inspect
import uuid
from collections.abc import Callable
from functools import cache
from typing import Any

__all__ = ["ModelInfo", "model_info"]


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """The fields a model accepts and, for SQLAlchemy models, its required columns."""

    fields: frozenset[str] | None  # None: anything goes (a **kwargs constructor)
    mapped: bool = False
    required: tuple[tuple[str, Callable[[int], Any]], ...] = ()
    # required foreign keys: (column key, relationship key or None, target model)
    parents: tuple[tuple[str, str | None, type], ...] = ()


@cache
def model_info(model: type) -> ModelInfo:
    mapper = _mapper(model)
    if mapper is not None:
        return _sqlalchemy_info(mapper)
    if dataclasses.is_dataclass(model):
        return ModelInfo(frozenset(f.name for f in dataclasses.fields(model)))
    model_fields = getattr(model, "model_fields", None)  # Pydantic v2
    if isinstance(model_fields, dict):
        return ModelInfo(frozenset(model_fields))
    try:
        parameters = inspect.signature(model).parameters.values()
    except (TypeError, ValueError):
        return ModelInfo(None)
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return ModelInfo(None)
    return ModelInfo(frozenset(p.name for p in parameters if p.kind is not p.VAR_POSITIONAL))


def _mapper(model: type) -> Any:
    try:
        from sqlalchemy import inspect as sa_inspect
        from sqlalchemy.orm import Mapper
    except ImportError:  # pragma: no cover - SQLAlchemy is a dependency
        return None
    found: Any = sa_inspect(model, raiseerr=False)
    return found if isinstance(found, Mapper) else None


def _sqlalchemy_info(mapper: Any) -> ModelInfo:
    fields = frozenset(mapper.attrs.keys())
    relationship_of: dict[str, str] = {}
    for rel in mapper.relationships:
        for column in rel.local_columns:
            relationship_of[column.key] = rel.key
    required: list[tuple[str, Callable[[int], Any]]] = []
    parents: list[tuple[str, str | None, type]] = []
    for prop in mapper.column_attrs:
        column = prop.columns[0]
        if column.nullable or column.default is not None or column.server_default is not None:
            continue
        if column.primary_key and (column.autoincrement is True or _is_integer_pk(column)):
            continue
        if column.foreign_keys:
            target = next(iter(column.foreign_keys)).column.table
            target_model = _model_for_table(mapper, target)
            if target_model is not None:
                parents.append((prop.key, relationship_of.get(prop.key), target_model))
                continue
        required.append((prop.key, _generator(column)))
    return ModelInfo(fields, True, tuple(required), tuple(parents))


def _is_integer_pk(column: Any) -> bool:
    try:
        return column.autoincrement == "auto" and column.type.python_type is int
    except NotImplementedError:
        return False


def _model_for_table(mapper: Any, table: Any) -> type | None:
    for other in mapper.registry.mappers:
        if other.local_table is table:
            return other.class_  # type: ignore[no-any-return]
    return None


def _generator(column: Any) -> Callable[[int], Any]:
    """A function of a running number giving a valid, distinct value for ``column``."""
    column_type = column.type
    enum_class = getattr(column_type, "enum_class", None)
    if enum_class is not None:
        members = list(enum_class)
        return lambda n: members[n % len(members)]
    choices = getattr(column_type, "enums", None)
    if choices:
        return lambda n: choices[n % len(choices)]
    from sqlalchemy import JSON, Numeric

    if isinstance(column_type, JSON):
        return lambda n: {}
    try:
        python_type = column_type.python_type
    except NotImplementedError:
        python_type = str
    key = column.key
    if isinstance(column_type, Numeric) and column_type.precision is not None:
        scale = column_type.scale or 0
        whole = 10 ** (column_type.precision - scale)
        as_decimal = python_type is decimal.Decimal
        return lambda n: decimal.Decimal(n % whole) if as_decimal else float(n % whole)
    if python_type is datetime.datetime and not getattr(column_type, "timezone", False):
        return lambda n: datetime.datetime.now()  # naive, as the column expects
    length = getattr(column_type, "length", None)
    if python_type is str:
        limit = length or 255

        def text(n: int) -> str:
            value = f"{key}-{n}"  # n counts per model, so values never repeat in a scope
            return value[-limit:] if len(value) > limit else value

        return text
    simple: dict[type, Callable[[int], Any]] = {
        int: lambda n: n + 1,
        float: lambda n: n + 0.5,
        decimal.Decimal: lambda n: decimal.Decimal(n) + decimal.Decimal("0.5"),
        bool: lambda n: False,
        datetime.datetime: lambda n: datetime.datetime.now(datetime.UTC),
        datetime.date: lambda n: datetime.date.today(),
        datetime.time: lambda n: datetime.time(12, 0),
        datetime.timedelta: lambda n: datetime.timedelta(seconds=n),
        uuid.UUID: lambda n: uuid.uuid4(),
        bytes: lambda n: f"{key}-{n}".encode(),
        dict: lambda n: {},
        list: lambda n: [],
    }
    if isinstance(python_type, type) and issubclass(python_type, enum.Enum):
        members = list(python_type)
        return lambda n: members[n % len(members)]
    return simple.get(python_type, lambda n: f"{key}-{n}")
