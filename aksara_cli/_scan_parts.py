"""URLs an app assembles from parts (``POSTGRES_HOST``, ``POSTGRES_DB``...), read from source.

The shapes real projects use: an f-string, ``PostgresDsn.build(...)`` /
``MultiHostUrl.build(...)`` and SQLAlchemy's ``URL.create(...)``, ``+``,
``or`` and ``str()``, inside a ``@property``/``@computed_field`` or a
validator that reads ``self.X``, ``values["X"]``, ``values.get("X")`` or
``info.data["X"]``. Each part's value comes from a callback (an env file, the
field's default); a part without one is kept as a marker, so the caller can
say which parts it could not find. Anything else cannot be worked out.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Assembled", "assemble", "strip_password"]

_HOLE = "\x00"
_BUILDERS = frozenset({"build", "create"})  # PostgresDsn.build, MultiHostUrl.build, URL.create
_IDENTITY = frozenset({"str", "quote", "quote_plus", "make_url", "unicode_string"})


@dataclass
class Assembled:
    """The URL a function builds: parts it read, and parts it could not find."""

    text: str
    parts: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    password_left_out: bool = False

    @property
    def url(self) -> str | None:
        """The URL, when every part but the password was found."""
        return None if _HOLE in self.text else self.text


def assemble(
    returned: list[ast.expr], local: dict[str, ast.expr], part: Callable[[str], str | None]
) -> Assembled | None:
    """The first of ``returned`` that builds a URL from parts, with ``part(name)`` for each."""
    for node in returned:
        builder = _Builder(local, part)
        text = builder.render(node, depth=0)
        if text is None or "://" not in text or not builder.parts:
            continue
        stripped, had_password = strip_password(text)
        missing = [name for name in builder.parts if f"{_HOLE}{name}{_HOLE}" in stripped]
        # A password part nothing gave a value is not a password left out.
        left_out = had_password and stripped.count(_HOLE) == text.count(_HOLE)
        return Assembled(stripped, builder.parts, missing, left_out)
    return None


def strip_password(url: str) -> tuple[str, bool]:
    """``url`` without the password of its user part or query; whether it had one."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url, False
    userinfo, at, _ = rest.split("?", 1)[0].rpartition("@")
    user, colon, password = userinfo.partition(":")
    had = bool(at and password)
    if at and colon:
        rest = f"{user}@{rest[len(userinfo) + 1 :]}"
    query = re.sub(r"([?&])(?:password|passwd)=[^&]*&?", r"\1", rest, flags=re.IGNORECASE)
    had = had or query != rest
    return f"{scheme}://{query.rstrip('?&')}", had


class _Builder:
    def __init__(self, local: dict[str, ast.expr], part: Callable[[str], str | None]) -> None:
        self.local = local
        self.part = part
        self.parts: list[str] = []
        self.resolving: set[str] = set()  # local names being rendered: no self-reference loop

    def render(self, node: ast.expr, depth: int) -> str | None:
        if depth > 10:
            return None
        if isinstance(node, ast.Constant):
            return None if node.value is None else str(node.value)
        if isinstance(node, ast.JoinedStr):
            pieces = [self.render(v, depth + 1) for v in node.values]
            return None if any(p is None for p in pieces) else "".join(p or "" for p in pieces)
        if isinstance(node, ast.FormattedValue):
            return self.render(node.value, depth + 1)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left, right = self.render(node.left, depth + 1), self.render(node.right, depth + 1)
            return None if left is None or right is None else left + right
        if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or):
            values = [self.render(v, depth + 1) for v in node.values]
            return next((v for v in values if v), values[-1] if values else None)
        if isinstance(node, ast.Name) and node.id in self.local:
            if node.id in self.resolving:
                return None
            self.resolving.add(node.id)
            try:
                return self.render(self.local[node.id], depth + 1)
            finally:
                self.resolving.discard(node.id)
        name = _part_name(node)
        if name is not None:
            return self._part(name)
        if isinstance(node, ast.Call):
            return self._call(node, depth)
        return None

    def _part(self, name: str) -> str:
        if name not in self.parts:
            self.parts.append(name)
        value = self.part(name)
        return f"{_HOLE}{name}{_HOLE}" if value is None else value

    def _call(self, node: ast.Call, depth: int) -> str | None:
        func = node.func
        called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if called in _IDENTITY and node.args:
            return self.render(node.args[0], depth + 1)
        if called in ("get", "getenv") and node.args:  # values.get("X", default)
            key = node.args[0]
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                found = self._part(key.value)
                if _HOLE in found and len(node.args) > 1:
                    return self.render(node.args[1], depth + 1)
                return found
        if called in _BUILDERS and isinstance(func, ast.Attribute):
            return self._build(node, depth)
        return None

    def _build(self, node: ast.Call, depth: int) -> str | None:
        given = {k.arg: k.value for k in node.keywords if k.arg}
        if node.args:
            given.setdefault("drivername", node.args[0])

        def value(*names: str) -> str | None:
            for name in names:
                if name in given:
                    return self.render(given[name], depth + 1)
            return None

        scheme = value("scheme", "drivername")
        if scheme is None:
            return None
        user, password = value("username", "user"), value("password")
        host, port = value("host") or "", value("port")
        path = (value("path", "database") or "").lstrip("/")
        userinfo = f"{user}{':' + password if password else ''}@" if user else ""
        return f"{scheme}://{userinfo}{host}{':' + port if port else ''}/{path}"


def _part_name(node: ast.expr) -> str | None:
    """``X`` for ``self.X``, ``cls.X``, ``settings.X``, ``values["X"]``, ``info.data["X"]``."""
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return node.attr
    if isinstance(node, ast.Subscript):
        key = node.slice
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            return key.value
    return None
