"""``MigrationTestCase.migrate``: moving a scratch database between revisions of examples/blog."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from textwrap import dedent

import pytest
from app_process import AKSARA, clean_env

BLOG = Path(__file__).resolve().parents[1] / "examples" / "blog"

MOVES = """
    from aksara_testing import MigrationTestCase


    async def tables(case):
        rows = await case.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {row["name"] for row in rows} - {"alembic_version"}


    class TestMoves(MigrationTestCase):
        async def test_back_to_an_earlier_revision(self):
            await self.migrate("blog", "0003")
            await self.migrate("blog", "0001")
            assert await tables(self) == {"users"}
"""


@pytest.fixture
def blog_copy(tmp_path: Path) -> Path:
    """examples/blog without its own tests."""
    project = tmp_path / "blog"
    shutil.copytree(BLOG, project, ignore=shutil.ignore_patterns("test_*.py", "*.db"))
    return project


def test_migrate_moves_backward_to_an_earlier_revision(blog_copy: Path) -> None:
    (blog_copy / "tests" / "test_moves.py").write_text(dedent(MOVES).lstrip())

    done = subprocess.run(
        [str(AKSARA), "test", "-q"],
        cwd=blog_copy,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert done.returncode == 0, done.stdout + done.stderr
