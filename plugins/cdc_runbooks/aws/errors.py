"""What an AWS error means for a runbook step: absent, transient (retry), or denied (a refusal naming the permission).

Pure: botocore only. Transient is what botocore's standard retry mode retries
(throttling codes, ``RequestTimeout``, HTTP 500/502/503/504, connection errors:
https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html), judged by
botocore's own checkers so the list stays botocore's. A step that meets one
after the SDK's retries are used up either polls again (waits) or fails so that
Airflow retries it; it never reads it as "missing".
"""

from __future__ import annotations

from types import SimpleNamespace

from botocore.exceptions import ClientError
from botocore.retries import standard

from cdc_runbooks.refusal import Refusal

ACCESS_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})


class AccessDenied(Refusal, PermissionError):
    """The runbook's AWS identity lacks a permission; retrying cannot help."""


def error_code(error: BaseException) -> str:
    """The AWS error code of a ClientError (``""`` for anything else)."""
    return error.response.get("Error", {}).get("Code", "") if isinstance(error, ClientError) else ""


def is_transient(error: BaseException) -> bool:
    """Whether botocore's standard retry mode would retry ``error`` (throttling, 5xx, timeouts, connections)."""
    response = error.response if isinstance(error, ClientError) else None
    status = (response or {}).get("ResponseMetadata", {}).get("HTTPStatusCode")
    context = standard.RetryContext(attempt_number=1, parsed_response=response,
                                    http_response=SimpleNamespace(status_code=status) if status else None,
                                    caught_exception=None if response else error)
    return any(checker.is_retryable(context) for checker in (standard.ThrottledRetryableChecker(),
                                                                standard.TransientRetryableChecker()))


def exists(describe, not_found: set[str], permission: str) -> bool:
    """Call ``describe()``: True if it answers, False only for one of the ``not_found`` error codes (or an HTTP
    404 without a code, as S3 HeadBucket answers). Access denied raises :class:`AccessDenied` naming
    ``permission``; anything else (throttling after the SDK's retries, a 5xx) propagates, so the step retries."""
    try:
        describe()
    except ClientError as error:
        code = error_code(error)
        if code in not_found or (code in ("404", "") and _status(error) == 404):
            return False
        if code in ACCESS_DENIED or _status(error) == 403:
            raise AccessDenied(f"access denied: the runbook's AWS identity needs {permission} ({code}: "
                               f"{error.response.get('Error', {}).get('Message', '')})") from None
        raise
    return True


def _status(error: ClientError) -> int | None:
    return error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
