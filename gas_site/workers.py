"""The shared base of every queue worker (``run_annotator``, ``archive_worker``, ...).

A worker is a management command with a ``consume(message)`` method. The base does the
rest, the same way for every queue:

- long-poll receive, one message at a time; ``--once`` handles at most one and returns;
- ``consume`` succeeds: the message is deleted; it raises: the message stays on the queue
  and comes back after a back-off (the queue dead-letters it after ``max_receives``);
  it raises ``MessageRejected``: the message can never succeed and is dead-lettered now;
- while ``consume`` runs, a heartbeat keeps the message invisible, so a long job is not
  handed to a second worker, while a worker that dies lets it reappear;
- each worker kind has a deadline (``max_consume_seconds``): past it the heartbeat stops, and
  ``consume`` is interrupted with ``ConsumeTimedOut`` (a SIGALRM in the main thread), handled
  as any failure: the message comes back after a back-off and is dead-lettered after
  ``max_receives``; a job is released for its next attempt (or failed on its last);
- SIGTERM/SIGINT only set a flag: the message in hand is finished, then the loop stops.
  While the worker is idle in a long poll it stops at once (a message received in that
  instant is not lost: it reappears after its visibility timeout);
- a body that is not a JSON object (a number, null, a string, a list, text that is not JSON)
  can never succeed and is dead-lettered at once; nothing a message holds ends the loop;
- between messages, at most every ``housekeeping_seconds``, ``housekeeping()`` runs: the base
  relays outbox rows that a stopped process left behind (gas_site.outbox), subclasses add more;
- database connections are refreshed around each message.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
import uuid
from abc import ABCMeta, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import connections

from gas_site.queues import Message, QueueError, queues

logger = logging.getLogger(__name__)

MAX_RETRY_DELAY_SECONDS = 900
HOUSEKEEPING_SECONDS = 5.0


def refresh_connections() -> None:
    """Drop database connections that are broken or past CONN_MAX_AGE (never one mid-transaction)."""
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()


class MessageRejected(Exception):
    """A message that can never be processed (malformed, unknown kind): dead-letter it."""


class _StopWaiting(BaseException):
    """Raised by the signal handler to end an idle long poll at once."""


class ConsumeTimedOut(Exception):
    """``consume`` ran past its worker kind's deadline (``max_consume_seconds``)."""


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise ConsumeTimedOut in the ``with`` block once ``seconds`` have passed (SIGALRM: the
    main thread only; elsewhere the block runs unbounded and the caller's heartbeat still stops)."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expired(signum: int, frame: FrameType | None) -> None:
        raise ConsumeTimedOut(f"stopped after its deadline of {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expired)
    outer, _ = signal.setitimer(signal.ITIMER_REAL, seconds)  # (an outer timer, e.g. a test's, is put back)
    started = time.monotonic()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer:
            signal.setitimer(signal.ITIMER_REAL, max(0.001, outer - (time.monotonic() - started)))


class Heartbeat:
    """Calls ``beat`` every ``interval_seconds`` on a thread of its own while the ``with`` block runs
    (a visibility extension, a job's liveness stamp); a beat that fails is logged and the next one
    tried. The thread closes its own database connections when it ends."""

    def __init__(self, beat: Callable[[], object], *, interval_seconds: float, name: str) -> None:
        self.beat = beat
        self.interval_seconds = interval_seconds
        self.name = name
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopped.set()
        self._thread.join()

    def _run(self) -> None:
        try:
            while not self._stopped.wait(self.interval_seconds):
                try:
                    self.beat()
                except Exception as exc:
                    logger.warning("%s: beat failed: %s", self.name, exc)
        finally:
            connections.close_all()


class QueueWorkerCommand(BaseCommand, metaclass=ABCMeta):
    """Subclasses set ``queue_alias`` (and ``max_consume_seconds`` when theirs differs) and
    implement ``consume``."""

    queue_alias: str = ""
    housekeeping_seconds: float = HOUSEKEEPING_SECONDS

    @property
    def max_consume_seconds(self) -> float:
        """This worker kind's deadline for one message (GAS_WORKER_MAX_CONSUME_SECONDS by default)."""
        from django.conf import settings

        return float(settings.GAS_WORKER_MAX_CONSUME_SECONDS)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="Handle at most one message, then exit.")
        parser.add_argument(
            "--wait", type=float, default=10.0, help="Seconds to long-poll for a message (0-20, default 10)."
        )
        parser.add_argument(
            "--retry-delay",
            type=int,
            default=30,
            help="Seconds before a failed message is retried; doubles with each receive (default 30, max 900).",
        )

    # -- to implement ----------------------------------------------------------------------
    @abstractmethod
    def consume(self, message: Message) -> None:
        """Process one message; return to have it deleted, raise to have it retried
        (``MessageRejected``: dead-lettered at once)."""

    def housekeeping(self) -> None:
        """Periodic work between messages; subclasses call super() and add theirs."""
        from gas_site import outbox

        outbox.relay()

    def on_start(self) -> None:
        """Once, before the first message (e.g. a sweep of what a killed predecessor left)."""

    def sweep_due(self) -> bool:
        """For ``housekeeping``: True at most once every GAS_SWEEP_SECONDS (the first call after start-up waits)."""
        from django.conf import settings

        now = time.monotonic()
        last = getattr(self, "_last_sweep", None)
        if last is None:
            self._last_sweep = now
            return False
        if now - last >= settings.GAS_SWEEP_SECONDS:
            self._last_sweep = now
            return True
        return False

    # -- the loop -----------------------------------------------------------------------
    def handle(self, *args: Any, once: bool, wait: float, retry_delay: int, **options: Any) -> None:
        self.queue = queues[self.queue_alias]
        self.wait_seconds = max(0.0, min(wait, 20.0))
        self.retry_delay = max(0, retry_delay)
        self.stopping = False
        self._idle = False
        self._next_housekeeping = 0.0
        previous = self._install_signal_handlers()
        logger.info("%s: consuming %r", self.worker_name, self.queue)
        try:
            self._guarded("start-up", self.on_start)
            if once:
                self.process_one()
            else:
                while not self.stopping:
                    self.process_one()
        finally:
            self._restore_signal_handlers(previous)
            refresh_connections()
        logger.info("%s: stopped", self.worker_name)

    @property
    def worker_name(self) -> str:
        return type(self).__module__.rsplit(".", 1)[-1]

    def _guarded(self, what: str, work: Callable[[], object]) -> None:
        try:
            work()
        except Exception:
            logger.exception("%s: %s failed; going on", self.worker_name, what)
        finally:
            refresh_connections()

    def process_one(self) -> bool:
        """Receive and handle one message; False when there was none."""
        refresh_connections()
        if time.monotonic() >= self._next_housekeeping:
            self._next_housekeeping = time.monotonic() + self.housekeeping_seconds
            self._guarded("housekeeping", self.housekeeping)
        try:
            self._idle = True
            if self.stopping:
                return False
            messages = self.queue.receive(max_messages=1, wait_seconds=self.wait_seconds)
        except _StopWaiting:
            return False
        except QueueError as exc:
            self._idle = False
            logger.error("%s: receive failed: %s; retrying shortly", self.worker_name, exc)
            self._sleep(min(5.0, self.wait_seconds or 1.0))
            return False
        finally:
            self._idle = False
        if not messages:
            return False
        try:
            self.handle_message(messages[0])
        except Exception:  # (a bug in the handling itself: the message comes back after its visibility timeout)
            logger.exception("%s: message %s could not be handled", self.worker_name, messages[0].message_id)
        return True

    def handle_message(self, message: Message) -> None:
        body = message.body
        if not isinstance(body, dict) or "__unparseable__" in body:
            shown = body.get("__unparseable__") if isinstance(body, dict) else body
            logger.error(
                "%s: message %s: the body is not a JSON object (%.200r); moving it to the dead-letter queue",
                self.worker_name, message.message_id, shown,
            )  # fmt: skip
            self._queue_call(self.queue.dead_letter, message)
            return
        job_id = body.get("job_id")
        context = f"{self.worker_name}: message {message.message_id}" + (f" job {job_id}" if job_id else "")
        logger.info("%s: received (receive %s)", context, message.receive_count)
        started = time.monotonic()
        limit = self.max_consume_seconds
        heartbeat = Heartbeat(  # keeps the message invisible while it is being processed, until the deadline
            lambda: self._keep_invisible(message, until=started + limit),
            interval_seconds=max(1.0, self.queue.visibility_timeout / 3),
            name=f"heartbeat-{message.message_id}",
        )
        delay = min(self.retry_delay * 2 ** max(0, message.receive_count - 1), MAX_RETRY_DELAY_SECONDS)
        try:
            with heartbeat, deadline(limit):
                self.consume(message)
        except MessageRejected as exc:
            logger.error("%s: rejected, moving to the dead-letter queue: %s", context, exc)
            self._queue_call(self.queue.dead_letter, message)
        except ConsumeTimedOut as exc:
            logger.error(
                "%s: %s (receive %s of %s); retrying in %ss",
                context, exc, message.receive_count, self.queue.max_receives, delay,
            )  # fmt: skip
            self._queue_call(self.queue.change_visibility, message, timeout_seconds=delay)
        except Exception:
            logger.exception(
                "%s: failed on receive %s of %s; retrying in %ss",
                context,
                message.receive_count,
                self.queue.max_receives,
                delay,
            )
            self._queue_call(self.queue.change_visibility, message, timeout_seconds=delay)
        else:
            self._queue_call(self.queue.delete, message)
            logger.info("%s: done in %.2fs", context, time.monotonic() - started)
        finally:
            refresh_connections()

    def _keep_invisible(self, message: Message, *, until: float) -> None:
        if time.monotonic() < until:  # (past the deadline the message may reappear for another worker)
            self.queue.change_visibility(message, timeout_seconds=self.queue.visibility_timeout)

    def _queue_call(self, method: Any, *args: Any, **kwargs: Any) -> None:
        try:
            method(*args, **kwargs)
        except QueueError as exc:
            logger.error("%s: %s failed: %s", self.worker_name, getattr(method, "__name__", method), exc)

    # -- signals ---------------------------------------------------------------------------
    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        logger.info("%s: %s received, stopping", self.worker_name, signal.Signals(signum).name)
        self.stopping = True
        if self._idle:
            self._idle = False
            raise _StopWaiting

    def _install_signal_handlers(self) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}
        return {signum: signal.signal(signum, self._on_signal) for signum in (signal.SIGTERM, signal.SIGINT)}

    def _restore_signal_handlers(self, previous: dict[int, Any]) -> None:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(min(0.2, deadline - time.monotonic()))


def message_job_id(message: Message) -> uuid.UUID:
    """The ``job_id`` every GAS request message carries; a message without one is rejected."""
    raw = message.body.get("job_id")
    if not isinstance(raw, str):
        raise MessageRejected(f"message has no valid job_id (got {raw!r})")
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise MessageRejected(f"message has no valid job_id (got {raw!r})") from None
