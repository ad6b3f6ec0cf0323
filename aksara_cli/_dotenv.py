"""Reading ``.env`` files the way python-dotenv (and so pydantic-settings) does.

Enough of its syntax for the values ``aksara init`` looks up: ``KEY=value``,
``export KEY=value``, single and double quotes, ``#`` comments, and
``${VAR}`` / ``${VAR:-default}`` expanded from earlier lines. Variables of the
shell running ``aksara init`` are not used: what it writes depends on the
project's files only.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["read_env_file"]

_LINE = re.compile(r"""^\s*(?:export\s+)?(?P<key>[^=#\s'"]+)\s*=\s*(?P<value>.*)$""")
_VARIABLE = re.compile(r"\$\{(?P<name>[^}:]*)(?::-(?P<default>[^}]*))?\}")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "'": "'"}


def read_env_file(path: Path) -> dict[str, str]:
    """The variables ``path`` sets; empty when it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8").removeprefix("\ufeff")
    except (OSError, UnicodeDecodeError):
        return {}
    values: dict[str, str] = {}
    for line in text.splitlines():
        match = _LINE.match(line)
        if match is None:
            continue
        values[match["key"]] = _expand(_unquote(match["value"].strip()), values)
    return values


def _unquote(raw: str) -> str:
    if raw[:1] in ("'", '"'):
        end = _closing_quote(raw)
        if end is not None:
            inner = raw[1:end]
            if raw[0] == '"':
                return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m[1], m[0]), inner)
            return inner.replace("\\'", "'")
    # Unquoted: a comment starts at whitespace followed by #.
    return re.sub(r"\s+#.*$", "", raw).strip()


def _closing_quote(raw: str) -> int | None:
    quote, index = raw[0], 1
    while index < len(raw):
        if raw[index] == "\\":
            index += 2
            continue
        if raw[index] == quote:
            return index
        index += 1
    return None


def _expand(value: str, known: dict[str, str]) -> str:
    return _VARIABLE.sub(lambda m: known.get(m["name"], m["default"] or ""), value)
