"""What many tests share that is not a fixture: test inputs, and small actions (an upload through the
page, a token made by the service, a registered source). Fixtures live in the conftest.py files."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

from django.contrib.auth import SESSION_KEY
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from accounts.models import User
from jobs.services.tokens import api_token_create

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
DEMO = ROOT / "reference" / "demo"
SYNTHETIC = DATA / "synthetic_chr20_10k.vcf.gz"
GOOD_VCF = (
    "##fileformat=VCFv4.2\n##contig=<ID=20,length=63025520>\n"
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    "20\t63426\t.\tG\tA\t50\tPASS\t.\n"
    "20\t123273\t.\tA\tT\t50\tPASS\t.\n"
)
HEADER = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
CLINICAL = (
    "##fileformat=VCFv4.2\n"
    '##INFO=<ID=CLNSIG,Number=.,Type=String,Description="Clinical significance">\n'
    '##INFO=<ID=AF,Number=A,Type=Float,Description="Allele frequency">\n'
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    "{chrom}\t63426\tclinA\tG\tA\t.\t.\tCLNSIG=Pathogenic;AF=0.001\n"
    "{chrom}\t123273\tclinB\tA\tC,T\t.\t.\tCLNSIG=Benign;AF=0.1,0.2\n"
)


def upload(client: Client, name: str, content: bytes, capture, **extra):
    """Post a file to the upload page, running what is deferred to commit (the queue send)."""
    with capture(execute=True):
        return client.post(reverse("annotate"), {"file": SimpleUploadedFile(name, content)}, **extra)


def make_token(client: Client) -> str:
    """A personal API token for the user signed in on ``client``, made by the service."""
    _, raw = api_token_create(user=User.objects.get(pk=client.session[SESSION_KEY]), name="laptop")
    return raw


def api_client(client: Client) -> Client:
    """A client of the API with a token of the user signed in on ``client``."""
    return Client(HTTP_AUTHORIZATION=f"Bearer {make_token(client)}")


def dbsnp_records(count: int) -> list[tuple[int, str, str]]:
    """Real chr20 sites (POS, REF, ALT) from the demo's dbSNP slice: REF agrees with the genome."""
    found = []
    with gzip.open(DEMO / "dbsnp_common_GRCh37.chr20.vcf.gz", "rt") as handle:
        for line in handle:
            if not line.startswith("#"):
                columns = line.split("\t")
                if len(columns[3]) == 1 and len(columns[4]) == 1:
                    found.append((int(columns[1]), columns[3], columns[4]))
            if len(found) == count:
                break
    return found


def vcf(records: list[tuple[int, str, str]]) -> bytes:
    return (HEADER + "".join(f"20\t{pos}\t.\t{ref}\t{alt}\t.\t.\t.\n" for pos, ref, alt in records)).encode()


def write_source(tmp_path: Path, chrom: str = "chr20", name: str = "clinical.vcf") -> Path:
    path = tmp_path / name
    path.write_text(CLINICAL.format(chrom=chrom))
    return path


def add_source(tmp_path: Path, *args: str, name: str = "clinvar", path: Path | None = None) -> str:
    """``manage.py source add NAME`` for the demo reference; its output."""
    out = io.StringIO()
    source = path or write_source(tmp_path)
    call_command("source", "add", name, "--reference", "demo", "--file", str(source), *args, stdout=out)
    return out.getvalue()


def archive_state(job) -> str:
    """The state of a job's result in the archive (available, archived, restoring…)."""
    from archive.models import ResultArchive

    return ResultArchive.objects.get(job=job).state




def sqs_queues(prefix: str) -> dict:
    """The four queues on (mocked) SQS, created on first use."""
    options = {"visibility_timeout": 30, "max_receives": 5, "region_name": "us-east-1", "create_if_missing": True}
    return {
        alias: {"BACKEND": "gas_site.queues.sqs.SQSQueue", "NAME": f"{prefix}-{alias}", "OPTIONS": options}
        for alias in ("jobs", "archive", "restore", "thaw")
    }


def run(command: str, capture) -> None:
    """One pass of a worker command, with what is deferred to commit run as after a commit."""
    from django.core.management import call_command

    with capture(execute=True):
        call_command(command, "--once", "--wait", "0", "--retry-delay", "1")


def the_job():
    """The newest job."""
    from jobs.models import Job

    return Job.objects.order_by("-submitted_at").first()
