"""Fixtures of the results' tests: a job annotated by the real worker."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from jobs.models import Job, JobStatus
from tests.helpers import SYNTHETIC


@pytest.fixture
def annotated(signed_in_client, django_capture_on_commit_callbacks):
    """Upload a file, run the real worker once, return the completed job."""

    def make(path: Path = SYNTHETIC) -> Job:
        with django_capture_on_commit_callbacks(execute=True):
            signed_in_client.post(reverse("annotate"), {"file": SimpleUploadedFile(path.name, path.read_bytes())})
        with django_capture_on_commit_callbacks(execute=True):
            call_command("run_annotator", "--once", "--wait", "0", "--retry-delay", "5")
        job = Job.objects.order_by("-submitted_at").first()
        assert job.status == JobStatus.COMPLETED, job.error_message
        return job

    return make
