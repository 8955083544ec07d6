"""What the input brought stays (a prior CSQ as PREVIOUS_CSQ), and dbSNP ids reach Existing_variation."""

from __future__ import annotations

import subprocess

import pytest

from jobs.annotation.engine import annotate_vcf
from jobs.annotation.errors import InputFormatError
from tests.engine.conftest import csq_entries

OLD_CSQ_HEADER = (
    '##INFO=<ID=CSQ,Number=.,Type=String,Description="Consequence annotations from Ensembl VEP. '
    'Format: Allele|Consequence|IMPACT">\n'
)
HEADER = "##fileformat=VCFv4.2\n##contig=<ID=20,length=63025520>\n"
COLUMNS = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"


def dbsnp_site(demo_reference_dir):
    import gzip

    with gzip.open(demo_reference_dir / "demo" / "dbsnp.vcf.gz", "rt") as handle:
        for line in handle:
            if not line.startswith("#"):
                _chrom, pos, rs, ref, alt = line.split("\t")[:5]
                if len(ref) == 1 and len(alt) == 1:
                    return int(pos), rs, ref, alt
    raise AssertionError("no SNV in the demo dbSNP")


def test_a_prior_csq_is_kept_as_previous_csq_with_its_header(demo_reference, tmp_path):
    source = tmp_path / "old.vcf"
    source.write_text(
        HEADER + OLD_CSQ_HEADER + '##VEP="v85"\n' + COLUMNS
        + "20\t71381\t.\tA\tT\t.\t.\tDP=3;CSQ=T|old_term|LOW\n1\t100\t.\tA\tG\t.\t.\tCSQ=G|kept|LOW\n"
    )  # fmt: skip
    result = annotate_vcf(source, tmp_path / "out.vcf", demo_reference)
    text = result.output.read_text()
    assert '##VEP="v85"' in text
    assert "##INFO=<ID=PREVIOUS_CSQ,Number=.,Type=String,Description=\"The input's CSQ before GAS" in text
    data = [line.split("\t") for line in text.splitlines() if not line.startswith("#")]
    assert data[0][7].startswith("DP=3;PREVIOUS_CSQ=T|old_term|LOW;CSQ=T|")
    assert data[1][7] == "PREVIOUS_CSQ=G|kept|LOW"  # (a contig the reference lacks: kept too)
    listed = subprocess.run(["bcftools", "+split-vep", "-l", str(result.output)], capture_output=True, text=True)
    if listed.returncode == 0:  # (bcftools in CI)
        assert "Existing_variation" in listed.stdout


def test_a_file_with_csq_and_previous_csq_is_refused(demo_reference, tmp_path):
    source = tmp_path / "twice.vcf"
    previous = OLD_CSQ_HEADER.replace("ID=CSQ,", "ID=PREVIOUS_CSQ,")
    source.write_text(HEADER + OLD_CSQ_HEADER + previous + COLUMNS + "20\t71381\t.\tA\tT\t.\t.\t.\n")
    with pytest.raises(InputFormatError, match="has both CSQ and PREVIOUS_CSQ"):
        annotate_vcf(source, tmp_path / "out.vcf", demo_reference)


def test_existing_variation_carries_the_allele_matched_ids(demo_reference, demo_reference_dir, tmp_path):
    pos, rs, ref, alt = dbsnp_site(demo_reference_dir)
    other = next(base for base in "ACGT" if base not in (ref, alt))
    source = tmp_path / "in.vcf"
    source.write_text(HEADER + COLUMNS + f"20\t{pos}\t.\t{ref}\t{alt},{other}\t.\t.\t.\n")
    result = annotate_vcf(source, tmp_path / "out.vcf", demo_reference)
    entries = csq_entries(result.output)
    assert {e[17] for e in entries if e[0] == alt} == {rs}  # every entry of the matching allele
    assert {e[17] for e in entries if e[0] == other} == {""}  # not the other ALT
    assert result.output.read_text().splitlines()[-1].split("\t")[2] == rs  # and the ID column
    bare = annotate_vcf(source, tmp_path / "bare.vcf", demo_reference, fill_id=False)
    assert bare.output.read_text().splitlines()[-1].split("\t")[2] == "."
    assert {e[17] for e in csq_entries(bare.output) if e[0] == alt} == {rs}
