"""Issue 25, item 1 on a real server: gunicorn as `make run` starts it (gas_site/gunicorn_conf.py),
a job of over a million CSQ entries, two exports downloaded at once (one read slowly, for longer
than gunicorn's worker timeout) while a third client's requests keep answering; and two GAS
instances on one host (one user, one HOME) both serve."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.aws.test_e2e_aws import Cluster, free_port, log, wait_for

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
WORKER_TIMEOUT = 5  # (gunicorn's --timeout for this test: the slow download outlasts it twice)


def _healthy(site: str) -> bool:
    try:
        return requests.get(f"{site}/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _gunicorn(port: int) -> list[str]:
    return [str(Path(sys.executable).parent / "gunicorn"), "-c", "python:gas_site.gunicorn_conf", "gas_site.wsgi",
            "--bind", f"127.0.0.1:{port}", "--timeout", str(WORKER_TIMEOUT)]  # fmt: skip


def _environment(tmp_path: Path, database_url: str, demo_reference_dir: Path) -> dict[str, str]:
    return {
        **{k: v for k, v in __import__("os").environ.items() if not k.startswith(("GAS_", "DJANGO_", "DATABASE_"))},
        "GAS_ENV": "development", "GAS_DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": database_url,
        "GAS_REFERENCE_DIR": str(demo_reference_dir), "GAS_WEB_WORKERS": "2", "GAS_WEB_THREADS": "4",
        "GAS_EXPORTS_PER_PROCESS": "2", "HOME": str(tmp_path / "home"), "GAS_API_RATE_PER_MINUTE": "0",
    }  # fmt: skip


def _cluster(tmp_path: Path, env: dict[str, str]) -> Cluster:
    for folder in ("home", "logs"):
        (tmp_path / folder).mkdir()
    cluster = Cluster(env, tmp_path / "logs")
    cluster.manage("migrate", "--noinput")
    return cluster


@pytest.fixture
def server(tmp_path, database_url, demo_reference_dir):
    env = _environment(tmp_path, database_url, demo_reference_dir)
    cluster = _cluster(tmp_path, env)
    began = time.monotonic()
    made = subprocess.run([sys.executable, "tests/big_job.py", "--records", "340000"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300, check=True)  # fmt: skip
    job = json.loads(made.stdout.strip().splitlines()[-1])
    made_in = time.monotonic() - began
    log(f"a job of {job['records']:,} records, {job['entries']:,} CSQ entries, made in {made_in:.1f} s")
    port = free_port()
    cluster.start("web", _gunicorn(port))
    site = f"http://127.0.0.1:{port}"
    try:
        wait_for("web answers /healthz", lambda: _healthy(site), timeout=60)
        yield cluster, site, job
    except BaseException:
        cluster.dump()
        raise
    finally:
        cluster.stop()


def test_two_large_exports_stream_while_others_are_answered(server):
    cluster, site, job = server
    auth = {"Authorization": f"Bearer {job['token']}"}
    results: dict[str, dict] = {}

    def download(fmt: str, *, slow: bool) -> None:
        began = time.monotonic()
        first = None
        parts = []
        with requests.get(f"{site}/api/v1/jobs/{job['job']}/export/{fmt}", headers=auth, stream=True, timeout=60) as r:
            results[fmt] = {"status": r.status_code}
            for chunk in r.iter_content(1 << 16):
                if first is None:
                    first = time.monotonic() - began
                parts.append(chunk)
                if slow:
                    time.sleep(0.005)  # (at most 13 MB/s: a slow client)
        results[fmt].update(first=first, seconds=time.monotonic() - began, body=b"".join(parts))

    exports = [threading.Thread(target=download, args=("tsv",), kwargs={"slow": True}),
               threading.Thread(target=download, args=("vcf",), kwargs={"slow": False})]  # fmt: skip
    for thread in exports:
        thread.start()
    latencies = []
    while any(thread.is_alive() for thread in exports):
        began = time.monotonic()
        answer = requests.get(f"{site}/api/v1/jobs", headers=auth, timeout=30)
        assert answer.status_code == 200, answer.text[:300]
        latencies.append(time.monotonic() - began)
        time.sleep(0.1)
    for thread in exports:
        thread.join()
    tsv, vcf = results["tsv"], results["vcf"]
    log(f"TSV: first bytes after {tsv['first']:.2f} s, {len(tsv['body']) / 1e6:.0f} MB in {tsv['seconds']:.1f} s; "
        f"VCF: first bytes after {vcf['first']:.2f} s, {len(vcf['body']) / 1e6:.0f} MB in {vcf['seconds']:.1f} s; "
        f"a third client's {len(latencies)} requests meanwhile: median {sorted(latencies)[len(latencies) // 2]:.3f} s, "
        f"max {max(latencies):.3f} s")  # fmt: skip
    assert tsv["status"] == vcf["status"] == 200
    assert tsv["body"].count(b"\n") == job["entries"] + 1  # (every entry and the header: nothing cut off)
    records = [line for line in gzip.decompress(vcf["body"]).split(b"\n") if line and not line.startswith(b"#")]
    assert len(records) == job["records"]
    assert tsv["seconds"] > 2 * WORKER_TIMEOUT, "the slow download outlasted gunicorn's worker timeout"
    assert tsv["first"] < 10 and vcf["first"] < 10, "exports start at once"
    assert len(latencies) >= 5 and max(latencies) < 10, "the third client was answered throughout"
    web_log = (cluster.logs / "web.log").read_text()
    assert "WORKER TIMEOUT" not in web_log and "Traceback" not in web_log


def test_two_instances_on_one_host_both_serve(tmp_path, database_url, demo_reference_dir):
    cluster = _cluster(tmp_path, _environment(tmp_path, database_url, demo_reference_dir))
    ports = [free_port(), free_port()]
    try:
        for number, port in enumerate(ports, 1):  # (one user, one HOME: gunicorn's default control socket is shared)
            cluster.start(f"web-{number}", _gunicorn(port))
            site = f"http://127.0.0.1:{port}"
            wait_for(f"instance {number} answers /healthz", lambda s=site: _healthy(s), timeout=60)
        time.sleep(2)
        assert all(_healthy(f"http://127.0.0.1:{port}") for port in ports)
        assert all(process.poll() is None for process in cluster.processes.values())
        assert not list((tmp_path / "home").rglob("*.ctl"))
    except BaseException:
        cluster.dump()
        raise
    finally:
        cluster.stop()
