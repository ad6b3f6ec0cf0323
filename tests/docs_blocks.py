"""Read the code blocks of a docs page and check them for real.

Conventions (HTML comments do not show on the site):

- ``<!-- project: examples/blog -->`` anywhere on a page: the page's Python
  blocks run in a copy of that folder (relative to the repository; its own
  ``tests/test_*.py`` are left out). Without it the page's project starts empty.
- A ```python block is a test module of the page's project
  (``tests/test_doc_<page>_L<line>.py``, in page order, padded so that tracebacks show the
  page's line numbers). Its tests must pass under ``aksara test``.
- ``<!-- file: PATH -->`` before a block of any language, or a first line
  ``# PATH`` in a Python block (``# myapp/jobs.py``): the block is that file of
  the project. A later block for the same path replaces it.
- ``<!-- continue -->`` before a Python block: it goes on the previous
  block's module (for prose between the definitions and the tests).
- ``<!-- run -->`` before a ```bash / ```console block: its ``aksara``
  commands run, in page order, in the project as it stands (with their
  ``VAR=value`` prefixes in the environment); each must exit 0. Other
  commands in the block are not run.
- ``<!-- skip: why -->`` before a block: not checked. The reason is required;
  keep skips rare (a fragment that cannot stand alone, a server we lack).
- Unmarked ```toml blocks must parse, and a ``[tool.aksara]`` table in them
  must load as settings; ```yaml and ```ini blocks must parse; ``aksara``
  commands in ```bash / ```console blocks must parse with the real CLI (in
  ``console`` blocks only ``$ `` lines are commands). Other languages
  (``text``, output) are shown, not checked.

Every failure names the page and the line of the block.
"""

from __future__ import annotations

import ast
import configparser
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import tomllib
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Block", "DocsError", "Page", "check_page", "parse_page"]

REPO = Path(__file__).resolve().parents[1]
AKSARA = Path(sys.executable).with_name("aksara")
SHELLS = frozenset({"bash", "sh", "shell", "console"})
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})\s*(?P<lang>[\w+-]*)[^\n]*$")
_DIRECTIVE = re.compile(r"^\s*<!--\s*(?P<name>[\w-]+)\s*(?::\s*(?P<arg>.*?))?\s*-->\s*$")
_KNOWN = frozenset({"file", "skip", "run", "continue", "project"})
_ASSIGNMENT = re.compile(r"^[A-Za-z_]\w*=")
_FILE_COMMENT = re.compile(r"^#\s*(?P<path>[\w./-]+\.(?:py|toml|ini|cfg|txt|md))\s*$")


class DocsError(AssertionError):
    """A docs block that does not work; the message starts with ``page:line``."""


@dataclass
class Block:
    """One fenced code block: where it starts, its language, directive and text."""

    page: str
    line: int  # the fence's line, 1-based
    lang: str
    text: str
    directive: str | None = None
    arg: str | None = None

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


@dataclass
class Page:
    """A docs page: its blocks and the project its Python blocks run in."""

    path: Path
    name: str
    blocks: list[Block] = field(default_factory=list)
    project: str | None = None


def parse_page(path: Path, name: str | None = None) -> Page:
    """The blocks of ``path`` with their directives; a malformed directive is a DocsError."""
    if name is None:
        name = str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)
    page = Page(path=path, name=name)
    lines = path.read_text().splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        directive = _DIRECTIVE.match(line)
        if directive and directive["name"] == "project":
            page.project = _required(directive, f"{name}:{i + 1}")
        fence = _FENCE.match(line)
        if fence is None:
            i += 1
            continue
        indent, marker = fence["indent"], fence["fence"]
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not _closes(lines[j], marker):
            body.append(lines[j][len(indent) :] if lines[j].startswith(indent) else lines[j])
            j += 1
        if j == len(lines):
            raise DocsError(f"{name}:{i + 1}: code block is never closed")
        block = Block(name, i + 1, fence["lang"].lower(), "\n".join(body) + "\n")
        _attach_directive(block, lines, i)
        page.blocks.append(block)
        i = j + 1
    return page


def _closes(line: str, marker: str) -> bool:
    stripped = line.strip()
    return stripped.startswith(marker[0] * len(marker)) and set(stripped) == {marker[0]}


def _attach_directive(block: Block, lines: list[str], fence_index: int) -> None:
    k = fence_index - 1
    while k >= 0 and not lines[k].strip():
        k -= 1
    found = _DIRECTIVE.match(lines[k]) if k >= 0 else None
    if found is None or found["name"] == "project" or found["name"].startswith("aksara"):
        return
    where = f"{block.page}:{k + 1}"
    if found["name"] not in _KNOWN:
        raise DocsError(
            f"{where}: unknown docs directive {found['name']!r}; "
            f"use one of: {', '.join(sorted(_KNOWN))} (see tests/docs_blocks.py)"
        )
    block.directive = found["name"]
    if found["name"] in ("file", "skip"):
        block.arg = _required(found, where)
    if found["name"] == "run" and block.lang not in SHELLS:
        raise DocsError(f"{where}: <!-- run --> goes before a bash or console block")


def _required(match: re.Match[str], where: str) -> str:
    if not match["arg"]:
        raise DocsError(
            f"{where}: <!-- {match['name']}: ... --> needs a value "
            "(a path, or for skip the reason the block cannot run)"
        )
    return match["arg"]


# -- checking ----------------------------------------------------------------------


def check_page(page: Page, workdir: Path) -> None:
    """Check every block of ``page``; the project is built under ``workdir``."""
    runner = _ProjectRun(page, workdir / "project")
    for block in page.blocks:
        if block.directive == "skip":
            continue
        if block.directive == "file" or _file_comment(block):
            runner.write_file(block, block.arg or _file_comment(block) or "")
        elif block.lang in ("python", "py"):
            runner.add_test_module(block)
        elif block.directive == "run":
            runner.run_block(block)
        elif block.lang in SHELLS:
            for where, _env, argv in shell_commands(block):
                _parse_cli(where, argv)
        elif block.lang == "toml":
            _check_toml(block, workdir)
        elif block.lang in ("yaml", "yml"):
            _check_yaml(block)
        elif block.lang in ("ini", "cfg"):
            _check_ini(block)
    runner.finish()


def _file_comment(block: Block) -> str | None:
    if block.lang not in ("python", "py"):
        return None
    found = _FILE_COMMENT.match(block.text.split("\n", 1)[0])
    return found["path"] if found else None


def shell_commands(block: Block) -> list[tuple[str, dict[str, str], list[str]]]:
    """The ``aksara`` commands of a shell block: the line, ``VAR=value`` prefixes, arguments."""
    commands: list[tuple[str, dict[str, str], list[str]]] = []
    pending = ""
    for offset, raw in enumerate(block.text.splitlines(), start=1):
        line = raw.strip()
        if block.lang == "console":
            if not line.startswith("$ ") and not pending:
                continue
            line = line.removeprefix("$ ")
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        for part in re.split(r"&&|;|\|\|", line):
            try:
                argv = shlex.split(part, comments=True)
            except ValueError as exc:
                raise DocsError(f"{block.page}:{block.line + offset}: {exc}") from None
            env = {}
            while argv and _ASSIGNMENT.match(argv[0]):
                name, _, value = argv.pop(0).partition("=")
                env[name] = value
            if argv and Path(argv[0]).name == "aksara":
                commands.append((f"{block.page}:{block.line + offset}", env, argv[1:]))
    return commands


def _parse_cli(where: str, argv: list[str]) -> None:
    """Parse ``aksara <argv>`` with the real Click command, without running it."""
    import click

    from aksara_cli._app import cli

    try:
        if not argv or argv[0].startswith("-"):  # aksara --help, aksara --version
            cli.make_context("aksara", list(argv)).close()
            return
        command = cli.commands.get(argv[0])
        if command is None:
            raise click.UsageError(f"no such command {argv[0]!r}")
        with command.make_context(f"aksara {argv[0]}", list(argv[1:])) as ctx:
            if argv[0] == "test":  # the options it does not define go to pytest
                _check_pytest_options(ctx.params["args"])
    except click.exceptions.Exit:
        pass  # --help, --version
    except click.ClickException as exc:
        raise DocsError(f"{where}: aksara {shlex.join(argv)}: {exc.format_message()}") from None


def _check_pytest_options(words: tuple[str, ...]) -> None:
    import click

    for word in words:
        if not word.startswith("-") or word == "--":
            continue
        name = word.partition("=")[0] if word.startswith("--") else word[:2]
        if name not in _pytest_options():
            raise click.UsageError(
                f"No such option {name!r} in aksara test, pytest or an installed plugin"
            )


_PYTEST_OPTIONS: set[str] = set()


def _pytest_options() -> set[str]:
    """The option names pytest and the installed plugins define, from ``pytest --help``."""
    if not _PYTEST_OPTIONS:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
        with tempfile.TemporaryDirectory() as empty:  # no ini file whose addopts drop plugins
            done = subprocess.run(
                [sys.executable, "-m", "pytest", "--help"],
                cwd=empty,
                env=env,
                capture_output=True,
                text=True,
                check=True,
                timeout=120,
            )
        for line in done.stdout.splitlines():
            if line.lstrip().startswith("-"):
                _PYTEST_OPTIONS.update(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", line))
    return _PYTEST_OPTIONS


def _check_toml(block: Block, workdir: Path) -> None:
    try:
        data = tomllib.loads(block.text)
    except tomllib.TOMLDecodeError as exc:
        raise DocsError(f"{block.where}: not valid TOML: {exc}") from None
    if "aksara" not in data.get("tool", {}):
        return
    from aksara_testing._settings import load_settings
    from aksara_testing.errors import ConfigurationError

    folder = workdir / f"toml_L{block.line}"
    folder.mkdir(parents=True)
    (folder / "pyproject.toml").write_text(block.text)
    try:
        load_settings(folder, environ={})
    except ConfigurationError as exc:
        raise DocsError(f"{block.where}: [tool.aksara] does not load: {exc}") from None


def _check_yaml(block: Block) -> None:
    import yaml

    try:
        yaml.safe_load(block.text)
    except yaml.YAMLError as exc:
        raise DocsError(f"{block.where}: not valid YAML: {exc}") from None


def _check_ini(block: Block) -> None:
    try:
        configparser.ConfigParser(interpolation=None).read_string(block.text)
    except configparser.Error as exc:
        raise DocsError(f"{block.where}: not valid INI: {exc}") from None


# -- the page's project --------------------------------------------------------------


@dataclass
class _Module:
    path: str  # relative to the project
    block: Block
    source: str
    has_tests: bool


class _ProjectRun:
    """The page's project on disk, and the ``aksara test`` runs made in it."""

    def __init__(self, page: Page, root: Path) -> None:
        self.page = page
        self.root = root
        self.modules: list[_Module] = []
        self.pending = False  # something was written since the last full run
        self.runs = 0
        if page.project:
            source = REPO / page.project
            if not source.is_dir():
                raise DocsError(f"{page.name}: <!-- project: {page.project} --> is not a folder")
            shutil.copytree(source, root, ignore=_ignore_tests)
        else:
            root.mkdir(parents=True)

    def write_file(self, block: Block, relative: str) -> None:
        target = self.root / relative
        if Path(relative).is_absolute() or ".." in Path(relative).parts:
            raise DocsError(f"{block.where}: file path {relative!r} must stay inside the project")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(block.text)
        self.pending = True

    def add_test_module(self, block: Block) -> None:
        if block.directive == "continue":
            if not self.modules:
                raise DocsError(f"{block.where}: <!-- continue --> has no Python block before it")
            module = self.modules[-1]
            module.source = _pad(module.source, block)
        else:
            stem = re.sub(r"\W", "_", Path(self.page.name).stem)
            module = _Module(
                f"tests/test_doc_{stem}_L{block.line:04d}.py", block, _pad("", block), False
            )
            self.modules.append(module)
        try:
            tree = ast.parse(module.source, filename=self.page.name)
        except SyntaxError as exc:
            raise DocsError(f"{self.page.name}:{exc.lineno}: {exc.msg}") from None
        module.has_tests = any(
            isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            and node.name.lower().startswith("test")
            for node in tree.body
        )
        target = self.root / module.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(module.source)
        self.pending = True

    def run_block(self, block: Block) -> None:
        for where, env, argv in shell_commands(block):
            self.run(where, argv, env)

    def finish(self) -> None:
        if self.pending and (self.modules or self.runs):
            self.run(f"{self.page.name} (end of page)", ["test", "-q"])

    def run(self, where: str, argv: list[str], extra_env: dict[str, str] | None = None) -> None:
        report = self.root / ".docs-junit.xml"
        report.unlink(missing_ok=True)
        env = {**_clean_env(), **(extra_env or {})}
        env["PYTEST_ADDOPTS"] += f" --junitxml={report}"
        done = subprocess.run(
            [str(AKSARA), *argv],
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        self.runs += 1
        output = self._translate(done.stdout + done.stderr)
        if done.returncode != 0:
            raise DocsError(
                f"{where}: aksara {shlex.join(argv)} exited {done.returncode}:\n{_tail(output)}"
            )
        if argv[:1] == ["test"] and _full_run(argv[1:]):
            self._check_collected(where, report, output)
            self.pending = False

    def _check_collected(self, where: str, report: Path, output: str) -> None:
        """Every block that defines tests had its tests run (not left out by testpaths)."""
        ran = {case.get("classname", "") for case in ET.parse(report).iter("testcase")}
        for module in self.modules:
            dotted = module.path.removesuffix(".py").replace("/", ".")
            if module.has_tests and not any(c == dotted or c.startswith(f"{dotted}.") for c in ran):
                raise DocsError(
                    f"{module.block.where}: the tests of this block did not run "
                    f"(is tests/ in the project's testpaths?):\n{_tail(output)}"
                )

    def _translate(self, output: str) -> str:
        """Generated module paths become the page's name: line numbers already match."""
        for module in self.modules:
            output = output.replace(module.path, self.page.name)
            output = output.replace(Path(module.path).name, self.page.name)
        return output


def _pad(source: str, block: Block) -> str:
    """``source`` followed by ``block``'s text, so its first line is the page's next line."""
    first = block.line + 1
    have = source.count("\n")
    if have >= first - 1:
        raise DocsError(f"{block.where}: cannot place this block after the previous one")
    return source + "\n" * (first - 1 - have) + block.text


def _ignore_tests(folder: str, names: list[str]) -> set[str]:
    skipped = {n for n in names if n in ("__pycache__", ".pytest_cache") or n.endswith(".db")}
    if Path(folder).name == "tests":
        skipped |= {n for n in names if n.startswith("test_") and n.endswith(".py")}
    return skipped


def _full_run(args: list[str]) -> bool:
    """True when ``aksara test <args>`` runs the whole suite: no paths, no selection."""
    if any(flag in args for flag in ("-k", "-m", "--lf", "--splits")):
        return False
    return all(a.startswith("-") for a in args)


def _clean_env() -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if name != "CI" and not name.startswith(("AKSARA_", "PYTEST_", "COV_CORE_"))
    }
    env["PYTEST_ADDOPTS"] = "-p no:randomly -p no:cacheprovider"
    return env


def _tail(output: str, lines: int = 60) -> str:
    kept = output.strip().splitlines()
    cut = len(kept) > lines
    return "\n".join((["..."] if cut else []) + kept[-lines:])
