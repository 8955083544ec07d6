"""A message no worker can use never stops a worker (issue 15, item 2)."""

from __future__ import annotations

import pytest
from django.db.models import JSONField, Value
from django.utils import timezone

from gas_site.models import QueuedMessage
from gas_site.queues import queues
from jobs.models import JobStatus
from tests.helpers import GOOD_VCF, run, sqs_queues, the_job, upload

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("job_settings", "cold_store")]


# -- 2. poison messages ------------------------------------------------------------------------
@pytest.mark.parametrize("body", [42, None, "job", ["job_id"], True, 1.5, {"job_id": 7}, {"job_id": {"x": 1}}])
def test_a_poison_body_of_any_json_type_is_dead_lettered_at_once(body, django_capture_on_commit_callbacks):
    now = timezone.now()
    queue = queues["jobs"]
    stored = Value(None, JSONField()) if body is None else body  # (JSON null, not SQL NULL)
    QueuedMessage.objects.create(queue_name=queue.name, body=stored, sent_at=now, visible_at=now)
    run("run_annotator", django_capture_on_commit_callbacks)
    depth = queue.depth()
    assert (depth.total, depth.dead_letter) == (0, 1)
    assert QueuedMessage.objects.get(queue_name=queue.dead_letter_name).receive_count == 1


def test_a_poison_message_does_not_end_the_worker_loop(django_capture_on_commit_callbacks, signed_in_client):
    from jobs.management.commands.run_annotator import Command

    now = timezone.now()
    for body in (Value(None, JSONField()), 3, "x"):
        QueuedMessage.objects.create(queue_name=queues["jobs"].name, body=body, sent_at=now, visible_at=now)
    upload(signed_in_client, "ok.vcf", GOOD_VCF.encode(), django_capture_on_commit_callbacks)
    worker = Command()
    worker.queue, worker.wait_seconds, worker.retry_delay = queues["jobs"], 0, 1
    worker.stopping, worker._idle, worker._next_housekeeping = False, False, 0.0
    with django_capture_on_commit_callbacks(execute=True):
        while worker.process_one():
            pass
    assert the_job().status == JobStatus.COMPLETED
    assert queues["jobs"].depth().dead_letter == 3


def test_an_sqs_body_that_is_not_json_is_dead_lettered_at_once(settings, django_capture_on_commit_callbacks):
    import boto3
    from moto import mock_aws

    with mock_aws():
        settings.GAS_QUEUES = sqs_queues("poison")
        queue = queues["jobs"]
        queue.depth()  # (creates the queues)
        sqs = boto3.client("sqs", region_name="us-east-1")
        for raw in ("not json {", "17", "null", '"a string"'):
            sqs.send_message(QueueUrl=sqs.get_queue_url(QueueName=queue.name)["QueueUrl"], MessageBody=raw)
        for _ in range(4):
            run("run_annotator", django_capture_on_commit_callbacks)
        depth = queue.depth()
        assert (depth.visible + depth.in_flight, depth.dead_letter) == (0, 4)
