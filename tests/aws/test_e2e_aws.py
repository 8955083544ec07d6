"""End to end on a local AWS endpoint: separate web and worker processes, configured only by environment.

A moto server on 127.0.0.1 plays S3, SQS, S3 Glacier storage classes and SES. The test runs
aws_bootstrap against it, starts gunicorn and the workers (two annotators) as their own processes,
and drives the whole story over HTTP: sign up, presigned upload straight to S3, the job completes,
signed download, a larger job split into shards over the two annotators, the retention window
passes and the result is archived, upgrade, restore, thaw, and a byte-identical download.
PostgreSQL is used when GAS_TEST_POSTGRES_URL is set.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def log(message: str) -> None:
    print(f"[e2e {time.strftime('%H:%M:%S')}] {message}", flush=True)


@pytest.fixture
def moto_server() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's request log
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


class Cluster:
    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.processes: dict[str, subprocess.Popen] = {}

    def manage(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True,
            timeout=300, check=check,
        )  # fmt: skip

    def start(self, name: str, command: list[str]) -> None:
        handle = open(self.logs / f"{name}.log", "w")
        self.processes[name] = subprocess.Popen(
            command, cwd=ROOT, env=self.env, stdout=handle, stderr=subprocess.STDOUT
        )

    def stop(self) -> None:
        for process in self.processes.values():
            process.terminate()
        for name, process in self.processes.items():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
            log(f"{name} exited with {process.returncode}")

    def dump(self) -> None:
        for path in sorted(self.logs.glob("*.log")):
            lines = path.read_text().splitlines()
            print(f"----- {path.name} ({len(lines)} lines, last 15) -----")
            print("\n".join(lines[-15:]))


def csrf(html: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def wait_for(description: str, check, timeout: float = 90.0, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            log(f"{description}: yes")
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for: {description}")


def test_the_whole_story_on_a_local_aws_endpoint(moto_server, database_url, demo_reference_dir, tmp_path):
    import boto3

    web_port = free_port()
    site = f"http://127.0.0.1:{web_port}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("GAS_", "DJANGO_", "DATABASE_", "AWS_"))},
        "GAS_ENV": "development",
        "GAS_DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": database_url,
        "GAS_REFERENCE_DIR": str(demo_reference_dir),
        "GAS_SITE_URL": site,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "GAS_STORAGE": "s3", "GAS_INPUTS_BUCKET": "e2e-inputs", "GAS_RESULTS_BUCKET": "e2e-results",
        "GAS_QUEUE": "sqs", "GAS_QUEUE_PREFIX": "e2e-",
        "GAS_COLD_STORAGE": "s3-glacier", "GAS_ARCHIVE_BUCKET": "e2e-archive",
        "GAS_EMAIL": "ses", "GAS_FROM_EMAIL": "noreply@gas.test",
        "GAS_FREE_RETENTION_SECONDS": "5", "GAS_THAW_POLL_SECONDS": "2",
        "GAS_SHARD_RECORDS": "2000", "GAS_SHARDS_IN_FLIGHT": "2",  # (the 10,000-line file: 5 shards)
        "AWS_ENDPOINT_URL": moto_server, "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
    }  # fmt: skip
    logs = tmp_path / "logs"
    logs.mkdir()
    cluster = Cluster(env, logs)
    log(f"moto server (S3, SQS, S3 Glacier, SES) at {moto_server}; database {database_url.split(':')[0]}")

    check = cluster.manage("aws_bootstrap", "--check", check=False)
    assert check.returncode != 0 and "MISSING  s3://e2e-inputs (inputs)" in check.stdout, check.stdout + check.stderr
    log("aws_bootstrap --check on a fresh endpoint: fails and names what is missing")
    created = cluster.manage("aws_bootstrap").stdout
    assert "created  sqs e2e-job-requests (jobs)" in created
    assert "0 change(s) made." in cluster.manage("aws_bootstrap").stdout
    assert cluster.manage("aws_bootstrap", "--check").returncode == 0
    log("aws_bootstrap created the buckets and queues; a second run changed nothing; --check passes")
    boto3.client("ses", endpoint_url=moto_server, region_name="us-east-1").verify_email_identity(
        EmailAddress="noreply@gas.test"
    )
    cluster.manage("migrate", "--noinput")
    cluster.manage("collectstatic", "--noinput")

    bin_dir = Path(sys.executable).parent
    cluster.start("web", [str(bin_dir / "gunicorn"), "gas_site.wsgi", "--bind", f"127.0.0.1:{web_port}",
                          "--workers", "2", "--access-logfile", "-"])  # fmt: skip
    workers = {name: name.split("-")[0] for name in WORKERS}
    for name, command in workers.items():
        cluster.start(name, [sys.executable, "manage.py", command, "--wait", "2"])
    try:
        wait_for("web answers /healthz", lambda: _healthy(site), timeout=60)
        for name in workers:
            line = wait_for(f"{name} consuming from {moto_server}",
                            lambda w=name: _consuming_line(logs / f"{w}.log", moto_server), timeout=60)  # fmt: skip
            log(line)
        _story(site, moto_server, logs, demo_reference_dir)
    except BaseException:
        cluster.dump()
        raise
    finally:
        cluster.stop()
    assert all(p.returncode == 0 for name, p in cluster.processes.items() if name != "web"), "workers stop cleanly"


def _healthy(site: str) -> bool:
    try:
        return requests.get(f"{site}/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _consuming_line(path: Path, endpoint: str) -> str | None:
    for line in path.read_text().splitlines():
        if "consuming" in line and endpoint in line:
            return line.split("] ", 1)[-1]
    return None


WORKERS = ("run_annotator", "run_annotator-2", "archive_worker", "restore_worker", "thaw_worker")


def _direct_upload(browser: requests.Session, site: str, endpoint: str, name: str, source: bytes) -> str:
    """Upload through the annotate page's presigned POST straight to S3; returns the job's page URL."""
    html = browser.get(f"{site}/annotate").text
    action = unescape(re.search(r'action="([^"]+)" data-testid="direct-upload"', html).group(1))
    fields = {
        unescape(n): unescape(v) for n, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html)
    }
    assert action.startswith(endpoint)
    upload = requests.post(action, data=fields, files={"file": (name, source)}, allow_redirects=False)
    assert upload.status_code in (303, 302), upload.text[:500]
    back = upload.headers["Location"]
    assert back.startswith(f"{site}/annotate/complete?")
    job_page = browser.get(back)
    assert "/annotations/" in job_page.url, job_page.text[:500]
    return job_page.url


def _sharded_job(browser: requests.Session, site: str, endpoint: str, logs: Path, references: Path) -> None:
    """A job of 10,000 lines split into 5 shards on SQS, taken by both annotators, joined by one: its
    result is byte for byte the file annotated at once."""
    from jobs.annotation.engine import annotate_vcf
    from jobs.annotation.reference import Reference

    path = ROOT / "tests" / "data" / "synthetic_chr20_10k.vcf.gz"
    job_url = _direct_upload(browser, site, endpoint, "ten_k.vcf.gz", path.read_bytes())
    job_id = job_url.rstrip("/").rsplit("/", 1)[-1]
    wait_for("the sharded job completes", lambda: "Completed" in browser.get(job_url).text, timeout=120)
    annotators = {name: (logs / f"{name}.log").read_text() for name in ("run_annotator", "run_annotator-2")}
    split = [name for name, text in annotators.items() if f"job {job_id}: split into 5 shards" in text]
    shards = {name: re.findall(rf"job {job_id} shard (\d): done", text) for name, text in annotators.items()}
    assert len(split) == 1 and sorted(i for found in shards.values() for i in found) == list("01234"), shards
    assert all(shards.values()), f"both annotators took shards: {shards}"
    download = browser.get(f"{job_url}/download/result", allow_redirects=False)
    result = requests.get(download.headers["Location"]).content
    whole = annotate_vcf(path, ROOT / "var" / f"e2e-{job_id}.vcf.gz", Reference(references / "demo")).output
    try:
        assert result == whole.read_bytes()
    finally:
        for leftover in whole.parent.glob(f"e2e-{job_id}*"):
            leftover.unlink()
    log(f"a 10,000-line job split into 5 shards over two annotators ({ {k: len(v) for k, v in shards.items()} }); "
        "its result is byte-identical to the file annotated at once")  # fmt: skip


def _story(site: str, endpoint: str, logs: Path, references: Path) -> None:
    from moto.backends import get_backend

    browser = requests.Session()
    page = browser.get(f"{site}/accounts/signup/").text
    email = f"e2e-{uuid.uuid4().hex[:6]}@example.org"
    password = "A-long-e2e-pass-1"
    form = {"csrfmiddlewaretoken": csrf(page), "email": email, "password1": password, "password2": password}
    response = browser.post(f"{site}/accounts/signup/", data=form, headers={"Referer": f"{site}/accounts/signup/"})
    assert response.ok and email in browser.get(f"{site}/profile").text
    log(f"signed up as {email}")

    html = browser.get(f"{site}/annotate").text
    action = unescape(re.search(r'action="([^"]+)" data-testid="direct-upload"', html).group(1))
    fields = {
        unescape(n): unescape(v) for n, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html)
    }
    assert action.startswith(endpoint)
    source = (ROOT / "tests" / "data" / "vt_chr20_indels.vcf.gz").read_bytes()
    upload = requests.post(action, data=fields, files={"file": ("indels.vcf.gz", source)}, allow_redirects=False)
    assert upload.status_code in (303, 302), upload.text[:500]
    back = upload.headers["Location"]
    assert back.startswith(f"{site}/annotate/complete?")
    log(f"uploaded {len(source)} bytes straight to S3 with the presigned POST; S3 redirected back")
    job_page = browser.get(back)
    job_url = job_page.url
    assert "/annotations/" in job_url, job_page.text[:500]
    wait_for("the job completes", lambda: "Completed" in browser.get(job_url).text, timeout=90)

    download = browser.get(f"{job_url}/download/result", allow_redirects=False)
    assert download.status_code == 302 and download.headers["Location"].startswith(endpoint)
    assert "X-Amz-Expires=300" in download.headers["Location"]
    original = requests.get(download.headers["Location"]).content
    assert original[:2] == b"\x1f\x8b" and len(original) > 1000
    log(f"downloaded the annotated VCF ({len(original)} bytes) through a signed URL")
    _sharded_job(browser, site, endpoint, logs, references)

    wait_for("the result is archived after the retention window",
             lambda: "Archived</strong>" in browser.get(job_url).text, timeout=90)  # fmt: skip
    refused = browser.get(f"{job_url}/download/result")
    assert "Upgrade to premium to restore them" in refused.text

    page = browser.get(f"{site}/subscribe").text
    browser.post(f"{site}/subscribe", data={"csrfmiddlewaretoken": csrf(page), "confirm": "on"},
                 headers={"Referer": f"{site}/subscribe"})  # fmt: skip
    log("upgraded to premium")
    wait_for("the result is restored and thawed", lambda: "Download " in browser.get(job_url).text, timeout=120)
    again = browser.get(f"{job_url}/download/result", allow_redirects=False)
    restored = requests.get(again.headers["Location"]).content
    assert restored == original
    log("the restored download is byte-identical to the original")
    ses = get_backend("ses")["123456789012"]["us-east-1"]

    def subjects() -> list[str]:
        return [re.search(r"Subject: (.*)", message.raw_data).group(1).strip() for message in ses.sent_messages]

    # the thaw worker mails after its commit, so the page can show the file a moment before the mail goes
    wait_for("SES sent the results-are-back mail", lambda: any("available again" in s for s in subjects()), timeout=30)
    assert any("is ready" in subject for subject in subjects()), subjects()
    log(f"SES sent {len(subjects())} mails: {subjects()}")
