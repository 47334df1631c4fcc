"""``python -m rehearsal.cli demo|up [--traffic]``: the estate from a shell (``make demo`` runs ``demo``)."""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import threading

from rehearsal.estate import Estate
from rehearsal.process import MissingServerBinary
from rehearsal.runbook_demo import prepare_airflow, rehearse_switchover_runbook, render, summary_of


def demo() -> int:
    """Start the estate and run the blue/green switchover runbook on it, pre-approved, under write traffic."""
    with Estate.running() as estate:
        blue, green = estate.source.blue.master_status(), estate.source.green.master_status()
        print(f"estate up in {estate.startup_seconds:.1f} s on 127.0.0.1")
        print(f"blue  writer binlog  {blue}  (GTID {blue.gtid})")
        print(f"green replica binlog {green}  (GTID {green.gtid}) - same data, other coordinates")
        print("running aurora_blue_green_switchover (pre-approved) and cdc_resume_after_switchover.shop "
              "with write traffic on ...", flush=True)
        prepare_airflow(estate)
        product, data, stats = rehearse_switchover_runbook(estate)
        print(render(product, data))
        print(f"traffic: {stats.committed} writes committed, {stats.retried} retried through the switchover")
    ok = product["outcome"] == data["outcome"] == "success" and summary_of(data).get("drift") == 0
    return 0 if ok else 1


def up(traffic: bool = False) -> int:
    """Start the estate and keep it running; print the Airflow connections that reach it. With ``traffic`` the
    application writes to blue meanwhile (as in ``demo``), so a switchover rehearsed from the UI runs under load."""
    with Estate.running() as estate:
        print(f"estate up in {estate.startup_seconds:.1f} s; blue/green deployment_id={estate.deployment_id}")
        print("export these to point Airflow at it:")
        for name, value in estate.airflow_env().items():
            print(f"export {name}='{value}'")
        generator = estate.traffic().start() if traffic else None
        if generator is not None:
            print("write traffic on (the application's inserts and updates); Ctrl-C stops it and the estate")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
        if generator is not None:
            stats = generator.stop()
            print(f"traffic: {stats.committed} writes committed, {stats.retried} retried")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rehearsal-estate", description=__doc__)
    parser.add_argument("command", choices=("demo", "up"))
    parser.add_argument("--traffic", action="store_true", help="up: run write traffic against blue until stopped")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return demo() if args.command == "demo" else up(traffic=args.traffic)
    except MissingServerBinary as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
