"""``aksara test`` ends its process without the interpreter's teardown, losing nothing of it.

What a normal exit does before that teardown still happens: threads are
waited for, ``atexit`` handlers run, files left open are flushed, and the
exit code is pytest's.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from app_process import clean_env

AKSARA = Path(sys.executable).with_name("aksara")

CONFTEST = """
import atexit
import threading
import time
from pathlib import Path

LEFT_OPEN = open("left_open.txt", "w")


def _late_write():
    time.sleep(0.3)
    Path("thread.txt").write_text("thread done")


atexit.register(lambda: Path("atexit.txt").write_text("atexit ran"))
"""

TESTS = """
import threading

from conftest import LEFT_OPEN, _late_write


def test_starts_a_thread():
    threading.Thread(target=_late_write).start()
    LEFT_OPEN.write("written, never closed")


def test_fails():
    assert False
"""


@pytest.mark.parametrize("settings", ["", "[tool.aksara]\n"], ids=["plain", "configured"])
def test_threads_atexit_open_files_and_the_exit_code_survive(tmp_path: Path, settings: str) -> None:
    # A configured run freezes start-up objects (the open file among them) for the GC.
    (tmp_path / "pyproject.toml").write_text(settings)
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_exit.py").write_text(TESTS)

    for argv in ([str(AKSARA)], [sys.executable, "-m", "aksara_cli"]):
        for name in ("thread.txt", "atexit.txt", "left_open.txt"):
            (tmp_path / name).unlink(missing_ok=True)
        done = subprocess.run(
            [*argv, "test", "-q", "-p", "no:cacheprovider"],
            cwd=tmp_path,
            env=clean_env(),
            capture_output=True,
            text=True,
            check=False,
        )

        assert done.returncode == 1, done.stdout + done.stderr
        assert "1 failed, 1 passed" in done.stdout
        assert (tmp_path / "thread.txt").read_text() == "thread done"
        assert (tmp_path / "atexit.txt").read_text() == "atexit ran"
        assert (tmp_path / "left_open.txt").read_text() == "written, never closed"
