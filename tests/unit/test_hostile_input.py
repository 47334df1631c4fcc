"""Hostile input: every value that reaches AWS or SQL (identifiers, ARNs, binlog positions, pipeline
configuration, DAG params, operator arguments) is fuzzed with malformed and hostile values (quotes, semicolons,
backticks, whitespace, control and look-alike unicode characters, huge values). Each is refused before any AWS
or SQL call, with a message naming the field."""

from __future__ import annotations

import copy
import json
import os
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdc_runbooks import identifiers
from cdc_runbooks.binlog_position import BinlogPosition, InvalidBinlogPosition
from cdc_runbooks.pipelines import PipelineConfigError, load_pipelines, pipelines_path

FUZZ = settings(derandomize=True, database=None, max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

# Characters no identifier, ARN, bucket, prefix or binlog file name allows.
POISON = ("'", '"', ";", "`", " ", "\n", "\t", "\x00", "\u200b", "\u202e", "é", "ｐ", "$", "(", "%", "*", "\\", "<",
          "|", "&", "#", "!", "?", "{")
CLASSICS = ("prod'; DROP TABLE shop.orders; --", "`prod`", '"prod"', "prod; rm -rf /", "ｐｒｏｄ", "prod\u0000",
            "../../etc/passwd", "${jndi:ldap://x}", "{{ 7 * 7 }}", "", " ", "prod\nDROP", "*", "%", "prodé", "prod_ｐ",
            "prod\n", "bgd-0123456789abcdef\n")  # a valid value and one final newline (Python's $ matches before it)
# Longest refusal message: an error quotes at most the start of a value, never a huge one whole.
MESSAGE_LIMIT = 1500


SHORT_TEXT = st.text(max_size=30)


def poisoned(base: st.SearchStrategy[str] = SHORT_TEXT) -> st.SearchStrategy[str]:
    """Any text (or ``base``) with at least one poison character somewhere in it."""
    return st.builds(lambda a, poison, b: a + poison + b, base, st.sampled_from(POISON), base)


def huge(prefix: str = "", suffix: str = "") -> st.SearchStrategy[str]:
    """A well-formed value made enormous with allowed characters."""
    return st.integers(min_value=1_000, max_value=20_000).map(lambda n: prefix + "a" * n + suffix)


HOSTILE = st.one_of(st.sampled_from(CLASSICS), poisoned(), huge())
# Non-strings where a name is expected.
NOT_TEXT = st.one_of(st.none(), st.integers(), st.floats(allow_nan=False), st.booleans(),
                     st.lists(st.text(max_size=3), max_size=2), st.dictionaries(st.text(max_size=3), st.integers()))

VALIDATORS = {
    "cluster_identifier": (identifiers.cluster_identifier, HOSTILE),
    "deployment_identifier": (identifiers.deployment_identifier, st.one_of(HOSTILE, huge("bgd-"))),
    "table_name": (identifiers.table_name, HOSTILE),
    "conn_id": (identifiers.conn_id, HOSTILE),
    "s3_bucket": (identifiers.s3_bucket, HOSTILE),
    "s3_prefix": (identifiers.s3_prefix, st.one_of(HOSTILE, huge("exports/"))),
    "s3_uri": (identifiers.s3_uri, st.one_of(HOSTILE, huge("s3://cdc-exports/"), poisoned(st.just("s3://cdc-exports/")))),
    "athena_workgroup": (identifiers.athena_workgroup, HOSTILE),
}
ARNS = {
    "dms-task": "arn:aws:dms:us-east-1:123456789012:task:",
    "sns-topic": "arn:aws:sns:us-east-1:123456789012:",
    "iam-role": "arn:aws:iam::123456789012:role/",
    "kms-key": "arn:aws:kms:us-east-1:123456789012:key/",
}


def refused(call, *args, error=ValueError, field: str) -> str:
    with pytest.raises(error) as raised:
        call(*args)
    message = str(raised.value)
    assert field in message, f"{message[:300]!r} does not name {field!r}"
    assert len(message) < MESSAGE_LIMIT, f"{len(message)} characters: the input is echoed whole: {message[:300]!r}"
    return message


@pytest.mark.parametrize("name", sorted(VALIDATORS))
@FUZZ
@given(data=st.data())
def test_identifiers_refuse_hostile_values_naming_the_field(name, data):
    validate, values = VALIDATORS[name]
    value = data.draw(st.one_of(values, NOT_TEXT))

    refused(validate, value, "the_field", error=identifiers.InvalidIdentifier, field="the_field")


@pytest.mark.parametrize("kind", sorted(ARNS))
@FUZZ
@given(data=st.data())
def test_arns_refuse_hostile_values_naming_the_field(kind, data):
    prefix = ARNS[kind]
    value = data.draw(st.one_of(HOSTILE, NOT_TEXT, huge(prefix), poisoned(st.just(prefix)),
                                st.sampled_from([prefix, prefix.replace("123456789012", "12345678901x") + "x",
                                                 prefix.replace("arn:aws:", "arn:aws:s3:") + "x"])))

    refused(identifiers.arn, kind, value, "the_arn", error=identifiers.InvalidIdentifier, field="the_arn")


BINLOG_FILE = "mysql-bin-changelog.000024"
HOSTILE_POSITIONS = st.one_of(
    HOSTILE, NOT_TEXT,
    st.builds(lambda p, n: f"{BINLOG_FILE[:n]}{p}{BINLOG_FILE[n:]}:373", st.sampled_from(POISON),
              st.integers(1, len(BINLOG_FILE) - 1)),  # poison inside the file name
    st.builds(lambda p: f"{BINLOG_FILE}:3{p}73", st.sampled_from(POISON)),  # ... inside the offset
    st.builds(lambda p: f"{BINLOG_FILE}{p}:373", st.sampled_from(POISON)),
    st.builds(lambda n: f"{BINLOG_FILE}:{n}", st.one_of(st.integers(max_value=3), st.integers(min_value=2**64))),
    huge(suffix=".000001:4"), huge(f"{BINLOG_FILE}:"),
    st.builds(lambda p: f"checkpoint:V1#1#{BINLOG_FILE}{p}:373:-1:373:0#0", st.sampled_from(POISON)),
    st.builds(lambda p: f"checkpoint:V1#1#{BINLOG_FILE}:373:{p}0", st.sampled_from(POISON[4:13])),  # not ASCII
)


@FUZZ
@given(value=HOSTILE_POSITIONS)
def test_binlog_positions_refuse_hostile_values(value):
    refused(BinlogPosition.parse, value, error=InvalidBinlogPosition, field="binlog position")


# -- pipelines configuration --------------------------------------------------------------------------------------
def _base_settings() -> dict:
    document = yaml.safe_load(Path(pipelines_path()).read_text())
    name, settings_ = next(iter(document["pipelines"].items()))
    return settings_


STRING_FIELDS = {
    "source_cluster": HOSTILE, "target_schema": HOSTILE, "aws_conn_id": HOSTILE, "source_conn_id": HOSTILE,
    "target_conn_id": HOSTILE, "records_bucket": HOSTILE, "dms_task_arn": st.one_of(HOSTILE, huge(ARNS["dms-task"])),
    "sns_topic_arn": st.one_of(HOSTILE, huge(ARNS["sns-topic"])), "export_bucket": HOSTILE,
    "export_prefix": st.one_of(HOSTILE, huge()), "export_kms_key_arn": st.one_of(HOSTILE, huge(ARNS["kms-key"])),
    "export_role_arn": st.one_of(HOSTILE, huge(ARNS["iam-role"])), "glue_database": HOSTILE,
    "athena_workgroup": HOSTILE, "athena_output": HOSTILE,
}
NUMBER_FIELDS = ("binlog_retention_hours_min", "drain_max_latency_s", "drain_sustain_s", "metric_period_s",
                 "poll_interval_s")
NOT_POSITIVE = st.one_of(HOSTILE, st.integers(max_value=0), st.floats(max_value=0, allow_nan=False), st.booleans(),
                         st.none(), st.lists(st.integers(1, 9), min_size=1, max_size=2))


def _load_with(field: str, value) -> None:
    settings_ = {**_base_settings(), field: value}
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "pipelines.yaml"
        path.write_text(yaml.safe_dump({"pipelines": {"shop": settings_}}, allow_unicode=True))
        load_pipelines(path)


@pytest.mark.parametrize("field", sorted(STRING_FIELDS))
@FUZZ
@given(data=st.data())
def test_pipeline_config_refuses_hostile_strings_naming_the_field(field, data):
    if field not in _base_settings():
        pytest.skip(f"{field} is not configured in {pipelines_path()}")
    refused(_load_with, field, data.draw(STRING_FIELDS[field]), error=PipelineConfigError, field=field)


@pytest.mark.parametrize("field", NUMBER_FIELDS)
@FUZZ
@given(value=NOT_POSITIVE)
def test_pipeline_config_refuses_non_positive_numbers_naming_the_field(field, value):
    refused(_load_with, field, value, error=PipelineConfigError, field=field)


@FUZZ
@given(table=HOSTILE, at=st.integers(0, 1))
def test_pipeline_config_refuses_hostile_table_names(table, at):
    tables = list(_base_settings()["tables"])
    tables.insert(at, table)
    refused(_load_with, "tables", tables, error=PipelineConfigError, field="tables")


@FUZZ
@given(name=st.one_of(HOSTILE, st.integers()))
def test_pipeline_config_refuses_hostile_pipeline_names(name):
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "pipelines.yaml"
        path.write_text(yaml.safe_dump({"pipelines": {name: _base_settings()}}, allow_unicode=True))
        refused(load_pipelines, path, error=PipelineConfigError, field="pipeline name")


# -- DAG params ---------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dags():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"], safe_mode=False).dags


def _all_params():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"], safe_mode=False)
    return sorted((dag_id, key) for dag_id, dag in bag.dags.items() for key in dag.params)


HOSTILE_PARAM = st.one_of(
    HOSTILE, st.lists(HOSTILE, min_size=1, max_size=3), st.dictionaries(st.text(max_size=3), HOSTILE, max_size=2),
    st.integers(min_value=10**9), st.integers(max_value=-1), st.floats(min_value=1e9, allow_nan=False),
    st.floats(max_value=-1e-9, allow_nan=False))


def _accepts(dag, key: str, value) -> bool:
    from airflow.sdk.exceptions import ParamValidationError

    params = copy.deepcopy(dag.params)
    try:
        params[key] = value
    except ParamValidationError as exc:
        assert key in str(exc)
        return False
    return True


@pytest.mark.parametrize(("dag_id", "key"), _all_params())
@FUZZ
@given(value=HOSTILE_PARAM)
def test_dag_params_refuse_hostile_values_naming_the_param(dags, dag_id, key, value):
    assert not _accepts(dags[dag_id], key, value), f"{dag_id} param {key!r} accepts {json.dumps(value)[:200]}"


@pytest.mark.parametrize(("dag_id", "key"), _all_params())
def test_dag_params_refuse_every_classic_attack(dags, dag_id, key):
    accepted = [value for classic in CLASSICS for value in (classic, [classic]) if _accepts(dags[dag_id], key, value)]

    assert not accepted, f"{dag_id} param {key!r} accepts {accepted}"


# -- operators called directly: refused before any AWS or SQL call -------------------------------------------------
class Tripwire(BaseException):  # not an Exception: no handler in the code under test can swallow it
    """An AWS or SQL call happened."""


@pytest.fixture
def tripwire(monkeypatch):
    """Connections exist (so nothing fails for want of one), and any AWS or SQL call trips."""
    from airflow.providers.mysql.hooks.mysql import MySqlHook
    from airflow.providers.postgres.hooks.postgres import PostgresHook
    from botocore.client import BaseClient

    def trip(*args, **kwargs):
        raise Tripwire("an AWS or SQL call happened before the input was refused")

    for name, conn in {"AWS_DEFAULT": {"conn_type": "aws", "login": "k", "password": "s", "extra": {
            "region_name": "us-east-1", "endpoint_url": "http://127.0.0.1:9"}},
            "SOURCE_MYSQL": {"conn_type": "mysql", "host": "127.0.0.1", "port": 9, "login": "u", "password": "p"},
            "WAREHOUSE": {"conn_type": "postgres", "host": "127.0.0.1", "port": 9, "login": "u"}}.items():
        monkeypatch.setenv(f"AIRFLOW_CONN_{name}", json.dumps(conn))
    monkeypatch.setattr(BaseClient, "_make_api_call", trip)
    monkeypatch.setattr(MySqlHook, "get_conn", trip)
    monkeypatch.setattr(PostgresHook, "get_conn", trip)


def _operators():
    from cdc_runbooks.operators.binlog_readiness import BinlogReadinessOperator
    from cdc_runbooks.operators.blue_green import (
        BlueGreenCoordinatesOperator,
        BlueGreenPreflightOperator,
        BlueGreenSwitchoverOperator,
    )
    from cdc_runbooks.operators.dms import DmsDrainOldBlueOperator, DmsPauseTaskOperator, DmsRestartCdcOperator

    deployment = "bgd-0123456789abcdef"
    return {  # name -> (make the operator from the hostile value, the field its refusal names, hostile values)
        "restart.cdc_start_position": (lambda v: DmsRestartCdcOperator(
            task_id="t", pipeline_name="shop", cdc_start_position=v, dry_run=False), "cdc_start_position",
            HOSTILE_POSITIONS.filter(lambda v: bool(v))),
        "restart.cdc_start_time": (lambda v: DmsRestartCdcOperator(
            task_id="t", pipeline_name="shop", cdc_start_time=v, dry_run=False), "cdc_start_time",
            HOSTILE.filter(lambda v: bool(v))),
        "restart.drained_to": (lambda v: DmsRestartCdcOperator(
            task_id="t", pipeline_name="shop", cdc_start_position="mysql-bin-changelog.000001:4", drained_to=v,
            dry_run=False), "drained_to", HOSTILE_POSITIONS.filter(lambda v: bool(v))),
        "drain.checkpoint": (lambda v: DmsDrainOldBlueOperator(
            task_id="t", pipeline_name="shop", deployment_identifier=deployment, checkpoint=v), "checkpoint",
            HOSTILE_POSITIONS),
        "coordinates.since": (lambda v: BlueGreenCoordinatesOperator(
            task_id="t", pipeline_name="shop", deployment_identifier=deployment, green_writer="w", since=v),
            "since", HOSTILE),
        "switchover.deployment_identifier": (lambda v: BlueGreenSwitchoverOperator(
            task_id="t", pipeline_name="shop", deployment_identifier=v), "deployment_id", HOSTILE),
        "switchover.switchover_timeout": (lambda v: BlueGreenSwitchoverOperator(
            task_id="t", pipeline_name="shop", deployment_identifier=deployment, switchover_timeout=v),
            "switchover_timeout", st.one_of(st.integers(max_value=29), st.integers(min_value=3601))),
        "preflight.deployment_identifier": (lambda v: BlueGreenPreflightOperator(
            task_id="t", pipeline_name="shop", deployment_identifier=v), "deployment_id", HOSTILE),
        "readiness.cluster": (lambda v: BinlogReadinessOperator(task_id="t", pipeline_name="shop", cluster=v),
                              "cluster", HOSTILE),
        "pause.pipeline_name": (lambda v: DmsPauseTaskOperator(task_id="t", pipeline_name=v), "pipeline", HOSTILE),
    }


@pytest.mark.parametrize("case", sorted(_operators()))
@FUZZ
@given(data=st.data())
def test_operators_refuse_hostile_arguments_before_any_aws_or_sql_call(tripwire, case, data):
    make, field, values = _operators()[case]
    operator = make(data.draw(values))

    refused(operator.execute, {}, error=Exception, field=field)
