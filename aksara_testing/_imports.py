"""Import the objects named by ``module:attr`` settings, with one-line errors.

:func:`missing_module` checks, without importing anything of the project, that
a setting's module can be found: the plugin runs it before the first test, so a
misspelt ``app`` is one line and exit code 4 instead of an error in every test.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import pkgutil
import sys
import traceback
from collections.abc import Iterable
from importlib.machinery import ModuleSpec, PathFinder
from pathlib import Path

from ._settings import Settings
from ._text import first_line
from .errors import ConfigurationError

__all__ = ["first_missing_module", "import_target", "missing_module"]

_TARGET_KEYS = (
    "app",
    "models",
    "session",
    "engine",
    "auth",
)  # the settings that name a module:attr


def import_target(settings: Settings, key: str, spec: str) -> object:
    """Import ``spec`` (``"module:attr"``) named by setting ``key``; errors name the setting.

    When the module itself raises while it is imported, the error names the
    last line of the project's own code on the way (``shop/main.py:12``).
    """
    module_name, _, attr_path = spec.partition(":")
    where = f"setting {key} = {spec!r} (from {settings.source(key)})"
    try:
        target: object = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is None or not _is_part_of(exc.name, module_name):
            raise _raised(where, exc, settings.root) from None
        raise ConfigurationError(_not_found(where, module_name, settings, exc)) from None
    except Exception as exc:
        raise _raised(where, exc, settings.root) from None
    for part in attr_path.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ConfigurationError(
                f"{where} cannot be imported: module {module_name!r} has no attribute "
                f"{attr_path!r}; check the name after the colon"
            ) from None
    return target


def first_missing_module(settings: Settings) -> ConfigurationError | None:
    """The error for the first ``module:attr`` setting whose module cannot be found, if any."""
    for key in _TARGET_KEYS:
        value = getattr(settings, key)
        specs = value if isinstance(value, tuple) else (value,) if value else ()
        for spec in specs:
            problem = missing_module(settings, key, spec)
            if problem is not None:
                return problem
    return None


def missing_module(settings: Settings, key: str, spec: str) -> ConfigurationError | None:
    """The error for ``spec`` when its module cannot be found, else None; imports nothing.

    The search walks ``sys.path`` and the packages' folders as the import
    system would, without running any ``__init__.py``. Only when that finds
    nothing does Python's own ``find_spec`` (which imports the parent packages)
    get the last word, so a package with a custom ``__path__`` is never
    reported missing by mistake.
    """
    module_name = spec.partition(":")[0]
    if module_name in sys.modules or _locate(module_name):
        return None
    where = f"setting {key} = {spec!r} (from {settings.source(key)})"
    try:
        if importlib.util.find_spec(module_name) is not None:
            return None
        exc = ModuleNotFoundError(f"No module named {module_name!r}", name=module_name)
    except ModuleNotFoundError as error:
        if error.name is None or not _is_part_of(error.name, module_name):
            return _raised(where, error, settings.root)
        exc = error
    except Exception as error:  # a parent package raised while it was imported
        return _raised(where, error, settings.root)
    return ConfigurationError(_not_found(where, module_name, settings, exc))


def _not_found(where: str, module_name: str, settings: Settings, exc: ImportError) -> str:
    guess = _close_module(module_name, settings.root)
    hint = f" (did you mean {guess!r}?)" if guess else ""
    return (
        f"{where} cannot be imported: {first_line(exc)}{hint}; "
        f"check the module path (modules are imported from {settings.root.resolve()})"
    )


def _raised(where: str, exc: BaseException, root: Path) -> ConfigurationError:
    frame = _last_own_frame(exc, root)
    at = f" at {frame}" if frame else ""
    raised = f"{where} cannot be imported: importing it raised {type(exc).__name__}: "
    if isinstance(exc, ImportError):  # a dependency of the module, not the module itself
        return ConfigurationError(
            f"{raised}{first_line(exc)}{at}; install what that line imports, or fix it"
        )
    return ConfigurationError(
        f"{raised}{first_line(exc)}{at}; fix that line (a variable it reads can be set in "
        "the env table of [tool.aksara])"
    )


def _is_part_of(missing: str, module_name: str) -> bool:
    """Whether the module that was not found is ``module_name`` or one of its packages."""
    return module_name == missing or module_name.startswith(f"{missing}.")


def _locate(module_name: str) -> bool:
    """Whether ``module_name`` can be found, without importing any package on its way."""
    return _find(module_name) is not None


def _find(module_name: str) -> ModuleSpec | None:
    parts = module_name.split(".")
    try:
        spec = importlib.util.find_spec(parts[0])  # a top-level name imports nothing
    except (ImportError, ValueError):
        return None
    for depth in range(1, len(parts)):
        if spec is None or spec.submodule_search_locations is None:
            return None
        name = ".".join(parts[: depth + 1])
        spec = PathFinder.find_spec(name, list(spec.submodule_search_locations))
    return spec


def _close_module(module_name: str, root: Path) -> str | None:
    """The project's module whose name is closest to ``module_name`` (a typo away), if any."""
    parent, _, last = module_name.rpartition(".")
    if not parent:
        names = _module_names(p for p in sys.path if _inside(p, root))
    else:
        package = _find(parent)
        if package is None:  # the typo is further up
            guess = _close_module(parent, root)
            return f"{guess}.{last}" if guess and _locate(f"{guess}.{last}") else guess
        names = _module_names(package.submodule_search_locations or [])
    close = _closest(last, names)
    if close is None:
        return None
    return f"{parent}.{close}" if parent else close


def _closest(name: str, names: list[str]) -> str | None:
    """The name one typo away: another case, two letters swapped, or difflib's closest."""
    for candidate in names:
        if candidate.lower() == name.lower() or sorted(candidate) == sorted(name):
            return candidate
    close = difflib.get_close_matches(name, names, n=1)
    return close[0] if close else None


def _module_names(folders: Iterable[str]) -> list[str]:
    return sorted({info.name for info in pkgutil.iter_modules(list(folders))})


def _inside(path: str, root: Path) -> bool:
    try:
        Path(path or ".").resolve().relative_to(root.resolve())
    except (OSError, ValueError):
        return False
    return True


def _last_own_frame(exc: BaseException, root: Path) -> str | None:
    """``file:line`` of the last frame in the project's own code (not a library's)."""
    installed = {Path(p).resolve() for p in {sys.prefix, sys.base_prefix, sys.exec_prefix}}
    root = root.resolve()
    own = last = None
    for frame in traceback.extract_tb(exc.__traceback__):
        path = Path(frame.filename)
        if not path.is_absolute() or not path.exists():
            continue  # <frozen importlib._bootstrap> and the like
        path = path.resolve()
        last = f"{path}:{frame.lineno}"
        if path.is_relative_to(root) and not any(path.is_relative_to(p) for p in installed):
            own = f"{path.relative_to(root)}:{frame.lineno}"
    return own or last  # an installed module's own line, when the project has none on the way
