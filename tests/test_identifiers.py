"""Identifiers and ARNs: valid ones pass, hostile ones are refused naming the field."""

from __future__ import annotations

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
