"""The queue contract, run against the database backend and against SQS (moto)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from django.db import connections
from freezegun import freeze_time

from gas_site.queues import Queue, QueueError, queues

T0 = "2026-01-05 12:00:00"


def _queue_settings(backend: str, **options: object) -> dict:
    path = {"database": "gas_site.queues.database.DatabaseQueue", "sqs": "gas_site.queues.sqs.SQSQueue"}[backend]
    extra = {"create_if_missing": True, "region_name": "us-east-1"} if backend == "sqs" else {"poll_interval": 0.05}
    return {
        "BACKEND": path,
        "NAME": "gas-test-requests",
        "OPTIONS": {"visibility_timeout": 30, "max_receives": 3, **extra, **options},
    }


@pytest.fixture(params=["database", "sqs"])
def queue(request, settings, db) -> Iterator[Queue]:
    if request.param == "sqs":
        from moto import mock_aws

        with mock_aws():
            settings.GAS_QUEUES = {"test": _queue_settings("sqs")}
            yield queues["test"]
    else:
        settings.GAS_QUEUES = {"test": _queue_settings("database")}
        yield queues["test"]


def test_send_receive_delete(queue):
    message_id = queue.send({"job_id": "a", "n": 1})
    [message] = queue.receive(wait_seconds=1)
    assert message.message_id == message_id
    assert message.body == {"job_id": "a", "n": 1}
    assert message.receive_count == 1
    queue.delete(message)
    assert queue.receive() == []
    assert queue.depth().total == 0


def test_a_received_message_is_invisible_until_its_timeout_then_redelivered(queue):
    with freeze_time(T0) as clock:
        queue.send({"job_id": "b"})
        [first] = queue.receive(visibility_timeout=30)
        clock.tick(29)
        assert queue.receive() == []
        assert queue.depth().in_flight == 1
        clock.tick(2)
        [second] = queue.receive()
        assert second.message_id == first.message_id
        assert second.receive_count == 2
        assert second.receipt_handle != first.receipt_handle


def test_delay_hides_a_new_message(queue):
    with freeze_time(T0) as clock:
        queue.send({"job_id": "c"}, delay_seconds=120)
        assert queue.receive() == []
        assert queue.depth().delayed == 1
        clock.tick(121)
        assert [m.body["job_id"] for m in queue.receive()] == ["c"]


def test_sqs_limits_are_enforced_by_every_backend(queue):
    with pytest.raises(ValueError, match="900"):
        queue.send({"job_id": "d"}, delay_seconds=901)
    queue.send({"job_id": "d"})
    [message] = queue.receive()
    with pytest.raises(ValueError, match="43200"):
        queue.change_visibility(message, timeout_seconds=12 * 3600 + 1)


def test_change_visibility_extends_and_releases(queue):
    with freeze_time(T0) as clock:
        queue.send({"job_id": "e"})
        [message] = queue.receive(visibility_timeout=10)
        clock.tick(8)
        queue.change_visibility(message, timeout_seconds=60)
        clock.tick(30)
        assert queue.receive() == []
        queue.change_visibility(message, timeout_seconds=0)
        clock.tick(1)
        assert len(queue.receive()) == 1


def test_dead_letter_after_max_receives(queue):
    with freeze_time(T0) as clock:
        queue.send({"job_id": "poison"})
        for attempt in range(1, 4):
            [message] = queue.receive(visibility_timeout=5)
            assert message.receive_count == attempt
            clock.tick(6)
        assert queue.receive() == []  # the 4th delivery goes to the dead-letter queue instead
        depth = queue.depth()
        assert (depth.total, depth.dead_letter) == (0, 1)
        assert queue.redrive_dead_letters() == 1
        [again] = queue.receive()
        assert again.body == {"job_id": "poison"}


def test_reject_moves_a_message_to_the_dead_letter_queue_now(queue):
    queue.send({"job_id": "bad"})
    [message] = queue.receive()
    queue.dead_letter(message)
    assert queue.receive() == []
    assert queue.depth().dead_letter == 1


@pytest.mark.django_db(transaction=True)
def test_receive_waits_for_a_message_sent_meanwhile(queue):
    def send_late() -> None:
        queue.send({"job_id": "late"})
        connections.close_all()

    timer = threading.Timer(0.3, send_late)
    timer.start()
    started = time.monotonic()
    messages = queue.receive(wait_seconds=3)
    assert [m.body["job_id"] for m in messages] == ["late"]
    assert time.monotonic() - started < 3


def test_database_queue_stale_receipt_cannot_delete(settings, db):
    settings.GAS_QUEUES = {"test": _queue_settings("database")}
    queue = queues["test"]
    with freeze_time(T0) as clock:
        queue.send({"job_id": "f"})
        [old] = queue.receive(visibility_timeout=5)
        clock.tick(6)
        [new] = queue.receive()
        queue.delete(old)  # a worker that lost the message must not delete it under the new holder
        assert queue.depth().in_flight == 1
        with pytest.raises(QueueError, match="no longer valid"):
            queue.change_visibility(old, timeout_seconds=10)
        queue.delete(new)
        assert queue.depth().total == 0


@pytest.mark.django_db(transaction=True)
def test_database_queue_concurrent_consumers_never_share_a_message(settings):
    """Six threads, each with its own database connection, drain 300 messages."""
    settings.GAS_QUEUES = {"test": _queue_settings("database", visibility_timeout=600)}
    queue = queues["test"]
    for n in range(300):
        queue.send({"job_id": str(n)})
    received: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def consume() -> None:
        try:
            while True:
                batch = queue.receive(max_messages=3, wait_seconds=0.3)
                if not batch:
                    return
                with lock:
                    received.extend(m.body["job_id"] for m in batch)
                for message in batch:
                    queue.delete(message)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=consume) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    counts = Counter(received)
    assert len(counts) == 300
    assert max(counts.values()) == 1
    assert queue.depth().total == 0


def test_sqs_queue_is_created_with_a_redrive_policy(settings):
    import json

    import boto3
    from moto import mock_aws

    with mock_aws():
        settings.GAS_QUEUES = {"test": _queue_settings("sqs")}
        queue = queues["test"]
        queue.send({"job_id": "g"})
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.get_queue_url(QueueName="gas-test-requests")["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        policy = json.loads(attributes["RedrivePolicy"])
        assert policy["maxReceiveCount"] in (3, "3")
        assert policy["deadLetterTargetArn"].endswith(":gas-test-requests-dlq")
        assert attributes["VisibilityTimeout"] == "30"
        assert queue.ensure() == []  # idempotent


def test_sqs_queue_without_create_if_missing_names_the_missing_queue(settings):
    from moto import mock_aws

    with mock_aws():
        settings.GAS_QUEUES = {"test": _queue_settings("sqs", create_if_missing=False)}
        with pytest.raises(QueueError, match="gas-test-requests does not exist"):
            queues["test"].send({"job_id": "h"})


def test_override_settings_swaps_the_backend(settings, db):
    settings.GAS_QUEUES = {"test": _queue_settings("database")}
    first = queues["test"]
    settings.GAS_QUEUES = {"test": {**_queue_settings("database"), "NAME": "other"}}
    second = queues["test"]
    assert first is not second and second.name == "other"


CONSUMER = """
import json, os, sys, django
django.setup()
from django.conf import settings
from gas_site.queues import queues
queue = queues["test"]
got = []
while True:
    batch = queue.receive(max_messages=2, wait_seconds=1)
    if not batch:
        break
    for message in batch:
        got.append(message.body["job_id"])
        queue.delete(message)
print(json.dumps(got))
"""


def _database_url(settings_dict: dict) -> str:
    if settings_dict["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{settings_dict['NAME']}"
    return (
        f"postgres://{settings_dict['USER']}:{settings_dict['PASSWORD']}@{settings_dict['HOST'] or '127.0.0.1'}"
        f":{settings_dict['PORT'] or 5432}/{settings_dict['NAME']}"
    )


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_database_queue_several_worker_processes_never_share_a_message(settings, tmp_path):
    """Three separate processes drain one queue in the test database (SQLite file or PostgreSQL)."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    from django.db import connection

    settings.GAS_QUEUES = {"test": _queue_settings("database", visibility_timeout=600)}
    queue = queues["test"]
    for n in range(150):
        queue.send({"job_id": str(n)})
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(connection.settings_dict),
        "GAS_DATA_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "gas_site.settings",
        "GAS_QUEUE_PREFIX": "unused-",
    }
    code = (
        "import django.conf; from gas_site import settings as s;"
        f"s.GAS_QUEUES = {{'test': {_queue_settings('database', visibility_timeout=600)!r}}};" + CONSUMER
    )
    root = Path(__file__).resolve().parents[2]
    processes = [
        subprocess.Popen([sys.executable, "-c", code], cwd=root, env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    results = [json.loads(p.communicate(timeout=120)[0].strip().splitlines()[-1]) for p in processes]
    assert all(p.returncode == 0 for p in processes)
    everything = [job for result in results for job in result]
    assert sorted(everything, key=int) == [str(n) for n in range(150)]  # each exactly once
