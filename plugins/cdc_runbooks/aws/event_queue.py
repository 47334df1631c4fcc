"""The pipelines' event queue (SQS): receive EventBridge's messages, delete those Airflow has recorded, and hand
back those it has not.

A received message stays invisible to other receivers for ``visibility_timeout_s``
(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-visibility-timeout.html); it
is deleted only after the asset event made from it is stored (DeleteMessageBatch), or made visible again at once
or after a delay (ChangeMessageVisibilityBatch) when it was not. A receiver that dies holding messages loses
nothing: they come back when their visibility ends.
"""

from __future__ import annotations

from dataclasses import dataclass

from airflow.providers.amazon.aws.hooks.sqs import SqsHook

from cdc_runbooks.aws.hooks import aws_hook

BATCH = 10  # SQS's most messages per receive and per batch call
ADDRESSED_TO = "cdc-runbooks-pipelines"  # message attribute of a copy: the pipelines it is for


@dataclass(frozen=True)
class QueueMessage:
    message_id: str
    receipt_handle: str
    body: str
    receive_count: int
    addressed_to: tuple[str, ...] = ()


def _sqs(conn_id: str, region_name: str | None):
    return aws_hook(SqsHook, conn_id, region_name=region_name).conn


def receive(conn_id: str, queue_url: str, *, wait_time_s: int, visibility_timeout_s: int,
            region_name: str | None = None) -> list[QueueMessage]:
    """Up to ten messages, long-polling ``wait_time_s`` seconds (ReceiveMessage)."""
    response = _sqs(conn_id, region_name).receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=BATCH, WaitTimeSeconds=wait_time_s,
        VisibilityTimeout=visibility_timeout_s, MessageSystemAttributeNames=["ApproximateReceiveCount"],
        MessageAttributeNames=[ADDRESSED_TO])
    return [QueueMessage(m["MessageId"], m["ReceiptHandle"], m.get("Body", ""),
                         int(m.get("Attributes", {}).get("ApproximateReceiveCount", 1)),
                         tuple(_addressed(m).split(",")) if _addressed(m) else ())
            for m in response.get("Messages", [])]


def _addressed(message: dict) -> str:
    return message.get("MessageAttributes", {}).get(ADDRESSED_TO, {}).get("StringValue", "")


def send(conn_id: str, queue_url: str, body: str, pipelines: tuple[str, ...], region_name: str | None = None) -> None:
    """A copy of a message for ``pipelines`` only (SendMessage with the ``cdc-runbooks-pipelines`` attribute)."""
    _sqs(conn_id, region_name).send_message(QueueUrl=queue_url, MessageBody=body, MessageAttributes={
        ADDRESSED_TO: {"DataType": "String", "StringValue": ",".join(pipelines)}})


def delete(conn_id: str, queue_url: str, receipt_handles: list[str], region_name: str | None = None) -> list[str]:
    """Delete messages by receipt handle; the handles SQS did not delete (e.g. expired: the message was received
    again meanwhile, and that copy will be deleted or redelivered on its own)."""
    return _batch(conn_id, queue_url, receipt_handles, region_name, "delete_message_batch", {})


def release(conn_id: str, queue_url: str, receipt_handles: list[str], delay_s: int,
            region_name: str | None = None) -> list[str]:
    """Make messages visible again after ``delay_s`` seconds (0: now); the handles SQS refused."""
    return _batch(conn_id, queue_url, receipt_handles, region_name, "change_message_visibility_batch",
                  {"VisibilityTimeout": delay_s})


def _batch(conn_id: str, queue_url: str, handles: list[str], region_name: str | None, call: str,
           extra: dict) -> list[str]:
    sqs, refused = _sqs(conn_id, region_name), []
    for start in range(0, len(handles), BATCH):
        chunk = handles[start:start + BATCH]
        entries = [{"Id": str(number), "ReceiptHandle": handle, **extra} for number, handle in enumerate(chunk)]
        response = getattr(sqs, call)(QueueUrl=queue_url, Entries=entries)
        refused += [chunk[int(failed["Id"])] for failed in response.get("Failed", [])]
    return refused
