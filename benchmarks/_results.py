"""Shared by the benchmark scripts: the machine line and RESULTS.md sections."""

from __future__ import annotations

import os
import platform
from pathlib import Path

__all__ = ["RESULTS_FILE", "machine_line", "replace_section"]

RESULTS_FILE = Path(__file__).resolve().parent / "RESULTS.md"


def machine_line() -> str:
    """``2 CPUs (AMD EPYC ...), Linux 6.x`` for the heading of a result section."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs ({cpu}), {platform.system()} {platform.release()}"


def replace_section(
    text: str, start_marker: str, end_marker: str, path: Path = RESULTS_FILE
) -> None:
    """Put ``text`` (which includes both markers) in place of that section of ``path``."""
    if not path.exists():
        path.write_text(f"# Benchmark results\n\n{text}\n")
        return
    current = path.read_text()
    start, end = current.find(start_marker), current.find(end_marker)
    if start != -1 and end > start:
        current = current[:start] + text + current[end + len(end_marker) :]
    else:
        current = current.rstrip("\n") + "\n\n" + text + "\n"
    path.write_text(current)
