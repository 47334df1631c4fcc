"""Triggers for the runbooks' long waits, laid out like the amazon provider's ``triggers/`` (one module per
service), on one base that polls with the sync hooks (no aiobotocore) and runs inline or deferred.

- :mod:`~cdc_runbooks.triggers.base` — ``AwsPollingTrigger`` (connection, Region, poll settings, one
  ``serialize``), ``wait_for`` and ``run_inline``.
- :mod:`~cdc_runbooks.triggers.dms` — a DMS task's status, its CDC latency.
- :mod:`~cdc_runbooks.triggers.rds` — a blue/green switchover's end, green's binlog coordinates.
- :mod:`~cdc_runbooks.triggers.export` — snapshot exports.
"""
