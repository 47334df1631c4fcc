"""The one layer that calls AWS and the databases behind it.

Every describe call, wait poll and SQL lookup the runbooks make lives here,
written once, and the operators, triggers and DAG callables import it instead
of calling boto3 or a hook themselves. Modules by the thing they talk to:

- :mod:`~cdc_runbooks.aws.hooks` — cached provider hooks and clients per connection.
- :mod:`~cdc_runbooks.aws.errors` — which AWS errors are transient, and "does it exist".
- :mod:`~cdc_runbooks.aws.cluster` — a cluster's writer, its parameters and its binlog (RDS + MySQL).
- :mod:`~cdc_runbooks.aws.dms` — a DMS task's state, its instance and its CloudWatch CDC latency.
- :mod:`~cdc_runbooks.aws.blue_green` — blue/green deployments.
- :mod:`~cdc_runbooks.aws.exports` — snapshot exports and cluster snapshots (and what an export run needs).
- :mod:`~cdc_runbooks.aws.lake_objects` — the export's files in S3.
- :mod:`~cdc_runbooks.aws.catalog` — the lake's Glue tables and partitions, and its Athena counts.
"""
