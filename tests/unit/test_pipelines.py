"""Pipeline configuration: loading, validation with the line, unknown pipelines."""

from __future__ import annotations

import pytest

from cdc_runbooks.pipelines import DEFAULT_PATH, PipelineConfigError, UnknownPipeline, get_pipeline, load_pipelines

GOOD = """\
pipelines:
  shop:
    source_cluster: prod
    dms_task_arn: arn:aws:dms:us-east-1:123456789012:task:prod-to-warehouse
    target_schema: shop
    tables: [customers, orders]
  billing:
    source_cluster: billing-prod
    dms_task_arn: arn:aws:dms:eu-west-1:123456789012:task:BILLING
    target_schema: billing
    tables: [invoices]
"""


def _write(tmp_path, text: str):
    path = tmp_path / "pipelines.yaml"
    path.write_text(text)
    return path


def test_the_repository_config_loads():
    assert get_pipeline("shop", DEFAULT_PATH).tables == ("customers", "orders")


def test_loads_every_pipeline_with_defaults(tmp_path):
    pipelines = load_pipelines(_write(tmp_path, GOOD))
    assert sorted(pipelines) == ["billing", "shop"]
    assert pipelines["billing"].aws_conn_id == "aws_default"
    assert pipelines["billing"].binlog_retention_hours_min == 24


def test_unknown_pipeline_names_the_configured_ones(tmp_path):
    with pytest.raises(UnknownPipeline, match="unknown pipeline 'nope'; configured: billing, shop"):
        get_pipeline("nope", _write(tmp_path, GOOD))


@pytest.mark.parametrize(("change", "message"), [
    (("tables: [invoices]", "tables: [invoices, 'x; DROP TABLE y']"), "tables: 'x; DROP TABLE y' is not valid"),
    (("task:BILLING", "task:BILLING\n    typo_key: 1"), r"unknown keys \['typo_key'\]"),
    (("arn:aws:dms:eu-west-1:123456789012:task:BILLING", "arn:aws:dms:eu-west-1:12345:task:BILLING"),
     "dms_task_arn: .* is not valid; expected an ARN such as"),
    (("    target_schema: billing\n", ""), r"missing keys \['target_schema'\]"),
    (("source_cluster: billing-prod", "source_cluster: billing--prod"), "source_cluster"),
])
def test_invalid_pipeline_fails_with_file_line_and_field(tmp_path, change, message):
    path = _write(tmp_path, GOOD.replace(*change))
    with pytest.raises(PipelineConfigError, match=message) as error:
        load_pipelines(path)
    assert f"{path}:7: pipeline 'billing'" in str(error.value)


@pytest.mark.parametrize("text", ["", "pipelines: []", "not: [valid", "pipelines:\n  shop: 3\n"])
def test_malformed_files_are_refused(tmp_path, text):
    with pytest.raises(PipelineConfigError):
        load_pipelines(_write(tmp_path, text))


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(PipelineConfigError, match="cannot read the pipelines file"):
        load_pipelines(tmp_path / "absent.yaml")


EXPORT = """\
    export_bucket: cdc-exports
    export_prefix: aurora/daily
    export_kms_key_arn: arn:aws:kms:us-east-1:123456789012:alias/cdc-exports
    export_role_arn: arn:aws:iam::123456789012:role/rds-s3-export
    glue_database: billing_lake
    athena_workgroup: cdc-runbooks
    athena_output: s3://cdc-athena-results/runbooks/
"""


def test_export_settings_load_and_default_to_none(tmp_path):
    pipelines = load_pipelines(_write(tmp_path, GOOD + EXPORT))
    billing, shop = pipelines["billing"], pipelines["shop"]
    assert billing.exports_to_athena and billing.export_prefix == "aurora/daily"
    assert billing.glue_database == "billing_lake" and billing.athena_output == "s3://cdc-athena-results/runbooks/"
    assert not shop.exports_to_athena and shop.export_role_arn is None


def test_the_repository_config_exports_shop():
    shop = get_pipeline("shop", DEFAULT_PATH)
    assert shop.exports_to_athena and shop.export_kms_key_arn.endswith(":alias/cdc-exports")


@pytest.mark.parametrize(("change", "message"), [
    (("    glue_database: billing_lake\n", ""), "glue_database: required when any of export_bucket"),
    (("export_prefix: aurora/daily", "export_prefix: 'aurora:daily'"), "export_prefix: 'aurora:daily' is not valid"),
    (("export_prefix: aurora/daily", "export_prefix: /aurora/"), "export_prefix: '/aurora/' is not valid"),
    (("alias/cdc-exports", "alias/cdc exports"), "export_kms_key_arn: .* expected an ARN"),
    (("role/rds-s3-export", "user/rds-s3-export"), "export_role_arn: .* expected an ARN"),
    (("glue_database: billing_lake", "glue_database: billing-lake"), "glue_database: 'billing-lake' is not valid"),
    (("athena_workgroup: cdc-runbooks", "athena_workgroup: 'cdc runbooks'"), "athena_workgroup: 'cdc runbooks'"),
    (("s3://cdc-athena-results/runbooks/", "https://cdc-athena-results/"), "athena_output: .* S3 folder URI"),
    (("s3://cdc-athena-results/runbooks/", "s3://Bad_Bucket/"), "athena_output: .* S3 folder URI"),
])
def test_invalid_export_settings_name_the_field(tmp_path, change, message):
    path = _write(tmp_path, (GOOD + EXPORT).replace(*change))
    with pytest.raises(PipelineConfigError, match=message) as error:
        load_pipelines(path)
    assert f"{path}:7: pipeline 'billing'" in str(error.value)


def _fresh(tmp_path, text: str):
    """A new file per load: pipelines are cached per file and modification time."""
    path = tmp_path / f"pipelines-{len(list(tmp_path.iterdir()))}.yaml"
    path.write_text(text)
    return path


def _export_pipeline(tables: list[str], name: str = "billing", database: str = "billing_lake") -> str:
    return (f"  {name}:\n    source_cluster: billing-prod\n"
            "    dms_task_arn: arn:aws:dms:eu-west-1:123456789012:task:BILLING\n"
            f"    target_schema: billing\n    tables: [{', '.join(tables)}]\n"
            + EXPORT.replace("billing_lake", database))


def test_a_pipeline_whose_counts_cannot_fit_the_snapshots_tags_is_refused(tmp_path):
    most = [f"t{i}" for i in range(48)]
    assert len(load_pipelines(_fresh(tmp_path, "pipelines:\n" + _export_pipeline(most)))["billing"].tables) == 48
    with pytest.raises(PipelineConfigError, match="49 tables.*48 at most.*50 tags"):
        load_pipelines(_fresh(tmp_path, "pipelines:\n" + _export_pipeline([*most, "t48"])))
    assert len(load_pipelines(_fresh(tmp_path, GOOD.replace("[invoices]", f"[{', '.join(most + ['x'])}]"))))


@pytest.mark.parametrize(("tables", "message"), [
    (["Orders", "orders"], r"\['orders', 'orders_latest'\] named twice in Glue"),
    (["orders", "orders_latest"], r"\['orders_latest'\] named twice in Glue"),
    (["orders", "ORDERS_Latest"], r"\['orders_latest'\] named twice in Glue"),
    (["orders", "orders__shop_lake_20240101"], "'orders__shop_lake_20240101' contains '__'"),
])
def test_tables_that_would_share_a_glue_name_are_refused(tmp_path, tables, message):
    with pytest.raises(PipelineConfigError, match=message):
        load_pipelines(_fresh(tmp_path, "pipelines:\n" + _export_pipeline(tables)))
    load_pipelines(_fresh(tmp_path, GOOD.replace("[invoices]", f"[{', '.join(tables)}]")))  # no export: no Glue


def test_two_pipelines_publishing_one_glue_table_are_refused(tmp_path):
    text = "pipelines:\n" + _export_pipeline(["orders"], "a") + _export_pipeline(["items", "Orders_latest"], "b")
    path = _fresh(tmp_path, text)
    with pytest.raises(PipelineConfigError, match=f"{path}:14: pipeline 'b'.*billing_lake.orders_latest.*pipeline 'a'"):
        load_pipelines(path)
    other = "pipelines:\n" + _export_pipeline(["orders"], "a") + _export_pipeline(["orders"], "b", "other_lake")
    assert sorted(load_pipelines(_fresh(tmp_path, other))) == ["a", "b"]
    account = text.replace("  b:\n", "  b:\n    aws_conn_id: aws_other_account\n")  # another catalog
    assert sorted(load_pipelines(_fresh(tmp_path, account))) == ["a", "b"]


def test_a_warehouse_through_the_redshift_data_api_is_a_mapping_validated_at_load(tmp_path):
    secret = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:reader-AbCdEf"
    text = GOOD + (f"    redshift_data: {{workgroup: analytics, database: dev, statement_timeout_s: 30,\n"
                   f"                    secret_arn: '{secret}'}}\n")
    target = load_pipelines(_write(tmp_path, text))["billing"].redshift_data

    assert (target.workgroup, target.cluster, target.database, target.statement_timeout_s) == (
        "analytics", None, "dev", 30)
    assert load_pipelines(_write(tmp_path, GOOD))["billing"].redshift_data is None


@pytest.mark.parametrize(("mapping", "message"), [
    ("{workgroup: analytics, cluster: prod-dw, database: dev}", "exactly one of workgroup"),
    ("{database: dev}", "exactly one of workgroup"),
    ("{workgroup: analytics}", "database"),
    ("{workgroup: analytics, database: dev, region: x}", "region"),
    ("{workgroup: 'a b', database: dev}", "redshift_data.workgroup"),
    ("{workgroup: analytics, database: 'dev; drop'}", "redshift_data.database"),
    ("{workgroup: analytics, database: dev, secret_arn: 'arn:aws:iam::123456789012:role/x'}", "secret_arn"),
    ("{workgroup: analytics, database: dev, statement_timeout_s: 0}", "statement_timeout_s"),
    ("[analytics]", "redshift_data: expected a mapping"),
])
def test_a_bad_redshift_data_mapping_is_refused_with_the_pipeline_and_line(tmp_path, mapping, message):
    with pytest.raises(PipelineConfigError, match=rf"pipelines.yaml:7: pipeline 'billing': .*{message}"):
        load_pipelines(_write(tmp_path, GOOD + f"    redshift_data: {mapping}\n"))
