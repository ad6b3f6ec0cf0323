"""Masking passwords in text: find the passwords of database URLs, replace them by ``***``.

Pure text work, without pytest: :mod:`._secrets` decides which passwords a
run knows and which of pytest's output passes through the :class:`Scrubber`.
A password is masked in every form it can be printed in — plain,
percent-encoded, escaped, cut in two by pytest's ``saferepr`` — as a whole
word; a short one only where it stands as a password.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus, unquote, unquote_plus

__all__ = ["ANYWHERE_MIN", "MASK", "Password", "Scrubber", "passwords_in"]

MASK = "***"  # as mask_url writes it
# Shorter passwords (and ones equal to a user, host or database name, which the
# masked URL shows anyway) are replaced only where they stand as a password.
ANYWHERE_MIN = 4

_URL = re.compile(r"(?P<scheme>[A-Za-z][\w+.-]*)://(?P<rest>[^\s'\"<>]+)")
# SQLAlchemy's own reading: the password runs from the first ':' to the first '@'.
_USERINFO = re.compile(
    r"(?P<user>[^:/@]*):(?P<password>[^@]*)@(?P<host>\[[^\]]*\]|[^/:?]*)(?::\d*)?"
    r"(?:/(?P<database>[^?]*))?"
)
_QUERY = re.compile(r"[?&](?:password|passwd|pwd)=(?P<password>[^&#]*)", re.IGNORECASE)
# Where a password of any length is recognised: ``scheme://user:…@`` and
# ``password=…`` / ``'password': '…'`` / ``password   = '…'`` (pytest's locals).
_IN_URL = r"(?P<url>://[^\s:/@'\"]*:)(?:{forms})(?=@)"
_AFTER_KEY = (
    r"(?P<key>(?i:pass(?:word|wd)?|pwd)[\w-]*['\"]?\s*[:=]\s*(?i:[rbu])?['\"]?)"
    r"(?:{forms})(?=[\s'\"&,;)\]}}]|$)"
)
# Masking these everywhere would mask the label itself: ``***='***'``.
_LABELS = frozenset({"password", "passwd", "pass", "pwd"})
_ELLIPSIS = "..."  # pytest's saferepr cuts long values in the middle with it


@dataclasses.dataclass(frozen=True)
class Password:
    """One password the run knows, and the names shown next to it (never secret)."""

    value: str  # as the driver gets it: percent-decoded
    written: str = ""  # as written in the URL, when it differs
    public: frozenset[str] = frozenset()


def passwords_in(text: str) -> list[Password]:
    """The passwords of the URLs in ``text`` (user-info and ``?password=``).

    >>> [p.value for p in passwords_in("postgresql://app:s%40cret@db/app")]
    ['s@cret']
    """
    found = []
    for match in _URL.finditer(text):
        rest = match["rest"]
        public = {*match["scheme"].lower().split("+")}
        userinfo = _USERINFO.match(rest)
        if userinfo is not None:
            public |= {unquote(userinfo[k] or "").lower() for k in ("user", "host", "database")}
            raw = userinfo["password"]
            found.append(Password(unquote(raw), raw, frozenset(public - {""})))
        for query in _QUERY.finditer(rest):
            raw = query["password"]
            found.append(Password(unquote_plus(raw), raw, frozenset(public - {""})))
    return [p for p in found if p.value]


class Scrubber:
    """Replaces the passwords it was given by ``***`` in any text."""

    def __init__(self) -> None:
        self._passwords: set[Password] = set()
        self._anywhere: re.Pattern[str] | None = None
        self._in_context: re.Pattern[str] | None = None
        self._edges: tuple[str, ...] = ()

    def add(self, passwords: Iterable[Password]) -> None:
        new = set(passwords) - self._passwords
        if new:
            self._passwords |= new
            self._compile()

    def __call__(self, text: str) -> str:
        if self._in_context is None or not text:
            return text
        if self._anywhere is not None:
            text = self._anywhere.sub(MASK, text)
        text = self._in_context.sub(lambda m: (m["url"] or m["key"]) + MASK, text)
        if _ELLIPSIS in text and self._edges:
            text = _mask_cut_edges(text, self._edges)
        return text

    def _compile(self) -> None:
        public = _LABELS.union(*(p.public for p in self._passwords))
        everywhere: set[str] = set()
        everything: set[str] = set()
        for password in self._passwords:
            forms = _forms(password)
            everything |= forms
            if len(password.value) >= ANYWHERE_MIN and password.value.lower() not in public:
                everywhere |= forms
        self._anywhere = re.compile(_alternation(everywhere, bounded=True)) if everywhere else None
        any_form = _alternation(everything, bounded=False)
        self._in_context = re.compile(
            _IN_URL.format(forms=any_form) + "|" + _AFTER_KEY.format(forms=any_form)
        )
        self._edges = tuple(sorted(everywhere, key=len, reverse=True))


def _forms(password: Password) -> set[str]:
    """How ``password`` can be printed: plain, as written, percent-encoded, escaped."""
    value = password.value
    forms = {
        value,
        password.written,
        quote(value, safe=""),
        quote(value, safe=" +"),  # SQLAlchemy's render_as_string
        quote(value),
        quote_plus(value, safe=""),
        repr(value)[1:-1],
        json.dumps(value)[1:-1],
    }
    return {form for form in forms if form}


def _alternation(forms: Iterable[str], *, bounded: bool) -> str:
    # Longest first, so a form never stops at a shorter one it starts with.
    return "|".join(_pattern(form, bounded) for form in sorted(forms, key=len, reverse=True))


def _pattern(form: str, bounded: bool) -> str:
    """``form`` as a regex: ``%xx`` in either case; whole words only when ``bounded``."""
    parts = re.split(r"(%[0-9A-Fa-f]{2})", form)
    pattern = "".join(
        "%" + "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else c for c in part[1:])
        if i % 2
        else re.escape(part)
        for i, part in enumerate(parts)
    )
    if bounded and re.match(r"\w", form[0]):
        pattern = r"(?<!\w)" + pattern
    if bounded and re.match(r"\w", form[-1]):
        pattern += r"(?!\w)"
    return pattern


def _mask_cut_edges(text: str, forms: tuple[str, ...]) -> str:
    """Mask a password that pytest's saferepr cut in two: ``'S3cr...w0rd'``."""
    pieces = text.split(_ELLIPSIS)
    for i in range(len(pieces) - 1):
        before, after = pieces[i], pieces[i + 1]
        for form in forms:
            head = next((k for k in range(len(form) - 1, 2, -1) if before.endswith(form[:k])), 0)
            if head:
                pieces[i] = before = before[:-head] + MASK
            tail = next((k for k in range(len(form) - 1, 2, -1) if after.startswith(form[-k:])), 0)
            if tail:
                pieces[i + 1] = after = MASK + after[tail:]
    return _ELLIPSIS.join(pieces)
