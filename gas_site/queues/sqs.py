"""Amazon SQS queues (or any SQS-compatible endpoint: ``AWS_ENDPOINT_URL``)."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from gas_site.aws import aws_client
from gas_site.queues.base import (
    MAX_RECEIVE_BATCH,
    MAX_WAIT_SECONDS,
    Message,
    Queue,
    QueueDepth,
    QueueError,
    check_delay,
    check_visibility,
)

logger = logging.getLogger(__name__)

# A long poll holds the connection up to 20 s; the read timeout must outlast it.
_CLIENT_CONFIG = Config(read_timeout=MAX_WAIT_SECONDS + 10, retries={"mode": "standard", "max_attempts": 5})
_MESSAGE_RETENTION_SECONDS = 14 * 24 * 3600


def sqs_client(*, region_name: str | None = None, endpoint_url: str | None = None) -> Any:
    return aws_client("sqs", region_name=region_name, endpoint_url=endpoint_url, config=_CLIENT_CONFIG)


class SQSQueue(Queue):
    def __init__(
        self,
        *,
        region_name: str | None = None,
        endpoint_url: str | None = None,
        create_if_missing: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.region_name = region_name
        self.endpoint_url = endpoint_url
        self.create_if_missing = create_if_missing
        self._client: Any = None
        self._urls: dict[str, str] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<SQSQueue {self.alias}={self.name} at {self.endpoint_url or 'AWS ' + (self.region_name or '')}>"

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = sqs_client(region_name=self.region_name, endpoint_url=self.endpoint_url)
        return self._client

    # -- queue URLs and creation ---------------------------------------------------------
    def _url(self, name: str) -> str:
        with self._lock:
            url = self._urls.get(name)
        if url:
            return url
        try:
            url = self.client.get_queue_url(QueueName=name)["QueueUrl"]
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if "NonExistentQueue" not in code:
                raise QueueError(f"SQS queue {name}: {exc}") from exc
            if not self.create_if_missing:
                raise QueueError(
                    f"SQS queue {name} does not exist; create it (manage.py aws_bootstrap) or allow create_if_missing"
                ) from exc
            self.ensure()
            url = self.client.get_queue_url(QueueName=name)["QueueUrl"]
        with self._lock:
            self._urls[name] = url
        return url

    @property
    def url(self) -> str:
        return self._url(self.name)

    def desired_attributes(self, dead_letter_arn: str) -> dict[str, str]:
        return {
            "VisibilityTimeout": str(self.visibility_timeout),
            "MessageRetentionPeriod": str(_MESSAGE_RETENTION_SECONDS),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": str(self.max_receives)}
            ),
        }

    def ensure(self) -> list[str]:
        """Create the queue and its dead-letter queue if missing; return the names created."""
        created: list[str] = []
        existing = set(self.client.list_queues(QueueNamePrefix=self.name).get("QueueUrls", []))
        names = {url.rsplit("/", 1)[-1] for url in existing}
        if self.dead_letter_name not in names:
            created.append(self.dead_letter_name)
        dlq_url = self.client.create_queue(
            QueueName=self.dead_letter_name,
            Attributes={"MessageRetentionPeriod": str(_MESSAGE_RETENTION_SECONDS)},
        )["QueueUrl"]
        dlq_arn = self.client.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        if self.name not in names:
            created.append(self.name)
            self.client.create_queue(QueueName=self.name, Attributes=self.desired_attributes(dlq_arn))
        else:
            url = self.client.get_queue_url(QueueName=self.name)["QueueUrl"]
            self.client.set_queue_attributes(QueueUrl=url, Attributes=self.desired_attributes(dlq_arn))
        return created

    # -- messages ------------------------------------------------------------------------
    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        try:
            return getattr(self.client, operation)(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise QueueError(f"SQS {operation} on {self.name}: {exc}") from exc

    def send(self, body: dict[str, Any], *, delay_seconds: int = 0) -> str:
        response = self._call(
            "send_message", QueueUrl=self.url, MessageBody=json.dumps(body), DelaySeconds=check_delay(delay_seconds)
        )
        return response["MessageId"]

    def receive(
        self,
        *,
        max_messages: int = 1,
        wait_seconds: float = 0,
        visibility_timeout: int | None = None,
    ) -> list[Message]:
        if not 1 <= max_messages <= MAX_RECEIVE_BATCH:
            raise ValueError(f"max_messages must be between 1 and {MAX_RECEIVE_BATCH}.")
        visibility = check_visibility(self.visibility_timeout if visibility_timeout is None else visibility_timeout)
        response = self._call(
            "receive_message",
            QueueUrl=self.url,
            MaxNumberOfMessages=max_messages,
            WaitTimeSeconds=int(min(max(wait_seconds, 0), MAX_WAIT_SECONDS)),
            VisibilityTimeout=visibility,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        messages = []
        for raw in response.get("Messages", []):
            try:
                body = json.loads(raw["Body"])
            except ValueError:
                body = None
            if not isinstance(body, dict):
                body = {"__unparseable__": raw["Body"]}
            messages.append(
                Message(
                    message_id=raw["MessageId"],
                    body=body,
                    receipt_handle=raw["ReceiptHandle"],
                    receive_count=int(raw.get("Attributes", {}).get("ApproximateReceiveCount", "1")),
                    queue_name=self.name,
                )
            )
        return messages

    def delete(self, message: Message) -> None:
        self._call("delete_message", QueueUrl=self.url, ReceiptHandle=message.receipt_handle)

    def change_visibility(self, message: Message, *, timeout_seconds: int) -> None:
        self._call(
            "change_message_visibility",
            QueueUrl=self.url,
            ReceiptHandle=message.receipt_handle,
            VisibilityTimeout=check_visibility(timeout_seconds),
        )

    def dead_letter(self, message: Message) -> None:
        self._call("send_message", QueueUrl=self._url(self.dead_letter_name), MessageBody=json.dumps(message.body))
        self.delete(message)

    def redrive_dead_letters(self, *, limit: int | None = None) -> int:
        moved = 0
        dlq_url = self._url(self.dead_letter_name)
        while limit is None or moved < limit:
            batch = min(MAX_RECEIVE_BATCH, (limit - moved) if limit is not None else MAX_RECEIVE_BATCH)
            response = self._call("receive_message", QueueUrl=dlq_url, MaxNumberOfMessages=batch, VisibilityTimeout=60)
            raw_messages = response.get("Messages", [])
            if not raw_messages:
                break
            for raw in raw_messages:
                self._call("send_message", QueueUrl=self.url, MessageBody=raw["Body"])
                self._call("delete_message", QueueUrl=dlq_url, ReceiptHandle=raw["ReceiptHandle"])
                moved += 1
        return moved

    def depth(self) -> QueueDepth:
        names = [
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ]
        attributes = self._call("get_queue_attributes", QueueUrl=self.url, AttributeNames=names)["Attributes"]
        dead = self._call("get_queue_attributes", QueueUrl=self._url(self.dead_letter_name), AttributeNames=[names[0]])[
            "Attributes"
        ]
        return QueueDepth(
            visible=int(attributes.get(names[0], 0)),
            in_flight=int(attributes.get(names[1], 0)),
            delayed=int(attributes.get(names[2], 0)),
            dead_letter=int(dead.get(names[0], 0)),
        )

    def purge(self) -> None:
        self._call("purge_queue", QueueUrl=self.url)
