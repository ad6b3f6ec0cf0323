"""Run every benchmark and refresh benchmarks/RESULTS.md.

    python benchmarks/run.py [--write] [--quick]

Each benchmark measures its named baselines in the same run and reports
medians and ratios; see the module docstrings of the scripts it calls.
PostgreSQL rows need AKSARA_TEST_POSTGRES_URL; the migration benchmark also
times pytest-alembic from AKSARA_BENCH_PYTEST_ALEMBIC_PYTHON when set.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update RESULTS.md")
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    options = parser.parse_args()
    write = ["--write"] if options.write else []
    runs = [
        [str(HERE / "startup.py"), "--repeats", "5" if options.quick else "15", *write],
        [str(HERE / "client.py"), "--repeats", "3" if options.quick else "7", *write],
        [str(HERE / "tasks.py"), "--repeats", "3" if options.quick else "7", *write],
        [str(HERE / "mock_ai.py"), "--repeats", "3" if options.quick else "7", *write],
        [
            str(HERE / "factories.py"),
            "--backend",
            "all",
            "--repeats",
            "2" if options.quick else "5",
            *write,
        ],
        [
            str(HERE / "migrations.py"),
            "--backend",
            "all",
            "--repeats",
            "2" if options.quick else "5",
            *write,
        ],
        [
            str(HERE / "isolation" / "run.py"),
            "--backend",
            "all",
            "--repeats",
            "2" if options.quick else "5",
            *write,
        ],
        [
            str(HERE / "isolation" / "sync_run.py"),
            "--backend",
            "all",
            "--repeats",
            "2" if options.quick else "5",
            *write,
        ],
        [str(HERE / "reuse_db.py"), "--repeats", "2" if options.quick else "5", *write],
        [
            str(HERE / "parallel.py"),
            "--backend",
            "all",
            "--repeats",
            "2" if options.quick else "5",
            *write,
        ],
        [str(HERE / "parallel_reliability.py"), "--runs", "3" if options.quick else "20", *write],
    ]
    status = 0
    for argv in runs:
        print(f"$ python {' '.join(argv)}", flush=True)
        status |= subprocess.run([sys.executable, *argv]).returncode
    return status


if __name__ == "__main__":
    sys.exit(main())
