"""AWS errors classified for the runbooks: NotFound is absence, throttling is transient, access denied refuses."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from cdc_runbooks.aws.errors import AccessDenied, exists, is_transient
from cdc_runbooks.refusal import Refusal


def _error(code: str, status: int = 400, operation: str = "DescribeDBClusters") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"{code} happened"},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, operation)


def _raising(error: Exception):
    def describe():
        raise error
    return describe


@pytest.mark.parametrize("error", [_error("Throttling"), _error("ThrottlingException"), _error("InternalFailure", 500),
                                   _error("ServiceUnavailable", 503), EndpointConnectionError(endpoint_url="x")])
def test_throttling_5xx_and_connection_errors_are_transient(error):
    assert is_transient(error)


@pytest.mark.parametrize("error", [_error("AccessDeniedException", 403), _error("DBClusterNotFoundFault", 404),
                                   _error("ValidationException"), ValueError("x")])
def test_other_errors_are_not_transient(error):
    assert not is_transient(error)


def test_only_not_found_is_absence():
    assert exists(lambda: {"ok": 1}, {"DBClusterNotFoundFault"}, "rds:DescribeDBClusters")
    assert not exists(_raising(_error("DBClusterNotFoundFault", 404)), {"DBClusterNotFoundFault"}, "rds:X")
    assert not exists(_raising(_error("404", 404, "HeadBucket")), {"NoSuchBucket"}, "s3:ListBucket")


def test_throttling_after_the_sdk_retries_propagates_so_the_step_retries():
    with pytest.raises(ClientError, match="Throttling") as raised:
        exists(_raising(_error("Throttling")), {"DBClusterNotFoundFault"}, "rds:DescribeDBClusters")
    assert not isinstance(raised.value, Refusal)


@pytest.mark.parametrize("error", [_error("AccessDeniedException", 400, "GetDatabase"),
                                   _error("403", 403, "HeadBucket")])
def test_access_denied_refuses_naming_the_permission(error):
    with pytest.raises(AccessDenied, match="needs glue:GetDatabase") as raised:
        exists(_raising(error), {"EntityNotFoundException"}, "glue:GetDatabase")
    assert isinstance(raised.value, Refusal)
