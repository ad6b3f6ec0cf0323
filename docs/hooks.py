"""mkdocs hooks: pages generated from the code, so the docs cannot drift from it.

A page holds a marker where generated content goes:

- ``<!-- aksara:settings -->``: the settings table, from ``aksara_testing._settings.SETTINGS``
  (key, type, environment variable, flag, default, meaning);
- ``<!-- aksara:api -->``: the API reference, one mkdocstrings entry per name in
  ``aksara_testing.__all__``, grouped by what it is for (names not listed in
  ``API_SECTIONS`` land in a last section, so a new public name is never missing).

``tests/test_docs.py`` renders the pages through these functions too.

``ReSTLiterals`` is a griffe extension (named in mkdocs.yml) for the API
reference: our docstrings mark examples the reST way (``like this::``) and
name objects with roles (``:func:`x```), which Markdown would show literally.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import griffe

SETTINGS_MARKER = "<!-- aksara:settings -->"
API_MARKER = "<!-- aksara:api -->"

_KINDS = {
    "str": "string",
    "target": '`"module:attr"`',
    "targets": '`"module:attr"` or a list of them',
    "path": "path",
    "table": "table",
    "bool": "boolean",
    "hosts": "list of hosts",
}

_LISTS = frozenset({"targets", "hosts"})  # given in one environment variable, comma-separated

# (section title, names in the order shown); names absent from __all__ are skipped.
API_SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Test classes and decorators", ("AksaraTestCase", "async_test", "MigrationTestCase")),
    ("Fixtures", ("db_session", "client", "app", "test_settings")),
    ("The test client", ("AksaraClient", "AksaraSyncClient", "sync_client", "AksaraResponse")),
    ("Factories", ("Factory", "Faker")),
    ("Counting queries", ("count_queries", "assert_num_queries", "QueryLog")),
    ("The test database", ("setup_test_database",)),
    ("Mocking AI calls", ("mock_ai", "MockAI", "AICall")),
    (
        "Background tasks",
        ("capture_tasks", "CapturedTasks", "CapturedTask", "register_task_backend", "TaskCall"),
    ),
    (
        "Errors",
        (
            "AksaraError",
            "ConfigurationError",
            "UnsafeDatabaseError",
            "FactoryError",
            "MigrationError",
        ),
    ),
)
_FIXTURES = frozenset({"db_session", "client", "app", "test_settings"})
_NOT_RENDERED = frozenset({"__version__"})


def on_page_markdown(markdown: str, **_: Any) -> str:
    """mkdocs hook: fill in the markers of a page."""
    return render(markdown)


def render(markdown: str) -> str:
    """``markdown`` with its markers replaced by the generated content."""
    if SETTINGS_MARKER in markdown:
        markdown = markdown.replace(SETTINGS_MARKER, settings_table())
    if API_MARKER in markdown:
        markdown = markdown.replace(API_MARKER, api_reference())
    return markdown


def settings_table() -> str:
    """The ``[tool.aksara]`` keys as a Markdown table."""
    from aksara_testing._settings import SETTINGS, Settings

    defaults = {f.name: _default(f) for f in dataclasses.fields(Settings)}
    rows = [
        "| key | type | env var | `aksara test` flag | default | meaning |",
        "|---|---|---|---|---|---|",
    ]
    for setting in SETTINGS:
        env_var = f"`{setting.env_var}`" if setting.env_var else ""
        if setting.kind in _LISTS and setting.env_var:
            env_var += " (comma-separated)"
        flag = f"`{setting.flag}` (pytest `--aksara-{setting.flag[2:]}`)" if setting.flag else ""
        kind = _KINDS.get(setting.kind, setting.kind)
        default = defaults.get(setting.key, "")
        meaning = setting.help.replace("|", "\\|")
        rows.append(f"| `{setting.key}` | {kind} | {env_var} | {flag} | {default} | {meaning} |")
    return "\n".join(rows)


def _default(field: dataclasses.Field[Any]) -> str:
    if field.default is not dataclasses.MISSING:
        value = field.default
    elif field.default_factory is not dataclasses.MISSING:
        value = field.default_factory()
    else:
        return ""
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, tuple | list):
        return "`[]`" if not value else f"`{list(value)!r}`"
    if isinstance(value, dict):
        return "`{}`" if not value else f"`{value!r}`"
    return f"`{value!r}`"


def api_reference() -> str:
    """mkdocstrings entries for every public name, by section."""
    import aksara_testing

    public = [name for name in aksara_testing.__all__ if name not in _NOT_RENDERED]
    listed = {name for _, names in API_SECTIONS for name in names}
    sections = [(title, [n for n in names if n in public]) for title, names in API_SECTIONS]
    sections.append(("More", [n for n in public if n not in listed]))
    parts = []
    for title, names in sections:
        if not names:
            continue
        parts.append(f"## {title}\n")
        for name in names:
            parts.append(_entry(name))
            if name == "Factory":
                parts.extend(_factory_declarations(public))
    return "\n".join(parts)


def _factory_declarations(public: list[str]) -> list[str]:
    """``Factory.Sequence`` and friends: not public names themselves, reached through Factory."""
    import aksara_testing
    from aksara_testing import Factory

    shown = {id(getattr(aksara_testing, name)) for name in public}
    entries = []
    for name, value in vars(Factory).items():
        target = value.__func__ if isinstance(value, staticmethod) else value
        module = getattr(target, "__module__", "")
        if name.startswith("_") or id(target) in shown or not module.endswith(".declarations"):
            continue
        path = f"{module}.{target.__qualname__}"
        entries.append(
            f'::: {path}\n    options:\n      heading: "Factory.{name}"\n      show_bases: false\n'
        )
    return entries


def _entry(name: str) -> str:
    entry = f"::: aksara_testing.{name}\n"
    if name in _FIXTURES:  # the signature would show pytest's request argument
        entry += "    options:\n      show_signature: false\n      heading: " + (
            f'"{name} (fixture)"\n'
        )
    return entry


class ReSTLiterals(griffe.Extension):
    """Turn reST literal-block markers and cross-reference roles into Markdown."""

    def on_instance(self, *, obj: griffe.Object, **_: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = rest_to_markdown(obj.docstring.value)


def rest_to_markdown(text: str) -> str:
    """``like this::`` becomes ``like this:``, a lone ``::`` line goes, roles become code."""
    text = re.sub(r"^[ \t]*::[ \t]*\n", "", text, flags=re.MULTILINE)
    text = re.sub(r"::$", ":", text, flags=re.MULTILINE)
    return re.sub(r":(?:func|class|meth|mod|attr|data|exc|obj):`~?([^`]+)`", r"`\1`", text)
