"""`make bench`: every benchmark, or the ones named (``python -m bench estate reconcile``).

Each module's ``main()`` prints its ``BENCH`` lines and returns 0 when its targets are met. Each runs in a
process of its own, started from this slim one: a peak RSS (Linux keeps it across fork and exec) or
anything imported by one benchmark never shows up in the next one's measurements.
"""

from __future__ import annotations

import subprocess
import sys

BENCHMARKS = ("estate", "switchover", "dag_parse", "reconcile")
# Named only, until it has run green on a quiet machine (issue 15): `python -m bench switchover_live`.
NAMED_ONLY = ("switchover_live",)


def main(names: list[str]) -> int:
    unknown = sorted(set(names) - set(BENCHMARKS) - set(NAMED_ONLY))
    if unknown:
        print(f"unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS + NAMED_ONLY)}", file=sys.stderr)
        return 2
    failed = [name for name in names or BENCHMARKS if subprocess.run(
        [sys.executable, "-c", f"import sys, bench.{name}; sys.exit(bench.{name}.main())"], check=False).returncode]
    if failed:
        print(f"BENCH targets missed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
