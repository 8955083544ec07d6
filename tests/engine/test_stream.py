"""The streaming command for Spark (issue 32, item 3): VCF on stdin, VCF with CSQ or VEP's JSON on
stdout, the exit status and standard error as a pipeline expects."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

from jobs.annotation.engine import annotate_vcf

ROOT = Path(__file__).resolve().parents[2]
INDELS = ROOT / "tests" / "data" / "vt_chr20_indels.vcf.gz"


def stream(args: list[str], data: bytes, reference_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "jobs.annotation.stream", "--reference", "demo", "--references", str(reference_dir),
         *args], input=data, capture_output=True, cwd=ROOT, timeout=120,
    )  # fmt: skip


def hail_style(records: list[str]) -> bytes:
    """What hl.vep writes to VEP: a 4.1 header with FORMAT and no samples, rows of 8 columns, INFO "GT"."""
    lines = ["##fileformat=VCFv4.1", "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT", *records]
    return ("\n".join(lines) + "\n").encode()


def test_vcf_out_is_the_engines_output_with_the_id_column_as_given(tmp_path, demo_reference_dir, demo_reference):
    data = gzip.decompress(INDELS.read_bytes())
    answer = stream(["--vcf"], data, demo_reference_dir)
    assert answer.returncode == 0, answer.stderr.decode()
    source = tmp_path / "in.vcf"
    source.write_bytes(data)
    expected = annotate_vcf(source, tmp_path / "out.vcf", demo_reference, input_name="standard input", fill_id=False)
    assert answer.stdout == expected.output.read_bytes()
    assert answer.stdout.count(b"CSQ=") == 194


def test_json_out_has_veps_shape_one_line_per_variant(demo_reference_dir):
    rows = ["20\t36030940\t.\tG\tA\t.\t.\tGT", "20\t421808\trs1\tA\tACCA\t.\t.\tGT",
            "20\t1292033\t.\tCTTGT\tC,CT\t.\t.\tGT", "20\t183383\t.\tC\tT\t.\t.\tGT"]  # fmt: skip
    answer = stream(["--json", "--canonical"], hail_style(rows), demo_reference_dir)
    assert answer.returncode == 0, answer.stderr.decode()
    records = [json.loads(line) for line in answer.stdout.decode().splitlines()]
    assert [r["input"] for r in records] == rows
    snv, insertion, deletions, intergenic = records
    assert (snv["seq_region_name"], snv["start"], snv["end"], snv["allele_string"], snv["strand"]) == (
        "20", 36030940, 36030940, "G/A", 1)  # fmt: skip
    assert (insertion["start"], insertion["end"], insertion["allele_string"], insertion["id"]) == (
        421809, 421808, "-/CCA", "rs1")  # fmt: skip
    assert (deletions["start"], deletions["end"], deletions["allele_string"]) == (1292034, 1292037, "TTGT/-/T")
    assert snv["most_severe_consequence"] == "missense_variant"
    missense = [t for t in snv["transcript_consequences"] if "missense_variant" in t["consequence_terms"]]
    assert missense and all(t["variant_allele"] == "A" and t["transcript_id"].startswith("SRC-") for t in missense)
    assert all({"impact", "gene_id", "biotype", "strand"} <= set(t) for t in snv["transcript_consequences"])
    assert all(t["amino_acids"] == "D/N" and t["protein_start"] == t["protein_end"] for t in missense)
    assert intergenic["intergenic_consequences"][0]["consequence_terms"] == ["intergenic_variant"]


def test_bad_input_exits_1_naming_the_line_and_an_empty_input_gives_nothing(demo_reference_dir):
    answer = stream(["--vcf"], hail_style(["20\tnot-a-number\t.\tG\tA\t.\t.\tGT"]), demo_reference_dir)
    assert answer.returncode == 1 and answer.stdout == b""
    assert b"line 3: POS must be a whole number" in answer.stderr
    assert stream(["--json"], b"", demo_reference_dir).returncode == 0
    unknown = subprocess.run([sys.executable, "-m", "jobs.annotation.stream", "--reference", "nowhere", "--vcf"],
                             input=b"", capture_output=True, cwd=ROOT)  # fmt: skip
    assert unknown.returncode == 1 and b"reference 'nowhere'" in unknown.stderr
