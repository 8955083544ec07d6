"""Sweep: every VCF and BCF file of a folder through `manage.py annotate`, one at a time, as a new
user would, classed as the suite's README asks (../shared/data/vcf-suite/README.md):

  annotated  exit 0, the output read back by htslib (pysam), as many records out as in
  refused    a CommandError naming the file (and line) and what was expected; "not for this reference"
             when it says the file is for another build or other contigs than those installed
  lost       exit 0 but records lost, or the output unreadable where the input was readable
  crashed    any other exception (a traceback)
  hung       still running after --timeout seconds

    python benchmarks/vcf_suite.py ../shared/data/vcf-suite [--timeout 120] [--show refused] [--api]

Each file runs in a child process of its own (a hang is cut off there); prints a line per file
that is not annotated, and the counts per class. With ``--api`` the files go through the API
instead, one job each, to a site this script starts (gunicorn and one annotator on a scratch
database, a premium user): refused is a 4xx at upload or a job that failed with its message;
crashed a 5xx or an internal error.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import traceback
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gas_site.settings")

SUFFIXES = (".vcf", ".vcf.gz", ".bcf")


def records_in(path: Path) -> int | None:
    """Data records as htslib reads them; None where htslib cannot read the file."""
    import pysam

    try:
        with pysam.VariantFile(str(path)) as handle:
            return sum(1 for _ in handle)
    except Exception:
        return None


def run_one(path: str, out_dir: str, queue: multiprocessing.Queue) -> None:
    from django.core.management import CommandError, call_command

    output = Path(out_dir) / (Path(path).name + ".annot.vcf.gz")
    try:
        call_command("annotate", path, "-o", str(output), "--quiet", stdout=open(os.devnull, "w"),
                     stderr=open(os.devnull, "w"))  # fmt: skip
    except CommandError as exc:
        queue.put(("refused", str(exc)))
        return
    except BaseException:
        queue.put(("crashed", traceback.format_exc(limit=3)))
        return
    queue.put(("done", str(output)))


def sweep(folder: Path, timeout: float) -> list[tuple[str, str, str]]:
    files = sorted(p for p in folder.iterdir() if p.name.endswith(SUFFIXES))
    results = []
    context = multiprocessing.get_context("fork")
    with tempfile.TemporaryDirectory(prefix="gas-sweep-") as scratch:
        for path in files:
            queue = context.Queue()
            child = context.Process(target=run_one, args=(str(path), scratch, queue))
            child.start()
            child.join(timeout)
            if child.is_alive():
                child.kill()
                results.append((path.name, "hung", f"still running after {timeout:.0f} s"))
                continue
            kind, detail = queue.get() if not queue.empty() else ("crashed", f"exit code {child.exitcode}")
            if kind == "done":
                expected, got = records_in(path), records_in(Path(detail))
                if expected is None and got is None:  # (garbage in, the same out: not a loss)
                    kind, detail = "annotated", "passed through: htslib reads neither the input nor the output"
                elif got is None or (expected is not None and got != expected):
                    kind, detail = "lost", f"{expected} records in, {got} out"
                else:
                    kind, detail = "annotated", f"{got} records"
            results.append((path.name, kind, detail))
            for leftover in Path(scratch).iterdir():
                leftover.unlink()
    return results


def sweep_api(folder: Path, timeout: float) -> list[tuple[str, str, str]]:
    import subprocess

    from benchmarks.serving import free_port, wait_until_up

    files = sorted(p for p in folder.iterdir() if p.name.endswith(SUFFIXES))
    results = []
    with tempfile.TemporaryDirectory(prefix="gas-sweep-api-") as scratch:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("GAS_", "DJANGO_", "DATABASE_"))},
            "GAS_DATA_DIR": scratch, "GAS_API_RATE_PER_MINUTE": "0", "GAS_LOG_LEVEL": "WARNING",
            "GAS_REFERENCE_DIR": os.environ.get("GAS_REFERENCE_DIR", str(ROOT / "var" / "references")),
        }  # fmt: skip
        python = sys.executable
        subprocess.run([python, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
        make_user = (
            "from accounts.models import User; from accounts.services import plan_upgrade; "
            "from jobs.services.tokens import api_token_create; u = User.objects.create_user('sweep@example.org'); "
            "plan_upgrade(user=u, payment_reference='sweep'); print(api_token_create(user=u, name='sweep')[1])"
        )
        token = subprocess.run([python, "manage.py", "shell", "-c", make_user], cwd=ROOT, env=env, check=True,
                               capture_output=True, text=True).stdout.strip().splitlines()[-1]  # fmt: skip
        port = free_port()
        site = f"http://127.0.0.1:{port}"
        logs = open(Path(scratch) / "processes.log", "w")
        processes = [
            subprocess.Popen([str(Path(python).parent / "gunicorn"), "-c", "python:gas_site.gunicorn_conf",
                              "gas_site.wsgi", "--bind", f"127.0.0.1:{port}"], cwd=ROOT, env=env, stdout=logs,
                             stderr=subprocess.STDOUT),
            subprocess.Popen([python, "manage.py", "run_annotator", "--wait", "1"], cwd=ROOT, env=env, stdout=logs,
                             stderr=subprocess.STDOUT),
        ]  # fmt: skip
        auth = {"Authorization": f"Bearer {token}"}
        try:
            wait_until_up(site)
            for path in files:
                results.append((path.name, *_through_api(site, auth, path, timeout)))
        finally:
            for process in processes:
                process.terminate()
                process.wait(timeout=30)
    return results


def _through_api(site: str, auth: dict[str, str], path: Path, timeout: float) -> tuple[str, str]:
    import time

    import requests

    with open(path, "rb") as handle:
        answer = requests.post(f"{site}/api/v1/jobs", headers=auth, files={"file": (path.name, handle)}, timeout=120)
    if answer.status_code >= 500:
        return "crashed", f"HTTP {answer.status_code} at upload"
    if answer.status_code != 201:
        try:
            return "refused", f"HTTP {answer.status_code}: {answer.json()['detail']}"
        except ValueError:
            return "crashed", f"HTTP {answer.status_code}, not JSON"
    job_id = answer.json()["id"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = requests.get(f"{site}/api/v1/jobs/{job_id}", headers=auth, timeout=60).json()
        if job["status"] == "FAILED":
            internal = "internal error" in (job.get("error") or job.get("error_message") or "")
            return ("crashed" if internal else "refused"), f"job failed: {job.get('error') or job.get('error_message')}"
        if job["status"] == "COMPLETED":
            result = requests.get(f"{site}/api/v1/jobs/{job_id}/result", headers=auth, timeout=120)
            with tempfile.NamedTemporaryFile(suffix=".vcf.gz") as copy:
                copy.write(result.content)
                copy.flush()
                expected, got = records_in(path), records_in(Path(copy.name))
            if expected is None and got is None:
                return "annotated", "passed through: htslib reads neither the input nor the output"
            if got is None or (expected is not None and got != expected):
                return "lost", f"{expected} records in, {got} out"
            return "annotated", f"{got} records"
        time.sleep(0.3)
    return "hung", f"not finished after {timeout:.0f} s"


# refusals that say the file is for another build or other contigs than the installed references
# (a valid file GAS cannot annotate here), told apart from refusals of invalid input
NOT_HERE = ("reference is installed here", "none of the", "match no installed reference", "lies past the end of contig",
            "bp long in the file but")  # fmt: skip


def outcome(kind: str, detail: str) -> str:
    if kind == "refused" and any(phrase in detail for phrase in NOT_HERE):
        return "not for this reference"
    return kind


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path)
    parser.add_argument("--timeout", type=float, default=120)
    parser.add_argument("--show", default="refused,lost,crashed,hung", help="classes to list file by file")
    parser.add_argument("--json", type=Path, help="write every file's outcome here")
    parser.add_argument("--api", action="store_true", help="through the API of a site this script starts")
    parser.add_argument("--from-json", type=Path, help="print the summary of an earlier run's --json")
    options = parser.parse_args()
    if options.from_json:
        results = [tuple(row) for row in json.loads(options.from_json.read_text())]
    else:
        import django

        django.setup()  # (once: each file's child process is forked from this one, and loads the reference itself)
        results = sweep_api(options.folder, options.timeout) if options.api else sweep(options.folder, options.timeout)
    shown = set(options.show.split(","))
    for name, kind, detail in results:
        if kind in shown:
            print(f"{outcome(kind, detail):<9} {name}: {detail.strip().splitlines()[-1] if detail.strip() else ''}")
    counts = Counter(outcome(kind, detail) for _, kind, detail in results)
    classes = ("annotated", "refused", "not for this reference", "lost", "crashed", "hung")
    print(f"\n{len(results)} files: " + ", ".join(f"{counts[k]} {k}" for k in classes))
    if options.json:
        options.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
