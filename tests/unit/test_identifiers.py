"""Identifiers and ARNs: valid ones pass, hostile ones are refused naming the field."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cdc_runbooks import identifiers

HOSTILE = ["", " ", "a;b", "a`b", "a'b", 'a"b', "a b", "ä", "x" * 300, "a--b", "-a", "a-", "1; DROP TABLE t", None, 7]


@pytest.mark.parametrize(("check", "good"), [
    (identifiers.cluster_identifier, "prod-green-abc123"),
    (identifiers.table_name, "orders_2024"),
    (identifiers.conn_id, "source_mysql"),
    (identifiers.s3_bucket, "cdc-runbook-records"),
    (identifiers.deployment_identifier, "bgd-0123456789abcdef"),
])
def test_accepts_valid_values_and_refuses_hostile_ones(check, good):
    assert check(good, "field_x") == good
    for bad in HOSTILE:
        if (check is identifiers.conn_id and bad in ("a--b", "-a", "a-")) or (
                check is identifiers.s3_bucket and bad == "a--b"):
            continue  # hyphens are fine there
        with pytest.raises(identifiers.InvalidIdentifier, match="^field_x: "):
            check(bad, "field_x")


@pytest.mark.parametrize(("kind", "good", "bad"), [
    ("dms-task", "arn:aws:dms:us-east-1:123456789012:task:ABC123", "arn:aws:dms:us-east-1:123456789012:endpoint:X"),
    ("sns-topic", "arn:aws:sns:eu-west-1:123456789012:oncall", "arn:aws:sns:eu-west-1:12345678901:oncall"),
    ("iam-role", "arn:aws:iam::123456789012:role/export", "arn:aws:iam::123456789012:user/export"),
    ("kms-key", "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab", "arn:aws:kms:us-east-1:123456789012:k/1"),
])
def test_arns_of_one_kind(kind, good, bad):
    assert identifiers.arn(kind, good, "some_arn") == good
    with pytest.raises(identifiers.InvalidIdentifier, match=r"some_arn: .* expected an ARN such as"):
        identifiers.arn(kind, bad, "some_arn")


@pytest.mark.parametrize(("check", "good", "bad"), [
    (identifiers.s3_prefix, "aurora/daily-exports_v1.2", ["", "/a", "a/", "a//b", "a:b", "a b", "a/../b", "x" * 600]),
    (identifiers.s3_uri, "s3://cdc-athena-results/runs/", ["s3://cdc-athena-results", "s3://Bad/", "s3://b1/a:b/",
                                                          "https://cdc/x/", None]),
    (identifiers.athena_workgroup, "cdc-runbooks.v2", ["", "a b", "a;b", "x" * 129]),
])
def test_lake_identifiers(check, good, bad):
    assert check(good, "field_x") == good
    for value in bad:
        with pytest.raises(identifiers.InvalidIdentifier, match="^field_x: "):
            check(value, "field_x")


@pytest.mark.parametrize("value, expected", [
    ("2026-11-27T03:00:00+00:00", datetime(2026, 11, 27, 3, tzinfo=UTC)),
    ("2026-11-27T04:00:00+01:00", datetime(2026, 11, 27, 3, tzinfo=UTC)),
    ("2026-11-27T03:00:00", datetime(2026, 11, 27, 3, tzinfo=UTC)),  # naive: UTC
])
def test_iso_datetime_reads_iso_8601_and_takes_naive_values_as_utc(value, expected):
    assert identifiers.iso_datetime(value, "cdc_start_time") == expected


@pytest.mark.parametrize("value", ["yesterday", "", None, 1764212400, "2026-13-01T00:00:00", "9" * 65,
                                   "2026-11-27T03:00:00'; DROP TABLE x;--"])
def test_iso_datetime_refuses_anything_else_naming_the_field(value):
    with pytest.raises(identifiers.InvalidIdentifier, match=r"^since: .* expected an ISO 8601 date-time"):
        identifiers.iso_datetime(value, "since")
