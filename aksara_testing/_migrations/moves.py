"""Moving a database between revisions: resolve what the user asked for, then go."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .._text import first_line
from ..errors import MigrationError
from .runner import script_directory

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

__all__ = ["labels_of_branch", "migrate", "resolve_target", "upgrade_to_heads"]


def upgrade_to_heads(config: Config) -> None:
    """``alembic upgrade heads``, in-process."""
    from .runner import run_env

    script = script_directory(config)

    def work(heads: tuple[str, ...], _context: MigrationContext) -> Iterable[Any]:
        return script._upgrade_revs("heads", heads)  # type: ignore[arg-type]

    run_env(config, work)


def migrate(config: Config, label: str, revision: str, *, scratch: bool = False) -> None:
    """Move forward or backward to ``revision`` of branch ``label`` (see ``run_env``)."""
    from .runner import run_env

    script = script_directory(config)
    target = resolve_target(script, label, revision)

    def work(heads: tuple[str, ...], _context: MigrationContext) -> Iterable[Any]:
        if target.endswith("base") or _is_below(script, target, heads):
            return script._downgrade_revs(target, heads)  # type: ignore[arg-type]
        return script._upgrade_revs(target, heads)  # type: ignore[arg-type]

    run_env(config, work, scratch=scratch)


def _is_below(script: ScriptDirectory, target: str, heads: tuple[str, ...]) -> bool:
    """True when ``target`` is a strict ancestor of a current head (a move backward)."""
    if not heads or "@" in target or target == "heads":
        return False
    current = [script.get_revision(head) for head in heads]
    below = script.revision_map._get_ancestor_nodes(current)
    return any(rev.revision == target for rev in below) and target not in heads


def resolve_target(script: ScriptDirectory, label: str, revision: str) -> str:
    """The Alembic destination for ``migrate(label, revision)``, or a one-line error.

    ``label`` must be a branch label when the project declares any; a project
    without branch labels and with one head takes any label (it names nothing).
    ``revision``: an id, a unique prefix, ``"head"`` or ``"zero"``.
    """
    labels = sorted({lb for rev in script.walk_revisions() for lb in rev.branch_labels})
    heads = script.get_heads()
    if labels and label not in labels:
        raise MigrationError(
            f"migrate({label!r}, ...): unknown label; known branch labels: {', '.join(labels)}"
        )
    if not labels and len(heads) > 1:
        raise MigrationError(
            f"migrate({label!r}, ...): the migrations have {len(heads)} heads "
            f"({', '.join(heads)}) and no branch labels; merge them or label the branches"
        )
    branch = f"{label}@" if labels else ""
    if revision in ("zero", "base"):
        return f"{branch}base"
    if revision in ("head", "heads"):
        return f"{branch}head" if labels else "heads"
    try:
        found = script.get_revision(revision)
    except Exception as exc:
        known = ", ".join(rev.revision for rev in reversed(list(script.walk_revisions())))
        reason = first_line(exc).rstrip(".")
        raise MigrationError(
            f"migrate({label!r}, {revision!r}): {reason}; known revisions: {known} "
            f"(heads: {', '.join(heads)}), or 'head' / 'zero'"
        ) from None
    if found is None:
        raise MigrationError(f"migrate({label!r}, {revision!r}): no such revision")
    if labels and label not in labels_of_branch(script, found.revision):
        raise MigrationError(
            f"migrate({label!r}, {revision!r}): revision {found.revision} is not on "
            f"branch {label!r}"
        )
    return found.revision


def labels_of_branch(script: ScriptDirectory, revision: str) -> set[str]:
    """The branch labels on ``revision``'s line, below and above it."""
    labels: set[str] = set()
    for rev in script.revision_map._get_ancestor_nodes([script.get_revision(revision)]):
        labels.update(rev.branch_labels)
    for rev in script.revision_map._get_descendant_nodes([script.get_revision(revision)]):
        labels.update(rev.branch_labels)
    return labels
