"""Reconciliation: prove a pipeline's source = its warehouse per table under live CDC, or name the keys that differ.

Modules, from the inside out:

- :mod:`~cdc_runbooks.reconcile.row_checksum` — canonical row rendering, row hash and every query, per SQL
  dialect (MySQL, PostgreSQL, Redshift). Pure.
- :mod:`~cdc_runbooks.reconcile.compared_table` — one table on both sides (a :class:`Side` is anything that
  runs SQL), discovered from the information schemas and validated before any data query. Pure.
- :mod:`~cdc_runbooks.reconcile.engine` — the consistent cut, settling and localisation to keys. Pure.
- :mod:`~cdc_runbooks.reconcile.report` — what a reconciliation found: markdown, XCom dict. Pure.
- :mod:`~cdc_runbooks.reconcile.sides` — a pipeline's two sides through Airflow connections (the source's
  writer as the RDS API names it, the warehouse), and what a SQL error means for the step. Needs Airflow.

The Airflow operator is :class:`cdc_runbooks.operators.reconcile.ReconcileOperator`.
"""
