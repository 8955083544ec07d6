"""The chaos suite: the embedded default under kill -9, poison and duplicate messages.

Two annotators and the three cold-storage workers run as their own processes on one database
(SQLite, or PostgreSQL when GAS_TEST_POSTGRES_URL is set). While 36 jobs of mixed sizes run
and users move between plans (archive, restore, thaw, archive again), a killer sends SIGKILL to
a random worker every few seconds, every named fault point (gas_site.faults) kills the first
process that reaches it, and every queue gets poison bodies and duplicated requests. A
supervisor restarts whatever died. At the end:

- every job is COMPLETED (0 lost, 0 stuck), none completed twice;
- every result is a valid bgzipped VCF with all of its input's records, and byte-identical to
  what it was when it first completed, after any number of archive → restore rounds, and to its
  input annotated at once (the larger inputs are split into shards: GAS_SHARD_RECORDS; kills
  land in splits, shards and gathers too);
- no cold copy without a record, no archived record without its copy;
- no scratch folder left, no file the database does not refer to (after one sweep, counted);
- every expected mail sent, each once (by Message-ID);
- the longest time from a kill to the completion of the job it interrupted is under 60 s.

The figures are printed (pytest -rP shows them).
"""

from __future__ import annotations

import email
import gzip
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import zlib
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
pytestmark = [pytest.mark.slow, pytest.mark.chaos, pytest.mark.timeout(900)]

WORKERS = {
    "annotator-1": "run_annotator",
    "annotator-2": "run_annotator",
    "archive": "archive_worker",
    "restore": "restore_worker",
    "thaw": "thaw_worker",
}
FAULT_POINTS = [
    "job.before_annotate", "job.after_store_result", "job.after_store_log", "job.after_store_summary",
    "job.before_commit", "job.after_commit", "outbox.after_deliver",
    "archive.before_copy", "archive.after_copy", "archive.after_archived", "archive.after_hot_delete",
    "restore.after_request", "thaw.after_hot_write", "thaw.before_commit", "thaw.after_commit",
    "shard.after_split", "shard.before_annotate", "shard.after_store", "shard.before_commit", "gather.before_join",
]  # fmt: skip
SHARD_RECORDS = 2000  # (inputs of 3,000 lines or more are split: the 10,000-line one into 5 shards)
JOBS = 36
USERS = 6
STALE_SECONDS = int(os.environ.get("GAS_CHAOS_STALE_SECONDS", "10"))  # (GAS_JOB_STALE_SECONDS of the cluster)
SWEEP_SECONDS = 5
SEED = int(os.environ.get("GAS_CHAOS_SEED", "2026"))


def log(message: str) -> None:
    print(f"[chaos {time.strftime('%H:%M:%S')}] {message}", flush=True)


class Agent:
    """The agent process (tests/chaos/agent.py): one JSON command per line."""

    def __init__(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "chaos" / "agent.py")], cwd=ROOT, env=env, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )  # fmt: skip
        self.lock = threading.Lock()

    def __call__(self, command: str, **args: object) -> object:
        with self.lock:
            assert self.process.stdin and self.process.stdout
            self.process.stdin.write(json.dumps({"command": command, **args}) + "\n")
            self.process.stdin.flush()
            answer = json.loads(self.process.stdout.readline())
        if "error" in answer:
            raise RuntimeError(f"agent {command}: {answer['error']}")
        return answer["ok"]

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(30)


class Cluster:
    """The workers, restarted when they die; kills are counted and the jobs they interrupted noted."""

    def __init__(self, env: dict[str, str], logs: Path, on_death) -> None:
        self.env = env
        self.on_death = on_death
        self.logs = logs
        self.processes: dict[str, subprocess.Popen] = {}
        self.deaths: list[tuple[str, int, float, int]] = []  # (name, pid, when, signal)
        self.random_kills = 0
        self.lock = threading.Lock()
        self.running = True

    def start(self, name: str) -> None:
        handle = open(self.logs / f"{name}.log", "a")
        command = [sys.executable, "manage.py", WORKERS[name], "--wait", "1", "--retry-delay", "1"]
        self.processes[name] = subprocess.Popen(
            command, cwd=ROOT, env=self.env, stdout=handle, stderr=subprocess.STDOUT
        )

    def supervise(self) -> None:
        while self.running:
            with self.lock:
                for name, process in list(self.processes.items()):
                    code = process.poll()
                    if code is not None and self.running:
                        when = time.time()
                        self.deaths.append((name, process.pid, when, -code if code < 0 else code))
                        self.start(name)
                        self.on_death(name, process.pid, when)
            time.sleep(0.1)

    def kill_random(self, rng: random.Random) -> None:
        with self.lock:
            name = rng.choice(sorted(self.processes))
            process = self.processes[name]
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                self.random_kills += 1

    def stop(self) -> None:
        self.running = False
        with self.lock:
            for process in self.processes.values():
                if process.poll() is None:
                    process.terminate()
            for process in self.processes.values():
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()


def inputs(tmp_path: Path) -> list[tuple[Path, int]]:
    """Mixed sizes, each under the free plan's upload limit: (file, records)."""
    made = []
    header = "##fileformat=VCFv4.2\n##contig=<ID=20,length=63025520>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    rng = random.Random(SEED)
    for size in (2, 50, 500, 3000):
        lines = sorted({rng.randrange(60_000, 62_000_000) for _ in range(size)})
        body = "".join(f"20\t{pos}\t.\tA\tG\t50\tPASS\t.\n" for pos in lines)
        path = tmp_path / f"mixed_{size}.vcf.gz"
        path.write_bytes(gzip.compress((header + body).encode()))
        made.append((path, len(lines)))
    for name in ("synthetic_chr20_10k.vcf.gz", "vt_chr20_indels.vcf.gz"):
        path = DATA / name
        with gzip.open(path, "rt") as handle:
            made.append((path, sum(1 for line in handle if not line.startswith("#"))))
    return made


def hostile(tmp_path: Path) -> list[tuple[Path, str, str | None]]:
    """Files that once took workers down: (file, upload name, the start of the expected error or None)."""
    header = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    long_name = tmp_path / "long_name.vcf"
    long_name.write_text(header + "20\t71381\t.\tA\tT\t.\t.\t.\n")

    def repeated(path: Path, start: bytes, byte: bytes, gib: float) -> Path:
        member = zlib.compressobj(9, zlib.DEFLATED, 31)
        block = member.compress(byte * (64 << 20)) + member.flush()
        with open(path, "wb") as handle:
            handle.write(gzip.compress(header.encode() + start))
            for _ in range(int(gib * 16)):
                handle.write(block)
        return path

    line = repeated(tmp_path / "line.vcf.gz", b"20\t71381\t.\tA\tT\t.\t.\tX=", b"A", 1)
    bomb = repeated(tmp_path / "bomb.vcf.gz", b"", b"\0", 10)
    return [
        (long_name, "n" * 300 + ".vcf", None),
        (line, "gigabyte_line.vcf.gz", "gigabyte_line.vcf.gz, line 3: the line is longer than 64 MB"),
        (bomb, "bomb.vcf.gz", "bomb.vcf.gz, line 3: the line is longer than 64 MB"),
    ]


def mails(folder: Path) -> list[tuple[str, str]]:
    """(Message-ID, Subject) of every mail the file backend wrote (headers unfolded)."""
    found = []
    for path in sorted(folder.glob("*.log")):
        for raw in path.read_text().split("-" * 79):
            if "Subject:" not in raw:
                continue
            message = email.message_from_string(raw.strip("\n"))
            subject = " ".join(str(message["Subject"]).split())
            found.append((str(message["Message-ID"] or "").strip(), subject))
    return found


def test_chaos(tmp_path, database_url, demo_reference_dir):
    rng = random.Random(SEED)
    data_dir, scratch, faults, logs = (tmp_path / name for name in ("data", "tmp", "faults", "logs"))
    for folder in (data_dir, scratch, faults, logs):
        folder.mkdir()
    base_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("GAS_", "DJANGO_", "DATABASE_", "AWS_"))},
        "GAS_ENV": "development", "GAS_DATA_DIR": str(data_dir), "DATABASE_URL": database_url,
        "GAS_REFERENCE_DIR": str(demo_reference_dir), "GAS_EMAIL": "file",
        "GAS_FREE_RETENTION_SECONDS": "4", "GAS_LOCAL_THAW_SECONDS": "2", "GAS_THAW_POLL_SECONDS": "1",
        "GAS_JOB_STALE_SECONDS": str(STALE_SECONDS), "GAS_COLD_QUEUE_VISIBILITY_SECONDS": "10",
        "GAS_QUEUE_MAX_RECEIVES": "50", "GAS_SWEEP_SECONDS": str(SWEEP_SECONDS), "GAS_JOB_MAX_ATTEMPTS": "20",
        "GAS_LOG_LEVEL": "INFO", "TMPDIR": str(scratch),
    }  # fmt: skip
    workers_env = {**base_env, "GAS_FAULT_POINTS": ",".join(FAULT_POINTS), "GAS_FAULT_DIR": str(faults),
                   "GAS_SHARD_RECORDS": str(SHARD_RECORDS), "GAS_SHARDS_IN_FLIGHT": "2"}  # fmt: skip
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=base_env, capture_output=True, text=True
    )
    assert migrate.returncode == 0, migrate.stderr
    agent = Agent(base_env)
    interrupted: dict[str, float] = {}  # job -> when its worker died while running it
    host = socket.gethostname()

    def on_death(name: str, pid: int, when: float) -> None:
        if name.startswith("annotator"):  # its job stays RUNNING under its name until reclaimed
            for job_id in agent("running_on", worker=f"{host}:{pid}"):
                interrupted.setdefault(job_id, when)

    cluster = Cluster(workers_env, logs, on_death)
    files = inputs(tmp_path)
    log(f"database {database_url.split(':')[0]}; {len(WORKERS)} workers; {len(FAULT_POINTS)} fault points; seed {SEED}")
    for name in WORKERS:
        cluster.start(name)
    supervisor = threading.Thread(target=cluster.supervise, daemon=True)
    supervisor.start()
    killing = threading.Event()
    killing.set()

    def killer() -> None:
        while killing.is_set():
            time.sleep(rng.uniform(1.5, 4.0))
            if killing.is_set():
                cluster.kill_random(rng)

    threading.Thread(target=killer, daemon=True).start()
    started = time.time()
    first_hash: dict[str, str] = {}
    expected_records: dict[str, int] = {}
    try:
        emails = agent("users", count=USERS + 1)
        hostile_user = emails.pop()
        agent("upgrade", email=hostile_user)  # (premium: room for the 10 MB bomb)
        hostile_jobs = {
            agent("submit", email=hostile_user, path=str(path), name=name): expected
            for path, name, expected in hostile(tmp_path)
        }
        poisoned = agent("poison")
        for index in range(JOBS):
            path, records = files[index % len(files)]
            job_id = agent("submit", email=emails[index % USERS], path=str(path), name=f"j{index}_{path.name}")
            expected_records[job_id] = records
            time.sleep(rng.uniform(0.2, 0.8))  # (spread over ~20 s, so that kills land among running jobs)
            if index == JOBS // 2:
                poisoned += agent("poison")
        duplicated = agent("duplicate")
        log(f"submitted {JOBS} jobs for {USERS} users; {poisoned} poison bodies, {duplicated} duplicated requests")

        phase = 0
        deadline = time.time() + 600
        while time.time() < deadline:
            state = agent("status")
            jobs = {job_id: job for job_id, job in state["jobs"].items() if job_id not in hostile_jobs}
            archives = {job_id: a for job_id, a in state["archives"].items() if job_id not in hostile_jobs}
            hostile_done = all(state["jobs"][j]["status"] in ("COMPLETED", "FAILED") for j in hostile_jobs)
            for job_id, digest in agent("hashes").items():
                if digest and job_id not in first_hash:
                    first_hash[job_id] = digest
            done = sum(job["status"] == "COMPLETED" for job in jobs.values())
            archived = sum(a == "ARCHIVED" for a in archives.values())
            if phase == 0 and done >= JOBS // 2:
                for email in emails[:2]:
                    agent("upgrade", email=email)
                phase, phase_at = 1, time.time()
                log(f"{done} jobs done: users 0-1 upgraded (their archived results come back)")
            elif phase == 1 and time.time() - phase_at > 8:
                for email in emails[:2]:
                    agent("downgrade", email=email)
                agent("upgrade", email=emails[2])
                phase, phase_at = 2, time.time()
                log("users 0-1 back to free (archived again after the window), user 2 upgraded")
            elif phase == 2 and done == JOBS and time.time() - phase_at > 10:
                agent("duplicate")
                for email in emails:
                    agent("upgrade", email=email)
                phase, phase_at = 3, time.time()
                log(f"all jobs done, {archived} results archived: every user upgraded (everything comes back)")
            elif phase == 3 and time.time() - phase_at > 20:
                killing.clear()
                phase, phase_at = 4, time.time()
                log("killer stopped; waiting for the cluster to settle")
            elif phase == 4:
                depths = state["depths"]
                busy = sum(d["visible"] + d["in_flight"] + d["delayed"] for d in depths.values())
                settled = (
                    time.time() - phase_at > 3 * SWEEP_SECONDS  # (the workers' own sweeps ran since the last kill)
                    and done == JOBS
                    and hostile_done
                    and all(a == "AVAILABLE" for a in archives.values())
                    and len(archives) == JOBS
                    and busy == 0
                    and state["outbox"] == 0
                )
                if settled:
                    break
            time.sleep(0.5)
        else:
            raise AssertionError(f"the cluster did not settle in time: {json.dumps(agent('status'))[:3000]}")
        elapsed = time.time() - started
    except BaseException:
        for path in sorted(logs.glob("*.log")):
            print(f"----- {path.name} (last 30 lines) -----")
            print("\n".join(path.read_text().splitlines()[-30:]))
        raise
    finally:
        killing.clear()
        cluster.stop()

    # the workers swept on their own: an operator's sweep now finds nothing more
    sweep = subprocess.run(
        [sys.executable, "manage.py", "housekeeping", "--grace", "0"], cwd=ROOT, env=base_env, capture_output=True,
        text=True,
    )  # fmt: skip
    assert sweep.returncode == 0, sweep.stderr
    report = agent("report")
    agent.close()

    # -- the hostile files: a clear failure (or, the long name, a result), every worker still running
    for job in report["jobs"]:
        if job["id"] in hostile_jobs:
            expected = hostile_jobs[job["id"]]
            if expected is None:
                assert job["status"] == "COMPLETED" and len(job["input_name"]) < 120, (
                    f"hostile long name: {job['status']} {(job['error'] or '')[:300]!r} "
                    f"(name {len(job['input_name'])} chars)"
                )
            else:
                assert job["status"] == "FAILED" and job["error"].startswith(expected), (
                    f"hostile {job['input_name']}: {job['status']} {(job['error'] or '')[:300]!r}, "
                    f"expected {expected!r}"
                )
    # no worker died but by our SIGKILL (a crash would exit 1, a segfault by SIGSEGV)
    assert {code for *_, code in cluster.deaths} <= {signal.SIGKILL}, f"a worker died on its own: {cluster.deaths}"
    # -- every job completed, once, with all its records, byte-identical after archive and restore
    jobs = [job for job in report["jobs"] if job["id"] not in hostile_jobs]
    assert len(jobs) == JOBS
    assert [j for j in jobs if j["status"] != "COMPLETED"] == [], "0 lost, 0 stuck"
    all_logs = "".join(path.read_text() for path in logs.glob("annotator-*.log"))
    completions = Counter(re.findall(r"job ([0-9a-f-]{36}): completed", all_logs))
    # (a worker killed right after its commit never logs it: the mails below count every completion)
    assert set(completions) <= set(expected_records) | set(hostile_jobs), "0 run twice"
    assert set(completions.values()) == {1}, "0 run twice"
    for job in jobs:
        assert (job["result_records"], job["result_header"]) == (expected_records[job["id"]], True), (
            f"job {job['id']} ({job['input_name']}): {job['result_records']} records, header {job['result_header']}; "
            f"expected {expected_records[job['id']]}"
        )
        assert job["sha256"] == first_hash[job["id"]], f"result of {job['id']} changed after archive/restore"
        assert job["sha256"] == job["whole_sha256"], (
            f"job {job['id']} ({job['input_name']}, {job['shards']} shards): not byte-identical to its input "
            "annotated at once"
        )
    sharded = [j for j in jobs if j["shards"]]
    assert len(sharded) >= JOBS // 6, f"only {len(sharded)} jobs were split"  # (at least the 10,000-line ones)
    restored = [j for j in jobs if j["restore_count"]]
    # -- storage: no cold copy without a record, none needed missing, no orphan files, no scratch left
    assert set(report["cold_stored"]) <= set(report["cold_named"]), "no cold copy without a record"
    assert set(report["cold_needed"]) <= set(report["cold_stored"]), "no archived record without its copy"
    assert report["cold_stored"] == [], "every result is hot again; its cold copy was dropped"
    stored = set(report["files"]["inputs"]) | set(report["files"]["results"])
    assert stored == set(report["referenced"]) - set(report["hot_deleted_keys"]), "no orphan, none missing"
    assert list(scratch.glob("gas-job-*")) == [], "no scratch folder left"
    swept = re.search(r"swept (\d+) input\(s\), (\d+) result file\(s\) unreferenced", sweep.stdout)
    swept_scratch = re.search(r"swept (\d+) scratch", sweep.stdout)
    swept_cold = re.search(r"swept (\d+) orphaned cold", sweep.stdout)
    assert swept and swept_scratch and swept_cold, sweep.stdout
    leftovers = (*swept.groups(), swept_scratch.group(1), swept_cold.group(1))
    assert leftovers == ("0", "0", "0", "0"), f"orphans the workers left: {sweep.stdout}"
    worker_logs = "".join(path.read_text() for path in logs.glob("*.log"))
    swept_by_workers = sum(
        int(n) for n in re.findall(r"swept unreferenced files: \d+ input\(s\), (\d+) result", worker_logs)
    )
    scratch_by_workers = sum(int(n) for n in re.findall(r"swept (\d+) scratch folder", worker_logs))
    # -- mail: one "ready" per job, one "available again" per restore, by Message-ID
    sent = mails(data_dir / "mail")
    unique = dict(sent)
    # (the mixed files' REF "A" at random places disagrees with the genome: theirs come "with warnings")
    ready = Counter(subject for subject in unique.values() if subject.endswith((" is ready", " ready, with warnings")))
    back = Counter(subject for subject in unique.values() if "available again" in subject)
    assert sum(ready.values()) == JOBS + 1 and all(v == 1 for v in ready.values()), f"ready mails: {ready}"
    failed_mails = [subject for subject in unique.values() if "failed" in subject]
    assert len(failed_mails) == 2, f"failed mails (the line and the bomb): {failed_mails}"
    restores = {f"[GAS] Your results for {j['input_name']} are available again": j["restore_count"] for j in jobs}
    assert {k: v for k, v in restores.items() if v} == dict(back), "one 'available again' mail per restore"
    assert "" not in unique, "every mail carries its outbox Message-ID"
    # -- queues: only the poison is dead-lettered
    dead = sum(d["dead_letter"] for d in report["depths"].values())
    assert dead == poisoned, f"dead-lettered {dead}, poisoned {poisoned}: {report['depths']}"
    # -- recovery
    finished_at = {j["id"]: j["completed_at"] for j in report["jobs"]}
    recoveries = {job_id: finished_at[job_id] - when for job_id, when in interrupted.items()}
    fired = sorted(path.name.removesuffix(".fired") for path in faults.glob("*.fired"))
    point_deaths = len(cluster.deaths) - cluster.random_kills
    longest = max(recoveries.values(), default=0.0)
    log(
        f"RESULT {JOBS} jobs, {len(files)} input sizes, {elapsed:.0f} s; kills: {cluster.random_kills} random "
        f"+ {len(fired)}/{len(FAULT_POINTS)} fault points fired ({len(cluster.deaths)} deaths, {point_deaths} at "
        f"points); interrupted jobs recovered: {len(recoveries)}, longest recovery {longest:.1f} s, median "
        f"{sorted(recoveries.values())[len(recoveries) // 2] if recoveries else 0:.1f} s; "
        f"{len(restored)} results archived and restored ({sum(j['restore_count'] for j in jobs)} restores), all "
        f"byte-identical; {len(sharded)} jobs split ({sum(j['shards'] for j in sharded)} shards), each "
        f"byte-identical to its input annotated at once; attempts max {max(j['attempts'] for j in jobs)}; poison "
        f"dead-lettered {dead}; mails "
        f"{len(sent)} sent ({len(sent) - len(unique)} repeats of one Message-ID); the workers swept "
        f"{swept_by_workers} orphan result files and {scratch_by_workers} scratch folders; left at the end: 0; "
        "lost 0, run twice 0, stuck 0"
    )
    log(f"fault points fired: {', '.join(fired)}")
    assert set(fired) >= {p for p in FAULT_POINTS if p.startswith(("job.", "shard.", "gather."))}, (
        f"job, shard and gather fault points fired: {fired}"
    )
    # (60 s on an idle machine; a busy one, CI beside other work, runs everything slower by its load per core)
    slowdown = max(1.0, os.getloadavg()[1] / (os.cpu_count() or 1))
    assert longest < 60 * slowdown, f"longest recovery {longest:.1f} s (load {slowdown:.1f} per core): {recoveries}"
