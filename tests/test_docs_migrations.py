"""docs/migrations.md says what the product does: its code blocks run as shown."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from app_process import AKSARA, clean_env
from conftest import Project
from migration_project import ALEMBIC_INI, HEAD, REVISIONS, revision_file, write_revision

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "migrations.md"
BLOG = ROOT / "examples" / "blog"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def blocks(language: str, containing: str) -> str:
    """The one code block of ``language`` on the page that contains ``containing``."""
    [found] = [
        text
        for lang, text in BLOCK.findall(PAGE.read_text())
        if lang == language and containing in text
    ]
    return found


def test_the_pages_examples_run_on_the_blog_with_the_checks(tmp_path: Path) -> None:
    blog = tmp_path / "blog"
    shutil.copytree(BLOG, blog, ignore=shutil.ignore_patterns("__pycache__", "*.db"))
    tests = blog / "tests"
    (tests / "test_docs_schema.py").write_text(blocks("python", "def test_built_by_the_migrations"))
    (tests / "test_docs_case.py").write_text(blocks("python", "class TestPostSlugs"))
    (tests / "test_docs_unknown.py").write_text(
        "from aksara_testing import MigrationTestCase\n\n\n"
        "class TestUnknown(MigrationTestCase):\n"
        "    async def test_unknown(self):\n"
        "        await self.migrate('blog', '0009')\n"
    )
    done = subprocess.run(
        [
            str(AKSARA),
            "test",
            "-v",
            "--migrations",
            "tests/test_docs_schema.py",
            "tests/test_docs_case.py",
            "tests/test_docs_unknown.py",
        ],
        cwd=blog,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = done.stdout.splitlines()
    assert done.returncode == 1, done.stdout + done.stderr  # the unknown revision fails
    assert "1 failed, 12 passed" in done.stdout, done.stdout
    for line in blocks("text", "aksara-migrations::single_head").splitlines():
        assert any(shown.startswith(line + " ") for shown in output), line
    [unknown] = blocks("text", "migrate('blog', '0009')").splitlines()
    assert any(shown.endswith(f" {unknown}") for shown in output), done.stdout


def test_the_pages_settings_block_is_valid_toml() -> None:
    import tomllib

    settings = tomllib.loads(blocks("toml", "migrations ="))["tool"]["aksara"]
    assert settings["migrations"] == "alembic.ini"
    blog = tomllib.loads((BLOG / "pyproject.toml").read_text())["tool"]["aksara"]
    assert {key: blog[key] for key in settings} == settings


def test_the_pages_app_settings_env_py_migrates_the_test_database(
    sqlite_project: Project,
) -> None:
    root = sqlite_project.pytester.path
    (root / "migrations" / "versions").mkdir(parents=True)
    (root / "migrations" / "env.py").write_text(blocks("python", "reading the app's settings"))
    (root / "alembic.ini").write_text(ALEMBIC_INI)
    for revision, down, message, upgrade, downgrade in REVISIONS:
        write_revision(root, revision, revision_file(revision, down, message, upgrade, downgrade))
    (root / "myapp").mkdir()
    (root / "myapp" / "__init__.py").write_text("")
    url = "sqlite+aiosqlite:///blog.db"
    (root / "myapp" / "settings.py").write_text(f"DATABASE_URL = {url!r}\n")
    sqlite_project.database_url = url
    sqlite_project.write_settings('migrations = "alembic.ini"')
    sqlite_project.pytester.makepyfile(
        test_it=blocks("python", "def test_built_by_the_migrations").replace('"0003"', f'"{HEAD}"')
    )
    sqlite_project.run().assert_outcomes(passed=1)
    assert not (root / "blog.db").exists()
