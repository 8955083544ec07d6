"""Load benchmark of the web site (issue 25): the embedded default (SQLite, local files) behind
gunicorn as `make run` starts it, a job list of ``--jobs`` jobs and one job of ``--records``
variants (synthetic, tests/big_job.py), ``--clients`` signed-in clients browsing job lists, job
pages and variant pages while ``--exporters`` of them download exports (TSV and VCF, whole).

    python benchmarks/web_load.py [--records 1000000] [--jobs 10000] [--clients 50] [--exporters 5]
                                  [--seconds 60] [--think 2] [--work DIR]

Prints p50/p95/p99 per route (ms), requests and errors, exports finished and their sizes, gunicorn
WORKER TIMEOUTs, and the web workers' peak memory (RSS, polled every 0.5 s). The browsing clients
run as threads of this process, the exporters as curl processes, on the same machine as the server.
GAS_LOAD_DEBUG=1 prints each page that took over a second, with when it started.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.serving import free_port, wait_until_up

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "a-long-load-password-1"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))] if ordered else float("nan")


def sign_in(site: str, email: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{site}/accounts/login/", timeout=60).text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    form = {"csrfmiddlewaretoken": token, "login": email, "password": PASSWORD}
    answer = session.post(f"{site}/accounts/login/", data=form, headers={"Referer": f"{site}/accounts/login/"},
                          timeout=60)  # fmt: skip
    if "Sign out" not in answer.text and "logout" not in answer.text:
        raise SystemExit(f"could not sign in as {email}: {answer.status_code}")
    return session


def rss_of_children(master: int) -> int:
    """The summed RSS (bytes) of gunicorn's worker processes."""
    total = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        if re.search(rf"^PPid:\s+{master}$", text, re.M):
            found = re.search(r"^VmRSS:\s+(\d+) kB", text, re.M)
            total += int(found.group(1)) * 1024 if found else 0
    return total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--exporters", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--think", type=float, default=2.0,
                        help="a browsing client's mean pause between pages (uniform 0.5x-1.5x; 0: none)")  # fmt: skip
    parser.add_argument("--export-formats", default="tsv,vcf", help="what the exporters download, in turn at random")
    parser.add_argument("--work", type=Path)
    options = parser.parse_args()
    work = options.work or Path(tempfile.mkdtemp(prefix="gas-web-load-"))
    work.mkdir(parents=True, exist_ok=True)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("GAS_", "DJANGO_", "DATABASE_"))
           or k.startswith(("GAS_WEB_", "GAS_EXPORT"))},  # (the web server's own settings pass through)
        "GAS_DATA_DIR": str(work / "data"), "GAS_API_RATE_PER_MINUTE": "0", "GAS_LOG_LEVEL": "WARNING",
        "GAS_REFERENCE_DIR": os.environ.get("GAS_REFERENCE_DIR", str(ROOT / "var" / "references")),
    }  # fmt: skip
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run([python, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    began = time.monotonic()
    made = subprocess.run(
        [python, "tests/big_job.py", "--records", str(options.records), "--more-jobs", str(options.jobs - 1),
         "--email", "load@example.org", "--password", PASSWORD],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    job = json.loads(made.stdout.strip().splitlines()[-1])
    print(f"{options.jobs:,} jobs; the large one: {job['records']:,} records, {job['entries']:,} CSQ entries "
          f"(synthetic, made in {time.monotonic() - began:.0f} s)")  # fmt: skip
    port = free_port()
    site = f"http://127.0.0.1:{port}"
    log_path = work / "web.log"
    server = subprocess.Popen(
        [str(Path(python).parent / "gunicorn"), "-c", "python:gas_site.gunicorn_conf", "gas_site.wsgi",
         "--bind", f"127.0.0.1:{port}", "--access-logfile", str(work / "access.log"),
         "--access-logformat", '%(t)s %(p)s "%(r)s" %(s)s %(B)s %(D)s'],
        cwd=ROOT, env=env, stdout=open(log_path, "w"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_until_up(site)
        run(site, job, options, server.pid, log_path)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        if not options.work:
            shutil.rmtree(work, ignore_errors=True)


def run(site: str, job: dict, options: argparse.Namespace, master: int, log_path: Path) -> None:
    big = job["job"]
    timings: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    exports: list[tuple[str, int, float]] = []
    lock = threading.Lock()
    stop = threading.Event()
    peak = [0]
    pages = max(1, options.jobs // 25)
    filters = ["", "?impact=HIGH", "?consequence=missense_variant", "?gene=PTPRT", "?sort=severity",
               "?region=20:30000000-40000000", "?show=all&biotype=protein_coding", "?q=c.1"]  # fmt: skip
    job_ids: list[str] = []

    def browse(session: requests.Session, seed: int) -> None:
        rng = random.Random(seed)
        while not stop.is_set():
            route, url = rng.choice([
                ("job list", f"{site}/annotations?page={rng.randint(1, pages)}"),
                ("job page", f"{site}/annotations/{rng.choice(job_ids) if job_ids else big}"),
                ("variant page", f"{site}/annotations/{big}/variants{rng.choice(filters)}"),
                ("variant count", f"{site}/annotations/{big}/variants/count{rng.choice(filters)}"),
            ])  # fmt: skip
            started = time.monotonic()
            try:
                answer = session.get(url, timeout=120)
                ok = answer.status_code == 200
            except requests.RequestException:
                ok = False
            with lock:
                timings[route].append(time.monotonic() - started)
                if time.monotonic() - started > 1 and os.environ.get("GAS_LOAD_DEBUG"):
                    print(f"slow {route} at {started:.1f} took {time.monotonic() - started:.2f}", flush=True)
                if not ok:
                    errors[route] += 1
            if options.think:
                stop.wait(rng.uniform(0.5, 1.5) * options.think)  # (a person reads the page)

    def export(session: requests.Session, seed: int) -> None:
        """Downloads by curl, a process of its own: the exporters' reading costs this process nothing,
        so the browsing clients' timings are the server's."""
        rng = random.Random(seed)
        cookie = "; ".join(f"{name}={value}" for name, value in session.cookies.items())
        while not stop.is_set():
            fmt = rng.choice(options.export_formats.split(","))
            done = subprocess.run(
                ["curl", "-s", "-o", "/dev/null", "-b", cookie, "-w", "%{http_code} %{size_download} %{time_total}",
                 "--max-time", "300", f"{site}/annotations/{big}/export/{fmt}"],
                capture_output=True, text=True,
            )  # fmt: skip
            status, size, seconds = [*done.stdout.split(), "0", "0", "0"][:3]
            with lock:
                if status == "200":
                    exports.append((fmt, int(size), float(seconds)))
                elif status == "503":  # (that process streams as many as it allows: try again later)
                    errors[f"export {fmt} busy"] += 1
                    stop.wait(5)
                else:
                    errors[f"export {fmt}"] += 1

    def watch() -> None:
        while not stop.is_set():
            began = time.monotonic()
            peak[0] = max(peak[0], rss_of_children(master))
            time.sleep(0.5)
            if time.monotonic() - began > 1 and os.environ.get("GAS_LOAD_DEBUG"):
                print(f"this process stalled at {began:.1f} for {time.monotonic() - began - 0.5:.2f} s", flush=True)

    first = sign_in(site, "load@example.org")
    listing = first.get(f"{site}/annotations?page=2", timeout=60).text
    job_ids.extend(re.findall(r'/annotations/([0-9a-f-]{36})"', listing))
    sessions = []
    for _ in range(options.clients):  # (one sign-in shared: allauth limits sign-ins per address and minute)
        session = requests.Session()
        session.cookies.update(first.cookies)
        sessions.append(session)
    threads = [threading.Thread(target=watch, daemon=True)]
    for number, session in enumerate(sessions):
        worker = export if number < options.exporters else browse
        threads.append(threading.Thread(target=worker, args=(session, number), daemon=True))
    print(f"{options.clients} clients ({options.exporters} downloading exports, the others pausing "
          f"{options.think:.1f} s on average between pages) for {options.seconds:.0f} s; "
          f"load average before {os.getloadavg()[0]:.2f}")  # fmt: skip
    for thread in threads:
        thread.start()
    time.sleep(options.seconds)
    stop.set()
    for thread in threads[1:]:
        thread.join(timeout=180)
    print(f"\n{'route':<16}{'requests':>9}{'errors':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}")
    for route in ("job list", "job page", "variant page", "variant count"):
        values = timings[route]
        print(f"{route:<16}{len(values):>9}{errors[route]:>8}{1000 * percentile(values, 0.5):>9.0f}"
              f"{1000 * percentile(values, 0.95):>9.0f}{1000 * percentile(values, 0.99):>9.0f}")  # fmt: skip
    pages_all = [v for route in ("job list", "job page", "variant page") for v in timings[route]]
    print(f"{'all pages':<16}{len(pages_all):>9}{sum(errors[r] for r in ('job list', 'job page', 'variant page')):>8}"
          f"{1000 * percentile(pages_all, 0.5):>9.0f}{1000 * percentile(pages_all, 0.95):>9.0f}"
          f"{1000 * percentile(pages_all, 0.99):>9.0f}")  # fmt: skip
    for fmt in ("tsv", "vcf"):
        done = [(size, seconds) for kind, size, seconds in exports if kind == fmt]
        if done:
            size = statistics.median(s for s, _ in done) / 1e6
            seconds = statistics.median(t for _, t in done)
            print(f"export {fmt}: {len(done)} finished, {errors[f'export {fmt}']} failed, "
                  f"{errors[f'export {fmt} busy']} told to come back (503), {size:.0f} MB each, "
                  f"median {seconds:.1f} s")  # fmt: skip
    served = defaultdict(list)  # (the server's own time per page, from gunicorn's access log: no queueing)
    for line in (log_path.parent / "access.log").read_text().splitlines():
        found = re.search(r'"GET (\S+) HTTP[^"]*" (\d+) \S+ (\d+)$', line)
        if found and "/export/" not in found.group(1) and "/annotations" in found.group(1):
            path = found.group(1)
            route = ("variant count" if "/variants/count" in path else "variant page" if "/variants" in path
                     else "job list" if path.startswith("/annotations?") else "job page")  # fmt: skip
            served[route].append(int(found.group(3)) / 1e6)
    print("server time (gunicorn's access log, from parsed request to last byte) p50/p95/p99 ms: " + "; ".join(
        f"{route} {1000 * percentile(v, 0.5):.0f}/{1000 * percentile(v, 0.95):.0f}/{1000 * percentile(v, 0.99):.0f}"
        for route, v in served.items()))  # fmt: skip
    timeouts = log_path.read_text().count("WORKER TIMEOUT")
    print(f"gunicorn WORKER TIMEOUTs: {timeouts}; web workers' peak memory {peak[0] / 1e6:.0f} MB (RSS, all workers)")


if __name__ == "__main__":
    main()
