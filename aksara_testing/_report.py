"""What a run prints of ours: the header line, and the notes at the end.

The header says which settings the run uses and where each came from::

    aksara: settings pyproject.toml, app shop.main:app (pyproject.toml),
    test database sqlite:///.../test_shop.db (pyproject.toml), seed 1234
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ._settings import Settings, mask_url
from ._text import relative_path
from .errors import ConfigurationError

if TYPE_CHECKING:
    from ._runtime import Runtime

__all__ = ["header_line", "summary_lines"]


def header_line(
    settings: Settings, seed: int, rootpath: Path, runtime: Runtime | None = None
) -> str:
    """The one line that says which settings this run uses and where they came from."""
    parts = [_settings_part(settings, rootpath, runtime)]
    if settings.app:
        parts.append(f"app {settings.app} ({settings.source('app')})")
    url = settings.test_database_url or settings.database_url
    if url:
        key = "test_database_url" if settings.test_database_url else "database_url"
        shown = mask_url(_test_url(settings, runtime) or url)
        parts.append(f"test database {shown} ({settings.source(key)})")
    parts.append(f"seed {seed}")
    return "aksara: " + ", ".join(parts)


def _settings_part(settings: Settings, rootpath: Path, runtime: Runtime | None) -> str:
    """``settings <file>``, or ``settings none (...)`` saying where no table was found."""
    if settings.file is not None:
        return f"settings {relative_path(settings.file, rootpath)}"
    looked = rootpath / "pyproject.toml"
    if runtime is not None and runtime.config.getoption("aksara_settings", None):
        looked = runtime.config.invocation_params.dir / runtime.config.option.aksara_settings
    if not looked.is_file():
        return f"settings none (no {looked.name} in {looked.parent})"
    return f"settings none (no [tool.aksara] in {looked})"


def _test_url(settings: Settings, runtime: Runtime | None) -> str | None:
    """The test database URL, derived without creating anything; None if not derivable."""
    if runtime is None:
        return None
    from ._db import derive_test_url

    try:
        url = derive_test_url(settings, runtime.database.sqlite_dir)
    except ConfigurationError:
        return None  # reported when the database is first used
    return url.render_as_string(hide_password=False)


def summary_lines(runtime: Runtime, verbosity: int) -> list[str]:
    """The run's notes (the test database it used, workers' databases) for the summary."""
    lines = [f"aksara: {note}" for note in runtime.notes]
    if runtime.parallel and runtime.config_error is not None:
        lines.append(f"aksara: {runtime.config_error}")
    if runtime.worker_notes and verbosity > 0:
        lines += [f"aksara: {note}" for note in sorted(runtime.worker_notes)]
    elif runtime.worker_notes:
        workers = len({note.split(":", 1)[0] for note in runtime.worker_notes})
        lines.append(f"aksara: {workers} workers, a test database each (-v lists them)")
    return lines
