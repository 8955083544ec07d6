"""Issue 25, items 4-6: every ALT form of VCF 4.1-4.4 is accepted (annotated where VEP annotates,
passed through and counted otherwise); BCF is read on the web, the API and the command line; the
command line makes a job's checks and prints its warnings, and names side files from the whole
output name."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import pysam
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client

from jobs.models import Job, JobStatus
from tests.helpers import make_token

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("job_settings")]
DATA = Path(__file__).resolve().parents[2] / "data"
INDELS = DATA / "vt_chr20_indels.vcf.gz"  # (real: vt's test indels on GRCh37 chr20)

HEADER = "##fileformat=VCFv4.2\n##contig=<ID=20,length=63025520>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
# every ALT form VCF 4.1-4.4 allows (section 5.4 breakends: joined, telomeric, single; symbolic ones)
ALT_FORMS = [
    ("G", "G[20:1000500["), ("G", "G]20:1000500]"), ("G", "]20:1000500]G"), ("G", "[20:1000500[G"),
    ("N", ".[20:1000500["), ("N", "]20:1000500]."), ("G", "G."), ("G", ".G"), ("G", "<*>"), ("G", "<NON_REF>"),
    ("G", "<CN0>"), ("G", "<INS:ME:ALU>"), ("G", "<DEL>"), ("G", "*"), ("G", "A,<NON_REF>"), ("G", "."),
    ("G", "GTTT[<ctg1>:7["),
]  # fmt: skip


def records_of(path: Path) -> int:
    with pysam.VariantFile(str(path)) as handle:
        return sum(1 for _ in handle)


def as_bcf(source: Path, target: Path) -> Path:
    plain = target.with_suffix(".vcf")
    plain.write_bytes(gzip.decompress(source.read_bytes()))  # (the file is gzip, not BGZF: htslib reads it plain)
    with pysam.VariantFile(str(plain)) as reading, pysam.VariantFile(str(target), "wb", header=reading.header) as out:
        for record in reading:
            out.write(record)
    return target


def test_every_alt_form_of_the_specification_is_accepted(tmp_path, demo_reference_dir, settings):
    settings.GAS_REFERENCE_DIR = demo_reference_dir
    lines = "".join(f"20\t{1000000 + 10 * n}\t.\t{ref}\t{alt}\t50\tPASS\t.\n" for n, (ref, alt) in
                    enumerate(ALT_FORMS))  # fmt: skip
    source = tmp_path / "forms.vcf"
    source.write_text(HEADER + lines)
    out = tmp_path / "forms.annot.vcf.gz"
    call_command("annotate", str(source), "-o", str(out), "--quiet", stdout=io.StringIO(), stderr=io.StringIO())
    assert records_of(out) == len(ALT_FORMS)  # (htslib reads every one back: none lost)
    written = [line.split("\t")[4] for line in gzip.open(out, "rt") if not line.startswith("#")]
    assert written == [alt for _, alt in ALT_FORMS]


def test_bcf_on_the_command_line(tmp_path, demo_reference_dir, settings):
    settings.GAS_REFERENCE_DIR = demo_reference_dir
    bcf = as_bcf(INDELS, tmp_path / "indels.bcf")
    out = tmp_path / "indels.annot.vcf.gz"
    call_command("annotate", str(bcf), "-o", str(out), "--quiet", stdout=io.StringIO(), stderr=io.StringIO())
    plain = tmp_path / "plain.annot.vcf.gz"
    call_command("annotate", str(INDELS), "-o", str(plain), "--quiet", stdout=io.StringIO(), stderr=io.StringIO())
    assert records_of(out) == records_of(bcf) == 194

    def csq(path: Path) -> list[str]:
        return [line.split("\t")[7].split("CSQ=")[-1] for line in gzip.open(path, "rt") if not line.startswith("#")]

    assert csq(out) == csq(plain)  # (the same annotation as the VCF it was made from)


def test_bcf_through_the_api_and_the_page(signed_in_client, tmp_path, django_capture_on_commit_callbacks):
    bcf = as_bcf(INDELS, tmp_path / "indels.bcf").read_bytes()
    api = Client(HTTP_AUTHORIZATION=f"Bearer {make_token(signed_in_client)}")
    with django_capture_on_commit_callbacks(execute=True):
        made = api.post("/api/v1/jobs", {"file": SimpleUploadedFile("indels.bcf", bcf)})
    assert made.status_code == 201, made.content[:300]
    with django_capture_on_commit_callbacks(execute=True):
        call_command("run_annotator", "--once", "--wait", "0")
    job = Job.objects.get()
    assert job.status == JobStatus.COMPLETED and job.records == 194, job.error_message
    assert job.result_name == "indels.annot.vcf.gz"
    broken = bcf[: len(bcf) // 2]
    refused = api.post("/api/v1/jobs", {"file": SimpleUploadedFile("cut.bcf", broken[:30])})
    assert refused.status_code == 400 and refused.json()["detail"].startswith("cut.bcf: ")
    page = signed_in_client.post("/annotate", {"file": SimpleUploadedFile("indels.bcf", bcf)})
    assert page.status_code == 302


def test_the_command_line_makes_a_jobs_checks_and_prints_its_warnings(tmp_path, demo_reference_dir, settings):
    settings.GAS_REFERENCE_DIR = demo_reference_dir
    grch38 = tmp_path / "grch38.vcf"
    grch38.write_text("##fileformat=VCFv4.2\n##contig=<ID=chr20,length=64444167>\n" + HEADER.split("\n", 2)[2]
                      + "chr20\t100000\t.\tA\tG\t50\tPASS\t.\n")  # fmt: skip
    with pytest.raises(CommandError, match="contig lengths are those of GRCh38, and no GRCh38 reference is installed"):
        call_command("annotate", str(grch38), "-o", str(tmp_path / "x.vcf.gz"), "--quiet", stdout=io.StringIO())
    # REF alleles that disagree with the genome, and a contig the reference lacks: the job's warnings
    mixed = tmp_path / "mixed.vcf"
    mixed.write_text(HEADER + "".join(f"20\t{1000000 + n * 1000}\t.\tT\tG\t50\tPASS\t.\n" for n in range(12))
                     + "21\t5000000\t.\tA\tG\t50\tPASS\t.\n")  # fmt: skip
    err = io.StringIO()
    out = tmp_path / "mixed.vcf.out.vcf.gz"
    call_command("annotate", str(mixed), "-o", str(out), "--quiet", stdout=io.StringIO(), stderr=err)
    warnings = err.getvalue()
    assert "have a REF allele that disagrees with the reference genome" in warnings
    assert "1 of 13 records are on contigs the reference does not have (21)" in warnings
    assert (tmp_path / "mixed.vcf.out.count.log").is_file() and (tmp_path / "mixed.vcf.out.summary.json").is_file()
