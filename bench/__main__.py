"""`make bench`: every benchmark, or the ones named (``python -m bench estate reconcile``).

Each module's ``main()`` prints its ``BENCH`` lines and returns 0 when its targets are met.
"""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = ("estate", "switchover", "dag_parse", "reconcile")


def main(names: list[str]) -> int:
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        print(f"unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}", file=sys.stderr)
        return 2
    failed = [name for name in names or BENCHMARKS if importlib.import_module(f"bench.{name}").main() != 0]
    if failed:
        print(f"BENCH targets missed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
