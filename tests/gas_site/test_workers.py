"""The worker base: delete on success, redelivery on failure, dead-letter, heartbeat, signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from django.core.management import call_command
from freezegun import freeze_time

from gas_site.queues import Message, QueueError, queues
from gas_site.workers import MessageRejected, QueueWorkerCommand

ROOT = Path(__file__).resolve().parents[2]
T0 = "2026-03-01 10:00:00"


def _queue_settings(visibility: int = 30) -> dict:
    return {
        alias: {
            "BACKEND": "gas_site.queues.database.DatabaseQueue",
            "NAME": f"gas-test-{alias}",
            "OPTIONS": {"visibility_timeout": visibility, "max_receives": 3, "poll_interval": 0.05},
        }
        for alias in ("jobs", "archive", "restore", "thaw")
    }


@pytest.fixture
def test_queues(settings):
    settings.GAS_QUEUES = _queue_settings()
    return queues


class RecordingWorker(QueueWorkerCommand):
    queue_alias = "jobs"

    def __init__(self, behaviour=None) -> None:
        super().__init__()
        self.behaviour = behaviour or (lambda worker, message: None)
        self.consumed: list[Message] = []

    def consume(self, message: Message) -> None:
        self.consumed.append(message)
        self.behaviour(self, message)


def run_once(worker: QueueWorkerCommand, *extra: str) -> None:
    call_command(worker, "--once", "--wait", "0", *extra)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "command,alias",
    [
        ("run_annotator", "jobs"),
        ("archive_worker", "archive"),
        ("restore_worker", "restore"),
        ("thaw_worker", "thaw"),
    ],
)
def test_each_worker_consumes_and_deletes_its_queue(test_queues, command, alias):
    test_queues[alias].send({"job_id": str(uuid.uuid4())})
    call_command(command, "--once", "--wait", "0")
    assert test_queues[alias].depth().total == 0
    assert test_queues[alias].depth().dead_letter == 0


@pytest.mark.django_db
def test_once_returns_when_the_queue_is_empty(test_queues):
    worker = RecordingWorker()
    started = time.monotonic()
    run_once(worker)
    assert worker.consumed == [] and time.monotonic() - started < 5


@pytest.mark.django_db
def test_a_message_without_job_id_is_dead_lettered_not_fatal(test_queues):
    test_queues["jobs"].send({"kind": "garbage"})
    call_command("run_annotator", "--once", "--wait", "0")
    depth = test_queues["jobs"].depth()
    assert (depth.total, depth.dead_letter) == (0, 1)


@pytest.mark.django_db
def test_an_exception_leaves_the_message_for_redelivery_with_back_off(test_queues):
    calls = []

    def fail_first(worker, message):
        calls.append(message.receive_count)
        if message.receive_count == 1:
            raise RuntimeError("worker crashed mid-job")

    worker = RecordingWorker(fail_first)
    with freeze_time(T0) as clock:
        test_queues["jobs"].send({"job_id": "j1"})
        run_once(worker, "--retry-delay", "20")
        assert test_queues["jobs"].depth().in_flight == 1
        clock.tick(19)
        run_once(worker)
        assert calls == [1]  # still hidden: back-off not over
        clock.tick(2)
        run_once(worker)
    assert calls == [1, 2]
    assert test_queues["jobs"].depth().total == 0


@pytest.mark.django_db
def test_message_rejected_goes_to_the_dead_letter_queue(test_queues):
    def reject(worker, message):
        raise MessageRejected("unknown request kind")

    test_queues["jobs"].send({"job_id": "j2"})
    run_once(RecordingWorker(reject))
    assert test_queues["jobs"].depth().dead_letter == 1


@pytest.mark.django_db
def test_receive_errors_do_not_kill_the_worker(test_queues, monkeypatch):
    queue = test_queues["jobs"]

    def broken(**kwargs):
        raise QueueError("endpoint unreachable")

    monkeypatch.setattr(queue, "receive", broken)
    worker = RecordingWorker()
    run_once(worker, "--wait", "0")
    assert worker.consumed == []


@pytest.mark.django_db
def test_sigterm_while_consuming_finishes_the_message_then_stops(test_queues):
    def signal_midway(worker, message):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.2)  # the signal arrives while we work; the work still completes

    for n in range(3):
        test_queues["jobs"].send({"job_id": f"j{n}"})
    worker = RecordingWorker(signal_midway)
    handler_before = signal.getsignal(signal.SIGTERM)
    call_command(worker, "--wait", "0")  # no --once: the loop runs until the signal
    assert len(worker.consumed) == 1
    depth = test_queues["jobs"].depth()
    assert (depth.visible, depth.in_flight) == (2, 0)  # the one in hand was deleted, the rest untouched
    assert signal.getsignal(signal.SIGTERM) == handler_before  # handlers are put back


@pytest.mark.django_db
def test_sigterm_while_idle_stops_a_long_poll_at_once(test_queues):
    worker = RecordingWorker()
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    started = time.monotonic()
    call_command(worker, "--wait", "20")
    assert time.monotonic() - started < 3
    assert worker.stopping is True


@pytest.mark.django_db
def test_a_message_stuck_past_its_deadline_is_failed_and_the_next_one_taken(test_queues):
    """Issue 27: past max_consume_seconds consume is interrupted; the message is retried after the
    back-off (not deleted, not extended), and the worker takes the next one."""

    class Deadlined(RecordingWorker):
        max_consume_seconds = 0.5

    def stuck(worker, message):
        if message.body["job_id"] == "stuck":
            time.sleep(30)

    test_queues["jobs"].send({"job_id": "stuck"})
    test_queues["jobs"].send({"job_id": "next"})
    worker = Deadlined(stuck)
    handler_before = signal.getsignal(signal.SIGALRM)
    started = time.monotonic()
    run_once(worker, "--retry-delay", "60")
    assert time.monotonic() - started < 10
    run_once(worker)
    assert [m.body["job_id"] for m in worker.consumed] == ["stuck", "next"]
    depth = test_queues["jobs"].depth()
    assert (depth.in_flight, depth.visible, depth.dead_letter) == (1, 0, 0)  # stuck: hidden for its back-off
    assert signal.getsignal(signal.SIGALRM) == handler_before  # (and an outer timer, pytest-timeout's, runs on)


@pytest.mark.django_db
def test_past_its_deadline_a_message_is_no_longer_kept_invisible(test_queues, monkeypatch):
    worker = RecordingWorker()
    worker.queue = test_queues["jobs"]
    extended = []
    monkeypatch.setattr(worker.queue, "change_visibility", lambda message, **kwargs: extended.append(kwargs))
    worker._keep_invisible(Message("m", {}, "r", 1, "q"), until=time.monotonic() + 60)
    worker._keep_invisible(Message("m", {}, "r", 1, "q"), until=time.monotonic() - 1)
    assert len(extended) == 1


def test_a_worker_kind_must_implement_consume():
    class Incomplete(QueueWorkerCommand):
        queue_alias = "jobs"

    with pytest.raises(TypeError, match="abstract"):
        Incomplete()


@pytest.mark.django_db(transaction=True)
def test_heartbeat_keeps_a_long_job_invisible(settings):
    settings.GAS_QUEUES = _queue_settings(visibility=3)  # heartbeats every 1 s, each hiding it 3 s more
    queue = queues["jobs"]
    seen_by_others = []

    def long_job(worker, message):
        time.sleep(4.5)  # well past the 3 s visibility timeout
        seen_by_others.extend(queue.receive())

    queue.send({"job_id": "long"})
    worker = RecordingWorker(long_job)
    run_once(worker)
    assert seen_by_others == []
    assert queue.depth().total == 0


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_real_worker_process_stops_cleanly_on_sigterm(tmp_path):
    """`manage.py thaw_worker` as ops run it: a separate process, stopped with SIGTERM."""
    env = {**os.environ, "GAS_DATA_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "gas_site.settings"}
    env.pop("DATABASE_URL", None)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=120)
    process = subprocess.Popen(
        [sys.executable, "manage.py", "thaw_worker", "--wait", "20"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        line = ""
        while "consuming" not in line and time.monotonic() < deadline:
            line = process.stdout.readline()
        assert "consuming" in line
        time.sleep(0.5)
        stopped_at = time.monotonic()
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=15)
    finally:
        process.kill()
    assert process.returncode == 0, output
    assert time.monotonic() - stopped_at < 5
    assert "SIGTERM received, stopping" in output and "thaw_worker: stopped" in output


@pytest.mark.django_db
def test_queues_command_shows_depths_and_redrives(test_queues):
    from io import StringIO

    test_queues["jobs"].send({"kind": "no job id"})
    test_queues["archive"].send({"job_id": "x"}, delay_seconds=60)
    call_command("run_annotator", "--once", "--wait", "0")  # dead-letters the message
    out = StringIO()
    call_command("queues", stdout=out)
    rows = {line.split()[0]: line.split()[2:] for line in out.getvalue().splitlines()[1:]}
    assert rows["jobs"] == ["0", "0", "0", "1"]
    assert rows["archive"] == ["0", "0", "1", "0"]
    out = StringIO()
    call_command("queues", "--redrive", "jobs", stdout=out)
    assert "moved 1" in out.getvalue()
    assert test_queues["jobs"].depth().visible == 1
