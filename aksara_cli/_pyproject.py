"""Writing the ``[tool.aksara]`` table into ``pyproject.toml`` as text.

:mod:`tomllib` only reads, and a round trip through a TOML writer would lose
the user's comments and layout. So the table is rendered as text and spliced
in: appended, or put where the old table was. The result is parsed again and
compared with the original, so nothing but ``tool.aksara`` can change.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["PyprojectError", "has_table", "read_table", "render_table", "replace_table"]

_HEADER = re.compile(r"""^\s*\[\[?\s*(?P<name>[^\]]+?)\s*\]\]?\s*(#.*)?$""")
_AKSARA = re.compile(r"""^tool\s*\.\s*(aksara|"aksara"|'aksara')(\s*\..*)?$""")
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


class PyprojectError(Exception):
    """``pyproject.toml`` cannot be updated safely; the message says what to do."""


def render_table(
    values: Mapping[str, Any], comments: Sequence[str] = (), newline: str = "\n"
) -> str:
    """``[tool.aksara]`` with ``values`` (strings, lists of strings, string tables).

    ``comments`` are written as ``# ...`` lines after the values.
    """
    lines = ["[tool.aksara]"]
    for key, value in values.items():
        lines.append(f"{key} = {_value(value)}")
    lines += [f"# {c}" if c else "#" for c in comments]
    return newline.join(lines) + newline


def _value(value: Any) -> str:
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        items = ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items())
        return "{ " + items + " }"
    raise TypeError(f"cannot write {value!r} into [tool.aksara]")


def _string(value: str) -> str:
    # A JSON string is a valid TOML basic string for everything json.dumps emits.
    return json.dumps(value, ensure_ascii=False)


def _key(name: str) -> str:
    return name if _BARE_KEY.match(name) else _string(name)


def has_table(text: str) -> bool:
    """Whether ``text`` (a pyproject.toml) defines ``tool.aksara`` in any form."""
    return read_table(text) is not None


def read_table(text: str) -> dict[str, Any] | None:
    """The ``tool.aksara`` table of ``text`` (a pyproject.toml), or None."""
    tool = _parse(text).get("tool")
    table = tool.get("aksara") if isinstance(tool, dict) else None
    return table if isinstance(table, dict) else None


def replace_table(text: str, table: str) -> str:
    """``text`` with its ``[tool.aksara]`` table (and sub-tables) replaced by ``table``.

    Appended at the end when there is none. Raises :class:`PyprojectError` when
    the file cannot be parsed or the edit would change anything else.
    """
    before = _parse(text)
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = text.splitlines(keepends=True)
    spans = _aksara_spans(lines)
    if spans:
        (start, end), *others = spans
        for other_start, other_end in reversed(others):
            del lines[other_start:other_end]
        lines[start:end] = [table]
        result = "".join(lines)
    elif has_table(text):
        raise PyprojectError(
            "pyproject.toml sets tool.aksara without a [tool.aksara] header (dotted keys or an "
            "inline table); move those settings under a [tool.aksara] header and run again"
        )
    else:
        result = text
        if result and not result.endswith(("\n", "\r")):
            result += newline
        if result.strip():
            result += newline
        result += table
    _check(before, _parse(result), _parse(table))
    return result


def _parse(text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PyprojectError(f"pyproject.toml is not valid TOML ({exc}); fix it first") from None


def _aksara_spans(lines: list[str]) -> list[tuple[int, int]]:
    """``(start, end)`` line ranges of ``[tool.aksara]`` and ``[tool.aksara.*]`` tables.

    A range stops before the next table's header and the comments and blank
    lines just above it, which belong to that table.
    """
    headers = [(i, _is_aksara(name)) for i, name in _headers(lines)]
    spans = []
    for n, (index, ours) in enumerate(headers):
        if not ours or (n and headers[n - 1][1]):
            continue  # not ours, or a sub-table right after ours: part of that span
        following = [i for i, other_ours in headers[n + 1 :] if not other_ours]
        end = following[0] if following else len(lines)
        while end > index + 1 and _is_blank_or_comment(lines[end - 1]):
            end -= 1
        spans.append((index, end))
    return spans


def _headers(lines: list[str]) -> list[tuple[int, str]]:
    """Table headers outside multi-line strings: ``(line index, dotted name)``."""
    found = []
    in_string: str | None = None
    for index, line in enumerate(lines):
        if in_string is None:
            match = _HEADER.match(line)
            if match:
                found.append((index, match.group("name")))
                continue
        for quote in ('"""', "'''"):
            if (in_string is None or in_string == quote) and line.count(quote) % 2 == 1:
                in_string = None if in_string else quote
    return found


def _is_aksara(name: str) -> bool:
    return _AKSARA.match(name) is not None


def _is_blank_or_comment(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def _check(before: dict[str, Any], after: dict[str, Any], table: dict[str, Any]) -> None:
    expected = _without_aksara(before)
    expected.setdefault("tool", {})["aksara"] = table["tool"]["aksara"]
    if after != expected:
        raise PyprojectError(
            "pyproject.toml could not be updated without changing other settings; "
            "add the [tool.aksara] table printed above by hand"
        )


def _without_aksara(data: dict[str, Any]) -> dict[str, Any]:
    copy = dict(data)
    tool = copy.get("tool")
    if isinstance(tool, dict):
        copy["tool"] = {k: v for k, v in tool.items() if k != "aksara"}
    return copy
