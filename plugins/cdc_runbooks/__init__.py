"""The domain of the CDC runbooks: binlog positions and settings, DMS and blue/green steps,
reconciliation, export/Athena registration and run records.

Pure logic here imports without Airflow; Airflow operators and tasks are thin
shells over it. DAG files in ``dags/`` import from this package.
"""
