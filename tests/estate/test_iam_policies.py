"""Least privilege, checked against what the runbooks really do: every AWS call a runbook made in the recorded
runs is allowed by its policy in iam/, and its policy allows nothing (no action, no resource pattern) those runs
did not use. Plus the structure of the service roles the runbooks rely on (DMS, RDS export)."""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path

import pytest
from aws_calls import iam_requests
from iam_policy import IamRequest, Policy
from recorded_runs import RUN_SET, recorded_runs

from cdc_runbooks.pipelines import load_pipelines

IAM = Path(__file__).resolve().parents[2] / "iam"
SERVICE_ROLES = ("dms-vpc-role", "dms-access-for-endpoint", "dms-secrets-access-role", "rds-s3-export-role")


def runbook(dag_id: str) -> str:
    """The runbook a DAG runs (per-pipeline DAGs are ``<runbook>.<pipeline>``); its policy is iam/<runbook>.json."""
    return dag_id.split(".", 1)[0]


RUNBOOKS = sorted({runbook(run.dag_id) for run in RUN_SET})


@pytest.fixture(scope="module")
def requests_by_runbook(airflow_db) -> dict[str, list[tuple[str, IamRequest]]]:
    """runbook -> (call, IAM request) for every AWS call its DAGs made in the recorded runs."""
    found = defaultdict(list)
    for dag_id, calls in recorded_runs().calls.items():
        found[runbook(dag_id)] += [(str(call), request) for call in calls for request in iam_requests(call)]
    return found


@pytest.mark.estate
@pytest.mark.parametrize("name", RUNBOOKS)
def test_every_call_is_allowed_by_the_policy(requests_by_runbook, name):
    policy = Policy.load(IAM / f"{name}.json")
    requests = requests_by_runbook[name]

    denied = sorted({f"{call}: {request}" for call, request in requests if not policy.allows(request)})
    assert requests, f"{name} made no AWS calls in the recorded runs"
    assert not denied, f"iam/{name}.json denies calls {name} makes:\n" + "\n".join(denied)


@pytest.mark.estate
@pytest.mark.parametrize("name", RUNBOOKS)
def test_the_policy_allows_nothing_the_runs_did_not_use(requests_by_runbook, name):
    unused = Policy.load(IAM / f"{name}.json").unexercised([request for _, request in requests_by_runbook[name]])

    assert not unused, f"iam/{name}.json allows what no recorded run of {name} used:\n" + "\n".join(unused)


def _dag_ids() -> list[str]:
    from airflow.dag_processing.dagbag import DagBag

    return sorted(DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"], safe_mode=False).dag_ids)


# Runbooks whose policy and recorded runs are still to be written (strict: passing means remove it from here).
PENDING: set[str] = set()


@pytest.mark.parametrize("dag_id", [pytest.param(d, marks=pytest.mark.xfail(
    strict=True, reason="policy and recorded runs pending")) if runbook(d) in PENDING else d for d in _dag_ids()])
def test_every_dag_has_a_policy_and_recorded_runs(dag_id):
    assert (IAM / f"{runbook(dag_id)}.json").exists(), f"{dag_id} has no iam/{runbook(dag_id)}.json"
    assert runbook(dag_id) in RUNBOOKS, f"{dag_id} has no run in tests/recorded_runs.py"


@pytest.mark.parametrize("name", RUNBOOKS)
def test_policies_name_exact_actions(name):
    policy = Policy.load(IAM / f"{name}.json")

    wildcards = [a for s in policy.statements for a in s.actions if "*" in a or "?" in a]
    assert not wildcards and all(s.effect == "Allow" for s in policy.statements)


def _role(name: str) -> dict:
    return json.loads((IAM / f"{name}.json").read_text())


@pytest.mark.parametrize("name", SERVICE_ROLES)
def test_service_roles_trust_only_their_service_and_grant_through_valid_policies(name):
    role = _role(name)
    trust = role["AssumeRolePolicyDocument"]

    assert role["RoleName"] and role["Description"]
    assert trust["Version"] == "2012-10-17" and trust["Statement"]
    for statement in trust["Statement"]:
        assert statement["Effect"] == "Allow" and statement["Action"] == "sts:AssumeRole"
        assert set(statement["Principal"]) == {"Service"}
        services = [statement["Principal"]["Service"]] if isinstance(statement["Principal"]["Service"], str) \
            else statement["Principal"]["Service"]
        assert all(s.endswith(".amazonaws.com") for s in services)
    assert role.get("PolicyDocument") or role.get("ManagedPolicyArns")
    if "PolicyDocument" in role:
        Policy.from_document(role["PolicyDocument"], name)
    assert all(arn.startswith("arn:aws:iam::aws:policy/service-role/") for arn in role.get("ManagedPolicyArns", []))


def test_export_role_is_trusted_by_rds_export_and_covers_the_configured_bucket_and_key():
    role = _role("rds-s3-export-role")
    policy = Policy.from_document(role["PolicyDocument"], "rds-s3-export-role")
    buckets = {p.export_bucket for p in load_pipelines().values() if p.export_bucket}
    key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"

    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"] == "export.rds.amazonaws.com"
    assert buckets, "no pipeline exports to S3"
    for bucket in buckets:
        exported = f"arn:aws:s3:::{bucket}/aurora/export-1/shop/shop.orders/1.parquet"
        for action in ("s3:PutObject", "s3:PutObjectAcl", "s3:GetObject", "s3:DeleteObject"):
            assert policy.allows(IamRequest(action, exported))
        for action in ("s3:ListBucket", "s3:GetBucketLocation"):
            assert policy.allows(IamRequest(action, f"arn:aws:s3:::{bucket}"))
        assert not policy.allows(IamRequest("s3:PutObject", "arn:aws:s3:::cdc-runbook-records/runs/x.json"))
    for action in ("kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext",
                   "kms:ReEncryptFrom", "kms:CreateGrant", "kms:DescribeKey", "kms:RetireGrant"):
        assert policy.allows(IamRequest(action, key))
    assert not policy.allows(IamRequest("kms:ScheduleKeyDeletion", key))
