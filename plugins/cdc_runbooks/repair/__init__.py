"""Repair what a reconcile found: re-copy rows (or whole tables) from the source into the warehouse as they were at
the DMS task's checkpoint, so that CDC restarted from that checkpoint applies every later change exactly once.

Modules, from the inside out:

- :mod:`~cdc_runbooks.repair.rewind` — the rows of a table at a checkpoint, from the rows now and the binlog's
  row changes since. Pure.
- :mod:`~cdc_runbooks.repair.plan` — which repair each drifted table gets (its keys, or the whole table), and the
  exact statements. Pure.
- :mod:`~cdc_runbooks.repair.copy` — the repair itself: source rows and binlog row changes in, one warehouse
  transaction out. Runs SQL on DB-API connections; no Airflow.

The Airflow operators are in :mod:`cdc_runbooks.operators.repair`; the runbook is ``runbooks/cdc_repair.md``.
"""
