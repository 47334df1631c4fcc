"""One SQL statement through the Amazon Redshift Data API, waited for within a bound, its result read page by page.

The Data API runs statements asynchronously: ExecuteStatement returns an id; DescribeStatement reports SUBMITTED,
PICKED, STARTED, then FINISHED, FAILED (``Error`` says why) or ABORTED (CancelStatement, or the warehouse);
GetStatementResult returns the records of a finished statement in pages (``NextToken``).
https://docs.aws.amazon.com/redshift-data/latest/APIReference/API_ExecuteStatement.html,
https://docs.aws.amazon.com/redshift-data/latest/APIReference/API_DescribeStatement.html,
https://docs.aws.amazon.com/redshift-data/latest/APIReference/API_GetStatementResult.html.
The target is a Redshift Serverless workgroup or a provisioned cluster, and a database; credentials are the AWS
connection's IAM identity (Serverless: ``redshift-serverless:GetCredentials``; provisioned: ``DbUser`` with
``redshift:GetClusterCredentials``), or a Secrets Manager secret (``secret_arn``).

Sync (hooks), through :class:`~airflow.providers.amazon.aws.hooks.redshift_data.RedshiftDataHook`; the provider's
own wait has no bound, so the wait here is ours.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from airflow.providers.amazon.aws.hooks.redshift_data import (
    ABORTED_STATE,
    FAILED_STATE,
    FINISHED_STATE,
    RUNNING_STATES,
    RedshiftDataHook,
)
from airflow.providers.amazon.aws.utils import trim_none_values
from botocore.exceptions import ClientError

from cdc_runbooks.aws.errors import error_code
from cdc_runbooks.aws.hooks import aws_hook
from cdc_runbooks.data_api_target import DataApiTarget

# "The maximum query statement size is 100 KB"
# (https://docs.aws.amazon.com/redshift/latest/mgmt/data-api-calling-considerations.html): counted in bytes, the
# smaller reading of KB.
MAX_SQL_BYTES = 100_000


class StatementFailed(RuntimeError):
    """The warehouse refused the statement (FAILED): the same statement would fail again."""


class StatementInterrupted(RuntimeError):
    """The statement was aborted, or did not finish within its bound (and was cancelled): it may succeed later."""


def run_statement(conn_id: str, target: DataApiTarget, sql: str, parameters: Sequence | None = None, *,
                  poll_s: float = 0.5, timeout_s: float = 600.0, sleep: Callable[[float], None] = time.sleep,
                  clock: Callable[[], float] = time.monotonic) -> list[tuple]:
    """Run ``sql`` (``%s`` placeholders, bound in order to ``parameters``) and return its rows, each value as the
    Data API typed it (NULL None, long int, double float, boolean bool, string str, blob bytes).
    Raises :class:`StatementFailed` (FAILED, with the warehouse's error) or :class:`StatementInterrupted`
    (ABORTED, or not finished within ``timeout_s``: cancelled first)."""
    hook = aws_hook(RedshiftDataHook, conn_id)
    text, named = _named_parameters(sql, parameters)
    if len(text.encode()) > MAX_SQL_BYTES:
        raise StatementFailed(f"{target.describe()} refuses statements over {MAX_SQL_BYTES} bytes; this one has "
                              f"{len(text.encode())} (a table of very many columns hashed in one statement): nothing "
                              "was sent")
    statement = hook.conn.execute_statement(**_target_arguments(target), Sql=text,
                                            **({"Parameters": named} if named else {}))["Id"]
    deadline = clock() + timeout_s
    while True:
        described = hook.conn.describe_statement(Id=statement)
        if described["Status"] not in RUNNING_STATES:
            return _ended(hook, target, described)
        if clock() >= deadline:
            return _cancel(hook, target, described, timeout_s)
        sleep(poll_s)


def _ended(hook: RedshiftDataHook, target: DataApiTarget, described: dict) -> list[tuple]:
    statement, status = described["Id"], described["Status"]
    if status == FINISHED_STATE:
        return _records(hook, statement) if described.get("HasResultSet") else []
    if status == FAILED_STATE:
        raise StatementFailed(f"{target.describe()} statement {statement} failed: {described.get('Error')}")
    if status == ABORTED_STATE:
        raise StatementInterrupted(f"{target.describe()} statement {statement} was aborted")
    raise StatementInterrupted(f"{target.describe()} statement {statement} is {status!r}, a status the Data API "
                               "does not document")


def _cancel(hook: RedshiftDataHook, target: DataApiTarget, described: dict, timeout_s: float) -> list[tuple]:
    """Cancel an overdue statement; one that ended meanwhile (CancelStatement refused) counts as it ended."""
    statement = described["Id"]
    try:
        hook.conn.cancel_statement(Id=statement)
    except ClientError as error:
        if error_code(error) != "ValidationException":
            raise
        return _ended(hook, target, hook.conn.describe_statement(Id=statement))
    raise StatementInterrupted(f"{target.describe()} statement {statement} did not finish within {timeout_s:g} s "
                               f"({described['Status']}); it was cancelled")


def _target_arguments(target: DataApiTarget) -> dict:
    return trim_none_values({"Database": target.database, "WorkgroupName": target.workgroup,
                             "ClusterIdentifier": target.cluster, "SecretArn": target.secret_arn,
                             "DbUser": target.db_user})


def _named_parameters(sql: str, parameters: Sequence | None) -> tuple[str, list[dict]]:
    """``%s`` placeholders as the Data API's ``:p1``, ``:p2``... with their values as strings (its only form), read
    as psycopg2 reads them: without parameters the text is left as it is; with them ``%%`` is a literal ``%``.
    A value the Data API cannot carry (None, an empty string) is refused."""
    if parameters is None:
        return sql, []
    values = list(parameters)
    text, named, rest = [], [], sql
    while "%" in rest:
        before, _, rest = rest.partition("%")
        text.append(before)
        marker, rest = rest[:1], rest[1:]
        if marker == "%":
            text.append("%")
        elif marker == "s" and len(named) < len(values):
            named.append({"name": f"p{len(named) + 1}", "value": _parameter(values[len(named)])})
            text.append(f":p{len(named)}")
        else:
            raise ValueError(f"unexpected '%{marker}' or too few parameters ({len(values)}) in the statement")
    if len(named) != len(values):
        raise ValueError(f"{len(named)} placeholders, {len(values)} parameters")
    return "".join(text) + rest, named


def _parameter(value) -> str:
    if value is None or value == "":
        raise ValueError(f"the Data API cannot bind {value!r} as a parameter (NULL or an empty string)")
    return str(value)


_FIELDS = ("longValue", "doubleValue", "booleanValue", "stringValue", "blobValue")


def _records(hook: RedshiftDataHook, statement: str) -> list[tuple]:
    rows, token = [], None
    while True:
        page = hook.conn.get_statement_result(Id=statement, **({"NextToken": token} if token else {}))
        rows += [tuple(_value(field) for field in record) for record in page.get("Records", [])]
        token = page.get("NextToken")
        if not token:
            return rows


def _value(field: dict):
    if field.get("isNull"):
        return None
    return next(field[name] for name in _FIELDS if name in field)
