"""Benchmark: one large job over the annotator farm, on the embedded default (SQLite, local files,
the database queue), as `make run` runs it.

    python benchmarks/scale.py [--records 5000000] [--shard-records 500000] [--workers 1,2]

Generates a synthetic chr20 VCF (benchmarks/synthetic.py; SYNTHETIC sites on the demo reference),
then runs it as one job three ways, each on a fresh database: whole on 1 annotator (GAS_SHARD_RECORDS=0),
split on 1 annotator, split on 2 annotators (`manage.py run_annotator` processes). For each: the wall
time from the queued job to its completion, the phases (split, shards, gather) from the database's
timestamps, and the peak memory (VmHWM) of each annotator process and of the largest of its helpers.
Then: the speed-up of 2 annotators over 1 whole, whether every result is byte-identical, and an
extrapolation to a farm of N annotators from the measured split, per-shard and gather times.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.synthetic import generate  # noqa: E402
from jobs.annotation.reference import Reference, import_reference  # noqa: E402

DEMO = ROOT / "reference" / "demo"

CLIENT = r"""
import json, os, sys, time
sys.path.insert(0, os.environ["GAS_ROOT"])
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gas_site.settings")
import django
django.setup()
from django.core.files import File
from accounts.models import User
from jobs.models import Job, JobStatus
from jobs.references.bundles import load_reference
from jobs.services.lifecycle import job_create_from_stored
from jobs.storage import inputs_storage, results_storage
command, path = sys.argv[1], sys.argv[2]
if command == "submit":
    user, _ = User.objects.get_or_create(email="scale@example.org")
    User.objects.filter(id=user.id).update(plan="premium")
    user.refresh_from_db()
    with open(path, "rb") as handle:
        key = inputs_storage().save(f"{user.pk}/scale/{os.path.basename(path)}", File(handle, name="input.vcf.gz"))
    job = job_create_from_stored(owner=user, key=key, name="input.vcf.gz", size=os.path.getsize(path),
                                 reference=load_reference("bench"), source_names=[])
    print(json.dumps({"job": str(job.id), "queued": time.time()}))
else:
    job = Job.objects.get(id=path)
    out = {"status": job.status, "shards": job.shards, "shards_done": job.shards_done}
    if job.status in (JobStatus.COMPLETED, JobStatus.FAILED):
        shards = list(job.shard_set.order_by("index").values("started_at", "finished_at", "seconds", "lines"))
        out.update(error=job.error_message, started=job.started_at.timestamp(), completed=job.completed_at.timestamp(),
                   records=job.records, result=results_storage().path(job.result_key) if job.result_key else "",
                   shard_times=[[s["started_at"].timestamp(), s["finished_at"].timestamp(), s["seconds"], s["lines"]]
                                for s in shards])
    print(json.dumps(out))
"""


def peak_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User and system time of a process and of the children it has waited for (its helpers)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def run_config(label: str, vcf: Path, bundle: Path, work: Path, *, workers: int, shard_records: int) -> dict:
    data = work / f"data-{label.replace(' ', '-')}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("GAS_", "DJANGO_", "DATABASE_"))},
        "GAS_ROOT": str(ROOT), "GAS_ENV": "development", "GAS_DATA_DIR": str(data),
        "GAS_REFERENCE_DIR": str(bundle.parent), "GAS_EMAIL": "file", "GAS_LOG_LEVEL": "WARNING",
        "GAS_SHARD_RECORDS": str(shard_records), "GAS_SHARDS_IN_FLIGHT": str(max(2, 2 * workers)),
        "GAS_PREMIUM_MAX_INPUT_BYTES": str(1 << 40), "TMPDIR": str(work / "tmp"),
    }  # fmt: skip
    (work / "tmp").mkdir(exist_ok=True)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    command = [sys.executable, "manage.py", "run_annotator", "--wait", "1"]
    logs = [open(work / f"{label}-{i}.log", "w") for i in range(workers)]
    processes = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log) for log in logs]
    time.sleep(3)  # (the annotators start and sweep before the job is queued)
    client = [sys.executable, "-c", CLIENT]
    queued = json.loads(subprocess.run([*client, "submit", str(vcf)], env=env, capture_output=True, text=True,
                                       check=True).stdout)  # fmt: skip
    peaks = {p.pid: 0 for p in processes}
    helpers = {p.pid: 0 for p in processes}
    status: dict = {}
    last_poll = 0.0
    try:
        while True:
            for p in processes:
                if p.poll() is not None:
                    raise SystemExit(f"{label}: an annotator exited ({p.returncode}); see {work}/{label}-*.log")
                peaks[p.pid] = max(peaks[p.pid], peak_kb(p.pid))
                for child in children(p.pid):
                    helpers[p.pid] = max(helpers[p.pid], peak_kb(child))
            if time.time() - last_poll > 2:
                last_poll = time.time()
                status = json.loads(subprocess.run([*client, "status", queued["job"]], env=env, capture_output=True,
                                                   text=True, check=True).stdout)  # fmt: skip
                if status["status"] in ("COMPLETED", "FAILED"):
                    break
            time.sleep(0.2)
    finally:
        cpu = sum(cpu_seconds(p.pid) for p in processes)
        for p in processes:
            p.terminate()
        for p in processes:
            p.wait(60)
    if status["status"] != "COMPLETED":
        raise SystemExit(f"{label}: the job failed: {status.get('error')}")
    shard_times = status["shard_times"]
    result = Path(status["result"])
    out = {
        "label": label, "workers": workers, "shards": status["shards"], "records": status["records"],
        "wall": status["completed"] - queued["queued"], "cpu": cpu,
        "sha256": hashlib.sha256(result.read_bytes()).hexdigest(),
        "peak_mb": [round(peaks[p.pid] / 1024) for p in processes],
        "helper_peak_mb": [round(helpers[p.pid] / 1024) for p in processes],
    }  # fmt: skip
    if shard_times:
        first_start = min(s[0] for s in shard_times)
        last_end = max(s[1] for s in shard_times)
        out["split"] = first_start - queued["queued"]
        out["shard_wall"] = [s[1] - s[0] for s in shard_times]
        out["shards_phase"] = last_end - first_start
        out["gather"] = status["completed"] - last_end
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=5_000_000, help="records of the synthetic input (about)")
    parser.add_argument("--shard-records", type=int, default=500_000, help="GAS_SHARD_RECORDS of the split runs")
    parser.add_argument("--workers", default="1,2", help="annotator processes of the split runs")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="gas-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    bundle = work / "references" / "bench"
    if not (bundle / "manifest.json").exists():
        import_reference(name="bench", build="GRCh37", gene_model=DEMO / "GRCh37.chr20.gencode19.gtf.gz",
                         fasta=DEMO / "GRCh37.chr20.fa.gz", destination=bundle)  # fmt: skip
    vcf = work / f"scale_{args.records}.vcf.gz"
    if not vcf.exists():
        started = time.time()
        generate(Reference(bundle), math.ceil(args.records / 0.944), vcf)  # (about 5.6% of drawn sites skipped)
        print(f"generated {vcf.name} in {time.time() - started:.0f} s", flush=True)
    runs = [run_config("whole, 1 annotator", vcf, bundle, work, workers=1, shard_records=0)]
    for workers in (int(w) for w in args.workers.split(",")):
        runs.append(run_config(f"split, {workers} annotator{'s' * (workers > 1)}", vcf, bundle, work,
                               workers=workers, shard_records=args.shard_records))  # fmt: skip
    whole = runs[0]
    print(f"\n{whole['records']:,} records (SYNTHETIC sites on GRCh37 chr20), shards of {args.shard_records:,} lines")
    print(f"{'run':<24}{'wall s':>8}{'speed-up':>10}{'CPU s':>8}{'cores':>7}{'shards':>8}{'split s':>9}"
          f"{'shards s':>10}{'gather s':>10}{'peak MB per annotator (helper)':>34}")  # fmt: skip
    for run in runs:
        peaks = ", ".join(f"{p} ({h})" for p, h in zip(run["peak_mb"], run["helper_peak_mb"], strict=True))
        phases = (f"{run['split']:>9.1f}{run['shards_phase']:>10.1f}{run['gather']:>10.1f}" if run["shards"]
                  else f"{'':>9}{'':>10}{'':>10}")  # fmt: skip
        print(f"{run['label']:<24}{run['wall']:>8.1f}{whole['wall'] / run['wall']:>9.2f}x{run['cpu']:>8.0f}"
              f"{run['cpu'] / run['wall']:>7.2f}{run['shards']:>8}{phases}{peaks:>34}")  # fmt: skip
    print("(CPU s: the annotators' user and system time with their helpers'; cores: CPU s over wall s)")
    identical = all(run["sha256"] == whole["sha256"] for run in runs)
    print(f"results byte-identical to the whole job's: {'yes' if identical else 'NO'}")
    split_runs = [run for run in runs if run["shards"]]
    if split_runs:
        one = split_runs[0]
        per_shard = statistics.median(one["shard_wall"])
        print(f"\nmeasured on 1 annotator: split {one['split']:.1f} s, a shard {per_shard:.1f} s (median of "
              f"{len(one['shard_wall'])}), gather {one['gather']:.1f} s")  # fmt: skip
        print("a farm of N annotators, this job (split + rounds of shards + gather; queue latency left out):")
        for n in (1, 2, 4, 8, 16):
            estimate = one["split"] + math.ceil(one["shards"] / n) * per_shard + one["gather"]
            print(f"  N={n:<3} {estimate:>7.1f} s   {whole['wall'] / estimate:>5.2f}x the whole job on one")
        bigger = 10 * one["shards"]
        print(f"a job 10x larger ({bigger} shards; split and gather scaled 10x):")
        for n in (10, 50, 100):
            estimate = 10 * (one["split"] + one["gather"]) + math.ceil(bigger / n) * per_shard
            print(f"  N={n:<3} {estimate:>7.1f} s")
    if not identical:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
