"""The IAM policy evaluator: wildcards, case, explicit deny, exactness, and refusal of what it cannot evaluate."""

from __future__ import annotations

import json

import pytest
from iam_policy import IamRequest, InvalidPolicy, Policy

TASK = "arn:aws:dms:us-east-1:123456789012:task:prod-to-warehouse"


def policy(*statements: dict) -> Policy:
    return Policy.from_document({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action, resource) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource}


def test_exact_action_and_resource_wildcards():
    p = policy(allow(["dms:StopReplicationTask", "dms:StartReplicationTask"], "arn:aws:dms:*:*:task:*"))

    assert p.allows(IamRequest("dms:StopReplicationTask", TASK))
    assert p.allows(IamRequest("dms:StartReplicationTask", TASK))
    assert not p.allows(IamRequest("dms:DeleteReplicationTask", TASK))
    assert not p.allows(IamRequest("dms:StopReplicationTask", "arn:aws:dms:us-east-1:123456789012:endpoint:x"))
    assert not p.allows(IamRequest("dms:StopReplicationTask"))  # "*" is not a task ARN


def test_actions_ignore_case_resources_do_not():
    p = policy(allow("s3:PutObject", "arn:aws:s3:::cdc-runbook-records/runs/*"))

    assert p.allows(IamRequest("S3:putobject", "arn:aws:s3:::cdc-runbook-records/runs/a/b.json"))
    assert not p.allows(IamRequest("s3:PutObject", "arn:aws:s3:::CDC-runbook-records/runs/a.json"))
    assert not p.allows(IamRequest("s3:PutObject", "arn:aws:s3:::cdc-runbook-records/other/a.json"))


def test_question_mark_is_one_character_and_regex_characters_are_literal():
    p = policy(allow("rds:Describe?BClusters", "arn:aws:rds:*:*:cluster:prod.x"))

    assert p.allows(IamRequest("rds:DescribeDBClusters", "arn:aws:rds:us-east-1:1:cluster:prod.x"))
    assert not p.allows(IamRequest("rds:DescribeDDBClusters", "arn:aws:rds:us-east-1:1:cluster:prod.x"))
    assert not p.allows(IamRequest("rds:DescribeDBClusters", "arn:aws:rds:us-east-1:1:cluster:prodAx"))


def test_action_wildcard_and_resource_star():
    p = policy(allow("cloudwatch:Get*", "*"))

    assert p.allows(IamRequest("cloudwatch:GetMetricStatistics"))
    assert p.allows(IamRequest("cloudwatch:GetMetricData", "arn:aws:cloudwatch:us-east-1:1:alarm:x"))
    assert not p.allows(IamRequest("cloudwatch:PutMetricData"))


def test_explicit_deny_wins_and_nothing_is_allowed_by_default():
    p = policy(allow("sns:*", "*"), {"Effect": "Deny", "Action": "sns:DeleteTopic", "Resource": "*"})

    assert p.allows(IamRequest("sns:Publish", "arn:aws:sns:us-east-1:1:t"))
    assert not p.allows(IamRequest("sns:DeleteTopic", "arn:aws:sns:us-east-1:1:t"))
    assert not p.allows(IamRequest("sqs:SendMessage", "arn:aws:sqs:us-east-1:1:q"))


def test_unexercised_lists_every_action_and_resource_pattern_no_request_used():
    p = policy(allow(["dms:StopReplicationTask", "dms:StartReplicationTask"], "arn:aws:dms:*:*:task:*"),
               allow("s3:PutObject", ["arn:aws:s3:::records/runs/a/*", "arn:aws:s3:::records/runs/b/*"]))

    used = [IamRequest("dms:StopReplicationTask", TASK), IamRequest("s3:PutObject", "arn:aws:s3:::records/runs/a/1"),
            IamRequest("dms:DeleteReplicationTask", TASK)]  # denied requests exercise nothing

    assert p.unexercised(used) == ["dms:StartReplicationTask on arn:aws:dms:*:*:task:*",
                                   "s3:PutObject on arn:aws:s3:::records/runs/b/*"]


def test_single_statement_object_and_string_values_are_accepted():
    p = Policy.from_document({"Version": "2012-10-17", "Statement": allow("sns:Publish", "*")})

    assert p.allows(IamRequest("sns:Publish"))


@pytest.mark.parametrize(("document", "message"), [
    ({"Statement": [allow("sns:Publish", "*")]}, "Version"),
    ({"Version": "2008-10-17", "Statement": [allow("sns:Publish", "*")]}, "Version"),
    ({"Version": "2012-10-17", "Statement": []}, "Statement must be a non-empty list"),
    ({"Version": "2012-10-17", "Statement": [{**allow("sns:Publish", "*"), "Condition": {}}]}, "Condition"),
    ({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "NotAction": "x:Y", "Resource": "*"}]},
     "NotAction"),
    ({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sns:Publish"}]}, "Resource"),
    ({"Version": "2012-10-17", "Statement": [{**allow("sns:Publish", "*"), "Effect": "allow"}]}, "Effect"),
    ({"Version": "2012-10-17", "Statement": [allow("Publish", "*")]}, "'<service>:<Action>'"),
    ({"Version": "2012-10-17", "Statement": [allow([], "*")]}, "Action"),
    ({"Version": "2012-10-17", "Statement": ["sns:Publish"]}, "Statement[0]"),
    ({"Version": "2012-10-17", "Statement": [allow("sns:Publish", "*")], "Principal": "*"}, "Principal"),
])
def test_documents_it_cannot_evaluate_exactly_are_refused(document, message):
    with pytest.raises(InvalidPolicy, match=message.replace("[", r"\[").replace("]", r"\]")):
        Policy.from_document(document)


def test_load_reads_a_file_and_names_it_on_error(tmp_path):
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps({"Version": "2012-10-17", "Statement": [allow("sns:Publish", "*")]}))
    bad.write_text("{not json")

    assert Policy.load(good).allows(IamRequest("sns:Publish"))
    with pytest.raises(InvalidPolicy, match="bad.json"):
        Policy.load(bad)
