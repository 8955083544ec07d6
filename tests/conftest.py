"""Shared fixtures: every test gets its own data directory, and AWS is moto."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings as django_settings

import gas_site.urls  # noqa: F401 - build the API schemas now, not inside a test that freezes time
from accounts.models import User
from tests.helpers import DEMO

# boto3 must never reach a real account from a test.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_SESSION_TOKEN", "testing")
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
os.environ.pop("AWS_ENDPOINT_URL", None)

PASSWORD = "correct-horse-battery-staple-42"
# VEP names CSQ's SOURCE field after its GTF; the expected entries in docs/vep-rules.md used this name.
DEMO_SOURCE_NAME = "chr20.sorted.gtf.gz"


@pytest.fixture(scope="session")
def demo_reference_dir(tmp_path_factory) -> Path:
    """A references directory holding the demo bundle (GRCh37 chr20), built once per session."""
    from jobs.annotation.reference import import_reference

    root = tmp_path_factory.mktemp("references")
    import_reference(
        name="demo",
        build="GRCh37",
        gene_model=DEMO / "GRCh37.chr20.gencode19.gtf.gz",
        fasta=DEMO / "GRCh37.chr20.fa.gz",
        dbsnp=DEMO / "dbsnp_common_GRCh37.chr20.vcf.gz",
        destination=root / "demo",
        source_name=DEMO_SOURCE_NAME,
    )
    return root


@pytest.fixture(scope="session")
def demo_reference(demo_reference_dir):
    """The demo bundle, loaded once per session."""
    from jobs.annotation.reference import Reference

    return Reference(demo_reference_dir / "demo")


@pytest.fixture(autouse=True)
def isolated_data_dir(settings, tmp_path: Path) -> Path:
    """Point local storages and the local cold store at a fresh directory per test."""
    data_dir = tmp_path / "data"
    settings.GAS_DATA_DIR = data_dir
    settings.GAS_SOURCE_DIR = data_dir / "sources"
    settings.STORAGES = {
        **django_settings.STORAGES,
        "inputs": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(data_dir / "inputs")},
        },
        "results": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(data_dir / "results")},
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.GAS_COLD_STORAGE = {
        "default": {
            "BACKEND": "gas_site.coldstorage.local.LocalColdStorage",
            "OPTIONS": {"location": str(data_dir / "cold"), "thaw_seconds": 60},
        }
    }
    return data_dir


def local_cold_store(settings, location: Path, **options) -> None:
    """Point the cold store at a local folder with these options (thaw_seconds, ...)."""
    settings.GAS_COLD_STORAGE = {
        "default": {"BACKEND": "gas_site.coldstorage.local.LocalColdStorage",
                    "OPTIONS": {"location": str(location), **options}},
    }  # fmt: skip


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture
def user(db) -> User:
    return User.objects.create_user("ada@example.org", PASSWORD, full_name="Ada Lovelace")


@pytest.fixture
def other_user(db) -> User:
    return User.objects.create_user("grace@example.org", PASSWORD)


@pytest.fixture
def signed_in_client(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def run_worker(django_capture_on_commit_callbacks):
    """One pass of the real worker command; on-commit work (mail, events) runs as after a real commit."""
    from django.core.management import call_command

    def run() -> None:
        with django_capture_on_commit_callbacks(execute=True):
            call_command("run_annotator", "--once", "--wait", "0", "--retry-delay", "10")

    return run


@pytest.fixture
def aws() -> Iterator[None]:
    from moto import mock_aws

    with mock_aws():
        yield


@pytest.fixture
def database_url(tmp_path) -> Iterator[str]:
    """A fresh database that separate processes can share: a SQLite file, or a new PostgreSQL
    database when GAS_TEST_POSTGRES_URL is set (dropped afterwards)."""
    import uuid

    base = os.environ.get("GAS_TEST_POSTGRES_URL")
    if not base:
        yield f"sqlite:///{tmp_path / 'shared.sqlite3'}"
        return
    import psycopg

    name = f"gas_proc_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    yield base.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(base, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def job_settings(settings, demo_reference_dir):
    """The demo reference, database queues with test names, mail kept in memory: what job tests run on
    (a module asks for it with ``pytestmark = pytest.mark.usefixtures("job_settings")``)."""
    settings.GAS_REFERENCE_DIR = demo_reference_dir
    settings.GAS_DEFAULT_REFERENCE = "demo"
    settings.GAS_QUEUES = {
        alias: {
            "BACKEND": "gas_site.queues.database.DatabaseQueue",
            "NAME": f"test-{alias}",
            "OPTIONS": {"visibility_timeout": 300, "max_receives": 5},
        }
        for alias in ("jobs", "archive", "restore", "thaw")
    }
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.GAS_SITE_URL = "https://gas.example.org"


@pytest.fixture
def drain(django_capture_on_commit_callbacks):
    """Run one worker pass for each named queue, with on-commit work executed as after a commit."""
    from django.core.management import call_command

    def run(*commands: str) -> None:
        for command in commands:
            with django_capture_on_commit_callbacks(execute=True):
                call_command(command, "--once", "--wait", "0", "--retry-delay", "5")

    return run


@pytest.fixture
def completed_job(signed_in_client, drain, django_capture_on_commit_callbacks):
    """Makes a completed job of the signed-in user (GOOD_VCF through the upload page and an annotator)."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    from jobs.models import Job, JobStatus
    from tests.helpers import GOOD_VCF

    def make() -> Job:
        with django_capture_on_commit_callbacks(execute=True):
            signed_in_client.post(reverse("annotate"), {"file": SimpleUploadedFile("ok.vcf", GOOD_VCF.encode())})
        drain("run_annotator")
        job = Job.objects.order_by("-submitted_at").first()
        assert job.status == JobStatus.COMPLETED, job.error_message
        return job

    return make


@pytest.fixture
def cold_store(settings, tmp_path):
    """A local cold store whose restores are ready at once."""
    local_cold_store(settings, tmp_path / "cold", thaw_seconds=0)
