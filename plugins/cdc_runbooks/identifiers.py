"""Validation of the names and ARNs that reach AWS or SQL.

Every value a runbook takes from a Param or from configuration goes through one
of these before anything changes: a bad value fails with a message that names
the field, quotes the value and shows the expected form.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from cdc_runbooks.refusal import Refusal


def whole_string(body: str) -> str:
    """A regex for ``body`` as the whole string, the same under Python ``re.search`` (jsonschema applies a
    Param's ``pattern`` so) and ECMA: ``$`` alone also matches before one final newline in Python, so
    ``(?!\\n)`` refuses that newline. Every JSON-schema ``pattern`` of a Param is written with it."""
    return rf"^(?:{body})$(?!\n)"


# https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBCluster.html (DBClusterIdentifier)
_CLUSTER = re.compile(r"^[A-Za-z](?!.*--)[A-Za-z0-9-]{0,62}(?<!-)$")
DEPLOYMENT_PATTERN = whole_string(r"bgd-[a-z0-9]{16}")  # also the JSON-schema pattern of the deployment Param
_DEPLOYMENT = re.compile(DEPLOYMENT_PATTERN)
# Unquoted MySQL identifiers restricted to the portable subset; anything else is refused, never escaped.
TABLE_PATTERN = whole_string(r"[A-Za-z_][A-Za-z0-9_]{0,63}")  # also the JSON-schema pattern of table Params
_TABLE = re.compile(TABLE_PATTERN)
_CONN_ID = re.compile(r"^[A-Za-z0-9_.-]{1,250}$")
_PARTITION_REGION_ACCOUNT = r"^arn:aws(?:-[a-z]+)*:{service}:[a-z]{{2}}(?:-[a-z]+)+-\d:\d{{12}}:"
_ARN = {
    "dms-task": re.compile(_PARTITION_REGION_ACCOUNT.format(service="dms") + r"task:[A-Za-z0-9-]{1,255}$"),
    "sns-topic": re.compile(_PARTITION_REGION_ACCOUNT.format(service="sns") + r"[A-Za-z0-9_-]{1,256}$"),
    "iam-role": re.compile(r"^arn:aws(?:-[a-z]+)*:iam::\d{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$"),
    "kms-key": re.compile(_PARTITION_REGION_ACCOUNT.format(service="kms") + r"(?:key|alias)/[A-Za-z0-9/_-]{1,256}$"),
    "secret": re.compile(_PARTITION_REGION_ACCOUNT.format(service="secretsmanager")
                         + r"secret:[A-Za-z0-9/_+=.@-]{1,512}$"),
}
_ARN_EXAMPLES = {
    "dms-task": "arn:aws:dms:us-east-1:123456789012:task:ABCDEFGHIJKLMNOP",
    "sns-topic": "arn:aws:sns:us-east-1:123456789012:cdc-oncall",
    "iam-role": "arn:aws:iam::123456789012:role/rds-s3-export",
    "kms-key": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "secret": "arn:aws:secretsmanager:us-east-1:123456789012:secret:warehouse-reader-AbCdEf",
}
_S3_BUCKET = re.compile(r"^(?!xn--)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# Key prefixes: '/'-separated segments of safe characters (RDS export refuses a colon in S3Prefix).
_S3_PREFIX = re.compile(r"^(?=.{1,512}$)[A-Za-z0-9_-][A-Za-z0-9_.-]*(?:/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*$")
_S3_URI = re.compile(r"^s3://(?P<bucket>[^/]+)/(?P<prefix>.*?)/?$")
# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-queue-message-identifiers.html
# (plain http only on loopback: the rehearsal estate's queue)
_SQS_QUEUE_URL = re.compile(r"^(?:https://sqs\.[a-z]{2}(?:-[a-z]+)+-\d\.amazonaws\.com(?:\.cn)?"
                            r"|http://127\.0\.0\.1:\d{1,5})/\d{12}/[A-Za-z0-9_-]{1,75}(?:\.fifo)?$")
_WORKGROUP = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
# The Redshift Data API's own patterns (botocore's redshift-data model: WorkgroupNameString, ClusterIdentifierString).
_REDSHIFT_WORKGROUP = re.compile(r"^[a-z0-9-]{3,63}$")
_REDSHIFT_CLUSTER = re.compile(r"^(?=.{1,63}$)[a-z][a-z0-9]*(-[a-z0-9]+)*$")


class InvalidIdentifier(Refusal, ValueError):
    """A name or ARN that must not reach AWS or SQL."""


def shown(value: object, limit: int = 120) -> str:
    """``repr(value)`` cut to ``limit`` characters: what an error message may echo of an input."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _check(field: str, value: object, pattern: re.Pattern, expected: str) -> str:
    """``value`` if the whole of it matches ``pattern`` (never a prefix, never before a final newline)."""
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise InvalidIdentifier(f"{field}: {shown(value)} is not valid; expected {expected}")
    return value


def cluster_identifier(value: object, field: str = "cluster") -> str:
    return _check(field, value, _CLUSTER, "an RDS DB cluster identifier such as 'prod' (letters, digits, hyphens)")


def redshift_workgroup(value: object, field: str = "workgroup") -> str:
    return _check(field, value, _REDSHIFT_WORKGROUP, "a Redshift Serverless workgroup name (3-63 lowercase letters, "
                                                     "digits, hyphens)")


def redshift_cluster(value: object, field: str = "cluster") -> str:
    return _check(field, value, _REDSHIFT_CLUSTER, "a Redshift cluster identifier such as 'analytics-prod' "
                                                   "(lowercase letters, digits, single hyphens, a letter first)")


def deployment_identifier(value: object, field: str = "deployment_id") -> str:
    return _check(field, value, _DEPLOYMENT, "a blue/green deployment identifier such as 'bgd-0123456789abcdef'")


def table_name(value: object, field: str = "table") -> str:
    return _check(field, value, _TABLE, "a table name of letters, digits and underscores, not starting with a digit")


def conn_id(value: object, field: str = "conn_id") -> str:
    return _check(field, value, _CONN_ID, "an Airflow connection id (letters, digits, '_', '.', '-')")


def s3_bucket(value: object, field: str = "bucket") -> str:
    return _check(field, value, _S3_BUCKET, "an S3 bucket name (3-63 lowercase letters, digits, '.', '-')")


def iso_datetime(value: object, field: str) -> datetime:
    """An ISO 8601 date-time (naive values are taken as UTC)."""
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) and len(value) <= 64 else None
    except ValueError:
        moment = None
    if moment is None:
        raise InvalidIdentifier(f"{field}: {shown(value)} is not valid; expected an ISO 8601 date-time such as "
                                "'2026-11-27T03:00:00+00:00'")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def arn(kind: str, value: object, field: str) -> str:
    """Validate an ARN of one kind: 'dms-task', 'sns-topic', 'iam-role', 'kms-key' or 'secret'."""
    return _check(field, value, _ARN[kind], f"an ARN such as {_ARN_EXAMPLES[kind]!r}")


def s3_prefix(value: object, field: str = "prefix") -> str:
    return _check(field, value, _S3_PREFIX, "an S3 key prefix such as 'exports/aurora' (letters, digits, '_', '.', "
                                            "'-', segments separated by '/', no leading or trailing '/')")


def s3_uri(value: object, field: str = "s3_uri") -> str:
    """An ``s3://bucket/`` or ``s3://bucket/prefix/`` folder URI."""
    match = _S3_URI.fullmatch(value) if isinstance(value, str) else None
    if match is None or (match["prefix"] and not _S3_PREFIX.fullmatch(match["prefix"])) or not _S3_BUCKET.fullmatch(
            match["bucket"]):
        raise InvalidIdentifier(f"{field}: {shown(value)} is not valid; expected an S3 folder URI such as "
                                "'s3://cdc-athena-results/runbooks/'")
    return value


def sqs_queue_url(value: object, field: str = "queue_url") -> str:
    return _check(field, value, _SQS_QUEUE_URL, "an SQS queue URL such as "
                                                "'https://sqs.us-east-1.amazonaws.com/123456789012/cdc-runbooks-events'")


def athena_workgroup(value: object, field: str = "workgroup") -> str:
    return _check(field, value, _WORKGROUP, "an Athena workgroup name (letters, digits, '.', '_', '-')")
