"""Estate benchmark: start/stop time and a manual switchover rehearsal under CDC.

Prints ``BENCH`` lines; the issue's targets: the estate starts in < 30 s and
leaves no process behind; the rehearsal ends with drift 0.
"""

from __future__ import annotations

import time

from rehearsal.estate import Estate
from rehearsal.rehearse import switchover_under_cdc


def main() -> int:
    started = time.monotonic()
    estate_cm = Estate.running()
    estate = estate_cm.__enter__()
    try:
        startup = time.monotonic() - started
        report = switchover_under_cdc(estate)
    finally:
        stopping = time.monotonic()
        estate_cm.__exit__(None, None, None)
    stop = time.monotonic() - stopping
    print(f"BENCH estate startup_s={startup:.2f} stop_s={stop:.2f} target_startup_s=30")
    print(f"BENCH rehearsal cdc_gap_s={report.cdc_gap_s:.2f} drift={report.drift}")
    return 0 if startup < 30 and report.drift == 0 else 1
