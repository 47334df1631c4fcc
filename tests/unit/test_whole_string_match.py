"""Every name, ARN, position and Param pattern matches the WHOLE string: nothing after a valid value, not even
one final newline (Python's ``$`` matches before it, and jsonschema applies a Param's ``pattern`` with Python's
``re.search``, so ``^...$`` alone lets ``"bgd-...\\n"`` through to AWS).

Property-based over the whole space each pattern accepts (hypothesis ``from_regex``), so a pattern added later
without whole-string matching fails here. Pure: no Airflow run, no estate (the DagBag is only parsed).
"""

from __future__ import annotations

import functools
import os
import re

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdc_runbooks import identifiers
from cdc_runbooks.binlog_position import PARAM_PATTERN, BinlogPosition
from cdc_runbooks.reconcile.row_checksum import column_name

PROPERTY = settings(derandomize=True, database=None, max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
# After a valid value: what `$` (or a prefix match) used to let through.
TAILS = st.sampled_from(["\n", "\r\n", "\n\n", " ", "\t", "\x00", "\nx", ";"])

# validator -> a pattern that describes (a subset of) the values it accepts
VALIDATORS = {
    "cluster_identifier": (identifiers.cluster_identifier, r"[a-z][a-z0-9]{0,20}"),
    "deployment_identifier": (identifiers.deployment_identifier, r"bgd-[a-z0-9]{16}"),
    "table_name": (identifiers.table_name, r"[A-Za-z_][A-Za-z0-9_]{0,63}"),
    "conn_id": (identifiers.conn_id, r"[A-Za-z0-9_.-]{1,250}"),
    "s3_bucket": (identifiers.s3_bucket, r"[a-z0-9][a-z0-9-]{1,20}[a-z0-9]"),
    "s3_prefix": (identifiers.s3_prefix, r"[a-z0-9]{1,8}(/[a-z0-9_-]{1,8}){0,3}"),
    "s3_uri": (identifiers.s3_uri, r"s3://[a-z0-9]{3,10}/([a-z0-9]{1,8}/){0,2}"),
    "athena_workgroup": (identifiers.athena_workgroup, r"[A-Za-z0-9._-]{1,128}"),
    "column_name": (column_name, r"[A-Za-z_][A-Za-z0-9_]{0,63}"),
    **{f"{kind} ARN": (functools.partial(identifiers.arn, kind), pattern) for kind, pattern in (
        ("dms-task", r"arn:aws:dms:us-east-1:\d{12}:task:[A-Z0-9]{1,30}"),
        ("sns-topic", r"arn:aws:sns:eu-west-1:\d{12}:[a-z_-]{1,30}"),
        ("iam-role", r"arn:aws:iam::\d{12}:role/[a-z/_-]{1,30}"),
        ("kms-key", r"arn:aws:kms:us-east-1:\d{12}:key/[a-f0-9-]{1,36}"))},
}


@pytest.mark.parametrize("name", sorted(VALIDATORS))
@PROPERTY
@given(data=st.data())
def test_identifiers_accept_a_whole_valid_value_and_nothing_after_it(name, data):
    validate, accepted = VALIDATORS[name]
    value = data.draw(st.from_regex(accepted, fullmatch=True).filter(lambda v: "--" not in v))

    assert validate(value, "the_field") == value
    with pytest.raises(identifiers.InvalidIdentifier, match="^the_field: "):
        validate(value + data.draw(TAILS), "the_field")


@PROPERTY
@given(file=st.from_regex(r"[a-z-]{1,12}\.[0-9]{6}", fullmatch=True), position=st.integers(4, 2**64 - 1),
       tail=TAILS)
def test_binlog_position_pattern_refuses_anything_after_a_position(file, position, tail):
    assert re.search(PARAM_PATTERN, f"{file}:{position}")
    assert not re.search(PARAM_PATTERN, f"{file}:{position}{tail}")
    assert BinlogPosition.parse(f"{file}:{position}") == BinlogPosition(file, position)


def _patterns(schema) -> list[str]:
    """Every ``pattern`` anywhere in a JSON schema (``items``, ``anyOf``, ...)."""
    if isinstance(schema, dict):
        return [p for key, value in schema.items() for p in ([value] if key == "pattern" else _patterns(value))]
    if isinstance(schema, list):
        return [p for value in schema for p in _patterns(value)]
    return []


def _param_patterns() -> list[tuple[str, str, str]]:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"], safe_mode=False)
    return sorted({(dag_id, key, pattern) for dag_id, dag in bag.dags.items()
                   for key, param in dag.params.items() for pattern in _patterns(dag.params.get_param(key).schema)})


PARAM_PATTERNS = _param_patterns()


def test_the_params_with_patterns_are_found():
    assert {key for _, key, _ in PARAM_PATTERNS} >= {"deployment_id", "cdc_start_position", "tables"}


@pytest.mark.parametrize(("dag_id", "key", "pattern"), PARAM_PATTERNS)
@PROPERTY
@given(data=st.data())
def test_param_patterns_match_the_whole_value_as_airflow_validates_them(dag_id, key, pattern, data):
    """jsonschema, as Airflow's Param runs it (``re.search``), accepts a valid value and refuses it with a tail."""
    value = data.draw(st.from_regex(pattern, fullmatch=True).map(lambda v: v.rstrip("\n")).filter(
        lambda v: re.fullmatch(pattern, v) is not None))
    schema = {"type": "string", "pattern": pattern}

    jsonschema.validate(value, schema, format_checker=jsonschema.FormatChecker())
    # a tail the pattern's own whole-string reading refuses (a checkpoint's free-form rest accepts ';')
    tail = data.draw(TAILS.filter(lambda t: re.fullmatch(pattern, value + t) is None))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(value + tail, schema, format_checker=jsonschema.FormatChecker())
