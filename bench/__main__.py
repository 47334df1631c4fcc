"""`make bench`: every benchmark, or the ones named (``python -m bench estate reconcile``).

Each module's ``main()`` prints its ``BENCH`` lines and returns 0 when its targets are met. Each runs in a
process of its own, started from this slim one: a peak RSS (Linux keeps it across fork and exec) or
anything imported by one benchmark never shows up in the next one's measurements.
"""

from __future__ import annotations

import subprocess
import sys

BENCHMARKS = ("estate", "switchover", "switchover_live", "event_recovery", "dag_parse", "reconcile")


def main(names: list[str]) -> int:
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        print(f"unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}", file=sys.stderr)
        return 2
    failed = [name for name in names or BENCHMARKS if subprocess.run(
        [sys.executable, "-c", f"import sys, bench.{name}; sys.exit(bench.{name}.main())"], check=False).returncode]
    if failed:
        print(f"BENCH targets missed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
