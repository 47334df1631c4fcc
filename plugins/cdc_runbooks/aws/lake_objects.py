"""The lake's S3 objects: what an RDS export wrote under the pipeline's bucket and prefix, through the pipeline's
AWS connection (``S3Hook``; sync).

Layout (:class:`cdc_runbooks.lake.export.IntervalExport`): ``<prefix>/<export id>/`` holds the export's
``export_tables_info_*.json`` and one folder of Parquet files per table.
"""

from __future__ import annotations

import json

from airflow.providers.amazon.aws.hooks.s3 import S3Hook

from cdc_runbooks.aws.hooks import aws_hook
from cdc_runbooks.lake.export import ExportedTable, IntervalExport, exported_tables, parse_key
from cdc_runbooks.pipelines import Pipeline


def read_tables_info(pipeline: Pipeline, names: IntervalExport) -> dict[str, ExportedTable] | None:
    """perTableStatus of every export_tables_info file of the interval's export; None if there is none."""
    s3 = aws_hook(S3Hook, pipeline.aws_conn_id)
    prefix = f"{names.export_root(pipeline.export_prefix)}/export_tables_info_{names.export_id}_from_"
    keys = s3.list_keys(bucket_name=pipeline.export_bucket, prefix=prefix)
    if not keys:
        return None
    statuses = [status for key in sorted(keys) for status in json.loads(
        s3.read_key(key, bucket_name=pipeline.export_bucket))["perTableStatus"]]
    return exported_tables(statuses)


def data_keys(pipeline: Pipeline, folder: str) -> list[str]:
    """Objects under a table folder that Athena reads (names starting with '_' or '.' are not data)."""
    keys = aws_hook(S3Hook, pipeline.aws_conn_id).list_keys(bucket_name=pipeline.export_bucket, prefix=folder)
    return [k for k in keys if not k.endswith("/") and not k.rsplit("/", 1)[-1].startswith(("_", "."))]


def export_roots(pipeline: Pipeline) -> dict[IntervalExport, list[str]]:
    """{interval: every key under its export root} for the pipeline's exports in the bucket (folders of names
    this runbook derives for the pipeline only)."""
    s3 = aws_hook(S3Hook, pipeline.aws_conn_id)
    base = f"{pipeline.export_prefix.strip('/')}/" if pipeline.export_prefix else ""
    roots = {}
    for folder in s3.list_prefixes(bucket_name=pipeline.export_bucket, prefix=base, delimiter="/"):
        interval = parse_key(pipeline.name, folder[len(base):].strip("/"))
        if interval is not None:
            roots[interval] = s3.list_keys(bucket_name=pipeline.export_bucket, prefix=folder)
    return roots


def delete_keys(pipeline: Pipeline, keys: list[str]) -> None:
    """Delete objects of the pipeline's export bucket."""
    aws_hook(S3Hook, pipeline.aws_conn_id).delete_objects(pipeline.export_bucket, keys)
