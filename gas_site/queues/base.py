"""The queue interface every backend implements, with Amazon SQS semantics.

A message is delivered at least once. Receiving it hides it for the visibility timeout;
a consumer that finishes deletes it with the receipt handle of that delivery; one that
dies leaves it to reappear when the timeout runs out. After ``max_receives`` deliveries
without a delete the message moves to the queue's dead-letter queue (``<name>-dlq``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

# Amazon SQS's own limits, kept by every backend so code that runs locally runs on AWS.
MAX_DELAY_SECONDS = 900
MAX_VISIBILITY_SECONDS = 12 * 60 * 60
MAX_WAIT_SECONDS = 20
MAX_RECEIVE_BATCH = 10
DEAD_LETTER_SUFFIX = "-dlq"


class QueueError(RuntimeError):
    """A queue operation failed (the backend's own error is chained)."""


@dataclass(frozen=True)
class Message:
    message_id: str
    body: Any  # a JSON object as sent; whatever was on the queue when it is not one (workers reject it)
    receipt_handle: str
    receive_count: int
    queue_name: str


@dataclass(frozen=True)
class QueueDepth:
    visible: int
    in_flight: int
    delayed: int
    dead_letter: int

    @property
    def total(self) -> int:
        return self.visible + self.in_flight + self.delayed


def check_delay(delay_seconds: int) -> int:
    if not 0 <= delay_seconds <= MAX_DELAY_SECONDS:
        raise ValueError(f"delay_seconds must be between 0 and {MAX_DELAY_SECONDS} (SQS's limit), got {delay_seconds}.")
    return int(delay_seconds)


def check_visibility(timeout_seconds: int) -> int:
    if not 0 <= timeout_seconds <= MAX_VISIBILITY_SECONDS:
        raise ValueError(
            f"visibility timeout must be between 0 and {MAX_VISIBILITY_SECONDS} s (SQS's limit), got {timeout_seconds}."
        )
    return int(timeout_seconds)


class Queue(ABC):
    """One named queue. Bodies are JSON objects (dicts).

    ``transactional``: a send joins the caller's database transaction (the database backend), so a
    message sent with a state change exists exactly when the change does (see gas_site.outbox).
    """

    transactional = False

    def __init__(
        self,
        *,
        alias: str,
        name: str,
        visibility_timeout: int = 30,
        max_receives: int = 5,
    ) -> None:
        self.alias = alias
        self.name = name
        self.dead_letter_name = name + DEAD_LETTER_SUFFIX
        self.visibility_timeout = check_visibility(visibility_timeout)
        if max_receives < 1:
            raise ValueError("max_receives must be at least 1.")
        self.max_receives = max_receives

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.alias}={self.name}>"

    @abstractmethod
    def send(self, body: dict[str, Any], *, delay_seconds: int = 0) -> str:
        """Queue a message, invisible for ``delay_seconds`` (0..900); returns its id."""

    @abstractmethod
    def receive(
        self,
        *,
        max_messages: int = 1,
        wait_seconds: float = 0,
        visibility_timeout: int | None = None,
    ) -> list[Message]:
        """Take up to ``max_messages`` visible messages, waiting up to ``wait_seconds`` for one."""

    @abstractmethod
    def delete(self, message: Message) -> None:
        """Remove a received message for good."""

    @abstractmethod
    def change_visibility(self, message: Message, *, timeout_seconds: int) -> None:
        """Hide a received message for ``timeout_seconds`` from now (0 releases it at once)."""

    @abstractmethod
    def dead_letter(self, message: Message) -> None:
        """Move a received message to the dead-letter queue now (it can never succeed)."""

    @abstractmethod
    def redrive_dead_letters(self, *, limit: int | None = None) -> int:
        """Move dead-lettered messages back to this queue (after a fix); returns how many."""

    @abstractmethod
    def depth(self) -> QueueDepth:
        """Approximate counts of visible, in-flight, delayed and dead-lettered messages."""

    @abstractmethod
    def purge(self) -> None:
        """Delete every message of the queue (not of its dead-letter queue)."""
