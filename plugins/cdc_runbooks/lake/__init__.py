"""The batch path: a daily cluster snapshot, exported to S3 as Parquet, validated with Athena, published in Glue.

Modules:

- :mod:`~cdc_runbooks.lake.export` — one pipeline's export of one data interval: names, states, counts and
  checks. Pure.
- :mod:`~cdc_runbooks.lake.glue_schema` — Glue table and partition definitions for the export's Parquet, and
  the validation query. Pure.
- :mod:`~cdc_runbooks.lake.steps` — the base operators of the DAG's steps (:class:`LakeStep`,
  :class:`SnapshotStep`) and the lookups they share. Needs Airflow.

The AWS calls are in :mod:`cdc_runbooks.aws.exports` (RDS), :mod:`cdc_runbooks.aws.lake_objects` (S3) and
:mod:`cdc_runbooks.aws.catalog` (Glue, Athena); the operators in ``operators/snapshot_export.py``,
``operators/athena_tables.py`` and ``operators/lake_retention.py``.
"""
