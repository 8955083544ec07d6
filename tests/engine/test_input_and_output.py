"""Malformed input gets a precise error and no output; good input comes back intact plus annotations."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from jobs.annotation.engine import CHUNK_BYTES, annotate_vcf
from jobs.annotation.errors import InputFormatError
from tests.engine.conftest import HEADER, write_vcf

SHARED_LIKE_RECORDS = [
    ("20", 71381, "A", "T", "SYN"),
    ("20", 77390, "A", "AG", "SYN;DP=10"),
    ("20", 81723, "G", "A", "."),
]


def annotate_text(reference, tmp_path: Path, text: str, name: str = "in.vcf"):
    path = tmp_path / name
    path.write_text(text)
    return annotate_vcf(path, tmp_path / "out.vcf", reference)


@pytest.mark.parametrize(
    "text, line, problem",
    [
        ("hello world\n", 1, "not a VCF: the first line must be ##fileformat=VCFv4.x"),
        ("", None, "the file is empty"),
        ("##fileformat=VCFv4.2\n20\t100\t.\tA\tG\t.\t.\t.\n", 2, "expected the #CHROM column header"),
        (HEADER + "20\t100\t.\tA\tG\t.\t.\n", 4, "expected 8 tab-separated columns as in the #CHROM header, found 7"),
        (HEADER + "20\t1x0\t.\tA\tG\t.\t.\t.\n", 4, "POS must be a whole number, found '1x0'"),
        (HEADER + "20\t100\t.\tA\tG\t.\t.\t.\n20\t200\t.\tAZ\tG\t.\t.\t.\n", 5, "REF must be bases A, C, G, T or N"),
        (HEADER + "20\t100\t.\tA\tG,X\t.\t.\t.\n", 4, "ALT 'X' is not a base string"),
        ("##fileformat=VCFv4.2\n#CHROM\tPOS\tREF\n", 2, "the column header must start #CHROM POS ID REF ALT"),
        ("##fileformat=VCFv4.2\n##INFO=<ID=X>\n", None, "no #CHROM column header line"),
    ],
)
def test_malformed_vcf_names_line_and_problem(demo_reference, tmp_path, text, line, problem):
    with pytest.raises(InputFormatError) as caught:
        annotate_text(demo_reference, tmp_path, text, name="bad.vcf")
    assert caught.value.line_number == line
    assert problem in str(caught.value)
    assert str(caught.value).startswith("bad.vcf")
    assert not (tmp_path / "out.vcf").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["bad.vcf"]  # no partial output left behind


def test_truncated_gzip_is_reported(demo_reference, tmp_path):
    records = [("20", 60000 + i * 100, "A", "G") for i in range(3000)]
    whole = write_vcf(tmp_path / "whole.vcf.gz", records)
    data = whole.read_bytes()
    cut = tmp_path / "cut.vcf.gz"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputFormatError, match="ends unexpectedly"):
        annotate_vcf(cut, tmp_path / "out.vcf", demo_reference)
    assert not (tmp_path / "out.vcf").exists()


def test_binary_garbage_is_not_a_vcf(demo_reference, tmp_path):
    path = tmp_path / "x.vcf"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe")
    with pytest.raises(InputFormatError, match="not"):
        annotate_vcf(path, tmp_path / "out.vcf", demo_reference)


def test_records_are_unchanged_apart_from_id_and_info(demo_reference, tmp_path):
    header = HEADER.replace("#CHROM", '##INFO=<ID=DP,Number=1,Type=Integer,Description="depth">\n#CHROM')
    header = header.replace("INFO\n", "INFO\tFORMAT\tS1\tS2\n")
    lines = [header.rstrip("\n")]
    for chrom, pos, ref, alt, info in SHARED_LIKE_RECORDS:
        lines.append(f"{chrom}\t{pos}\t.\t{ref}\t{alt}\t50.5\tPASS\t{info}\tGT:DP\t0/1:12\t1/1:.")
    lines.append("22\t16050075\trs1\tA\tG\t.\t.\t.\tGT:DP\t0/0:3\t./.:.")  # contig the reference lacks
    lines.append("20\t100000\t.\tA\t.\t.\t.\t.\tGT:DP\t0/0:3\t0/0:4")  # no ALT
    source = tmp_path / "in.vcf"
    source.write_text("\n".join(lines) + "\n")
    result = annotate_vcf(source, tmp_path / "out.vcf.gz", demo_reference)
    with gzip.open(result.output, "rt") as handle:
        out = [line.rstrip("\n") for line in handle]
    body_in = [line.split("\t") for line in lines if not line.startswith("#")]
    body_out = [line.split("\t") for line in out if not line.startswith("#")]
    assert len(body_in) == len(body_out)
    for before, after in zip(body_in, body_out, strict=True):
        assert before[:2] + before[3:7] + before[8:] == after[:2] + after[3:7] + after[8:]
        if before[7] != ".":
            assert after[7].startswith(before[7])
    assert "CSQ=" not in body_out[3][7] and body_out[3][7] == "."  # chr22: passed through
    assert "CSQ=" not in body_out[4][7]
    assert any(line.startswith("##INFO=<ID=CSQ,") for line in out)
    assert out[out.index(next(line for line in out if line.startswith("#CHROM")))].endswith("S1\tS2")
    summary = json.loads(result.summary.read_text())
    assert summary["records"] == 5
    assert summary["uncovered_contigs"] == {"22": 1}
    log = result.log.read_text()
    assert "Total variants (records): 5" in log and "22: 1" in log


def test_dbsnp_ids_fill_the_id_column(demo_reference, tmp_path):
    # rs147063585 is 20:63426 G>A in the demo dbSNP slice
    path = write_vcf(tmp_path / "in.vcf", [("20", 63426, "G", "A"), ("20", 63426, "G", "C")])
    result = annotate_vcf(path, tmp_path / "out.vcf", demo_reference)
    ids = [line.split("\t")[2] for line in result.output.read_text().splitlines() if not line.startswith("#")]
    assert ids == ["rs147063585", "."]
    assert result.stats.records_in_dbsnp == 1


def test_ref_mismatch_is_counted_and_reported(demo_reference, tmp_path):
    base = demo_reference.sequence("20", 63426, 63426)
    wrong = "A" if base != "A" else "C"
    path = write_vcf(tmp_path / "in.vcf", [("20", 63426, wrong, "T")])
    result = annotate_vcf(path, tmp_path / "out.vcf", demo_reference)
    assert result.stats.ref_mismatches == 1
    assert f"REF {wrong} but the genome has {base}" in result.log.read_text()


def test_progress_is_reported_up_to_one(demo_reference, tmp_path):
    records = [("20", 60000 + i * 37, "A", "G") for i in range(5000)]
    path = write_vcf(tmp_path / "in.vcf.gz", records)
    seen: list[float] = []
    annotate_vcf(path, tmp_path / "out.vcf", demo_reference, progress=seen.append)
    assert seen[-1] == 1.0
    assert seen == sorted(seen) and len(seen) >= 3


def _bcftools() -> str:
    path = shutil.which("bcftools")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("bcftools is required in CI (.ci/run installs it)")
        pytest.skip("bcftools is not installed (apt-get install bcftools)")
    return path


@pytest.mark.slow
def test_bcftools_split_vep_reads_the_output(demo_reference, tmp_path):
    bcftools = _bcftools()
    records = [("20", 71381, "A", "T"), ("20", 77390, "A", "AG"), ("20", 123273, "A", "T")]
    path = write_vcf(tmp_path / "in.vcf", records)
    result = annotate_vcf(path, tmp_path / "out.vcf.gz", demo_reference)
    listing = subprocess.run([bcftools, "+split-vep", "-l", str(result.output)], capture_output=True, text=True)
    assert listing.returncode == 0, listing.stderr
    names = [line.split("\t")[1] for line in listing.stdout.splitlines()]
    assert names[:4] == ["Allele", "Consequence", "IMPACT", "SYMBOL"] and "HGVS_OFFSET" in names
    rows = subprocess.run(
        [bcftools, "+split-vep", "-f", "%CHROM %POS %Consequence %Feature\n", "-d", str(result.output)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert rows.returncode == 0, rows.stderr
    assert "20 123273 stop_gained DEFB126-T1" in rows.stdout.splitlines()


def test_bundle_checksum_is_reproducible(demo_reference, tmp_path):
    from jobs.annotation.reference import Reference, import_reference
    from tests.conftest import DEMO, DEMO_SOURCE_NAME

    import_reference(
        name="demo", build="GRCh37", gene_model=DEMO / "GRCh37.chr20.gencode19.gtf.gz",
        fasta=DEMO / "GRCh37.chr20.fa.gz", dbsnp=DEMO / "dbsnp_common_GRCh37.chr20.vcf.gz",
        destination=tmp_path / "again", source_name=DEMO_SOURCE_NAME,
    )  # fmt: skip
    assert Reference(tmp_path / "again").checksum == demo_reference.checksum


@pytest.mark.slow
def test_several_processes_give_the_same_output(demo_reference, tmp_path):
    """10,000 records in several chunks over 2 worker processes: identical VCF, log and summary."""
    source = Path(__file__).resolve().parents[1] / "data" / "synthetic_chr20_10k.vcf.gz"
    one = annotate_vcf(source, tmp_path / "one.vcf", demo_reference)
    two = annotate_vcf(source, tmp_path / "two.vcf", demo_reference, processes=2)
    assert one.output.read_text() == two.output.read_text()
    without_time = [json.loads(p.read_text()) for p in (one.summary, two.summary)]
    for data in without_time:
        data.pop("seconds"), data.pop("variants_per_second")
    assert without_time[0] == without_time[1]
    assert two.stats.records == 10000


@pytest.mark.parametrize("processes", [1, 2])
@pytest.mark.parametrize("name", ["in.vcf", "in.vcf.gz"])
def test_an_error_far_into_the_file_names_its_line(demo_reference, tmp_path, processes, name):
    """The bad line lies several read chunks in: its number is still exact, plain or gzipped, with
    one process or several."""
    lines = [HEADER.rstrip("\n")] + [f"20\t{60000 + i}\t.\tA\tG\t50\tPASS\t." for i in range(10000)]
    lines.append("20\tbad\t.\tA\tG\t50\tPASS\t.")
    text = "\n".join(lines) + "\n"
    assert len(text) > 2 * CHUNK_BYTES
    path = tmp_path / name
    if name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    with pytest.raises(InputFormatError, match="line 10004: POS must be a whole number"):
        annotate_vcf(path, tmp_path / "out.vcf", demo_reference, processes=processes)
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no output, no parts left behind


@pytest.mark.slow
def test_several_processes_write_a_valid_bgzip_file(demo_reference, tmp_path):
    """With bgzip output the workers compress their own parts: the joined file reads as the serial
    output does (pysam, and tabix can index it), has one end-of-file block, and no part is left."""
    import pysam

    source = Path(__file__).resolve().parents[1] / "data" / "synthetic_chr20_10k.vcf.gz"
    one = annotate_vcf(source, tmp_path / "one.vcf.gz", demo_reference)
    (tmp_path / "two").mkdir()
    two = annotate_vcf(source, tmp_path / "two" / "two.vcf.gz", demo_reference, processes=2)
    with gzip.open(one.output, "rt") as a, gzip.open(two.output, "rt") as b:
        assert a.read() == b.read()
    data = two.output.read_bytes()
    eof = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
    assert data.endswith(eof) and data.count(eof) == 1
    pysam.tabix_index(str(two.output), preset="vcf")
    with pysam.TabixFile(str(two.output)) as indexed:
        assert len(list(indexed.fetch("20"))) == 10000
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == [
        "two.count.log", "two.summary.json", "two.vcf.gz", "two.vcf.gz.tbi",
    ]  # fmt: skip


def test_non_utf8_bytes_in_the_data_name_their_line(demo_reference, tmp_path):
    lines = [HEADER.rstrip("\n").encode()]
    lines += [f"20\t{60000 + i}\t.\tA\tG\t50\tPASS\t.".encode() for i in range(3000)]
    lines[2500] = b"20\t62499\t.\tA\tG\t50\tPASS\tNOTE=caf\xe9"  # Latin-1, not UTF-8
    path = tmp_path / "in.vcf"
    path.write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(InputFormatError, match="line 2503: is not a text VCF"):
        annotate_vcf(path, tmp_path / "out.vcf", demo_reference)


def test_crlf_lines_a_missing_last_newline_and_a_line_longer_than_a_chunk(demo_reference, tmp_path):
    """Windows line ends and a final line without its newline read as usual; a record longer than a
    read chunk (a long INFO) comes back whole."""
    long_info = "NOTE=" + "x" * (3 * CHUNK_BYTES)
    records = [("20", 71381, "A", "T"), ("20", 77390, "A", "AG", long_info), ("20", 81723, "G", "A")]
    reference_run = annotate_vcf(write_vcf(tmp_path / "lf.vcf", records), tmp_path / "lf.out.vcf", demo_reference)
    text = (tmp_path / "lf.vcf").read_text()
    (tmp_path / "crlf.vcf").write_bytes(text.rstrip("\n").replace("\n", "\r\n").encode())
    crlf_run = annotate_vcf(tmp_path / "crlf.vcf", tmp_path / "crlf.out.vcf", demo_reference)
    assert crlf_run.stats.records == 3
    assert crlf_run.output.read_text() == reference_run.output.read_text()
    data_lines = [line for line in crlf_run.output.read_text().splitlines() if not line.startswith("#")]
    assert data_lines[1].split("\t")[7].startswith(long_info + ";CSQ=")


def test_sample_columns_pass_through_and_are_counted(demo_reference, tmp_path):
    """FORMAT and the sample columns come back as they were, however many; a line with one sample
    column too many or too few is an error naming the counts."""
    samples = [f"S{i}" for i in range(40)]
    header = HEADER.replace("INFO\n", "INFO\tFORMAT\t" + "\t".join(samples) + "\n")
    genotypes = "\t".join(["0/1:12", "1/1:7", "./.:."] * 13 + ["0/0:30"])
    line = f"20\t71381\t.\tA\tT\t50\tPASS\tDP=9\tGT:DP\t{genotypes}"
    (tmp_path / "in.vcf").write_text(header + line + "\n")
    result = annotate_vcf(tmp_path / "in.vcf", tmp_path / "out.vcf", demo_reference)
    out_line = next(text for text in result.output.read_text().splitlines() if not text.startswith("#"))
    columns = out_line.split("\t")
    assert len(columns) == 49 and columns[8:] == line.split("\t")[8:]
    assert columns[7].startswith("DP=9;CSQ=T|")
    for bad, found in ((line + "\t0/1:3", 50), (line.rsplit("\t", 1)[0], 48)):
        (tmp_path / "bad.vcf").write_text(header + bad + "\n")
        with pytest.raises(InputFormatError, match=f"line 4: expected 49 tab-separated columns .*, found {found}"):
            annotate_vcf(tmp_path / "bad.vcf", tmp_path / "bad.out.vcf", demo_reference)


def test_a_large_output_is_compressed_by_a_helper_process_to_the_same_bytes(demo_reference, tmp_path, monkeypatch):
    """From OFFLOAD_MIN_INPUT_BYTES of input, bgzip is written by a helper process fed through a
    pipe (so it runs on another core): the very bytes the engine writes itself; a helper that fails
    fails the run with an OSError that says so, and leaves no output."""
    from jobs.annotation import engine

    source = Path(__file__).resolve().parents[1] / "data" / "synthetic_chr20_10k.vcf.gz"
    own = annotate_vcf(source, tmp_path / "own.vcf.gz", demo_reference)
    monkeypatch.setattr(engine, "OFFLOAD_MIN_INPUT_BYTES", {"compressed": 0, "plain": 0})
    helped = annotate_vcf(source, tmp_path / "helped.vcf.gz", demo_reference)
    assert own.output.read_bytes() == helped.output.read_bytes()
    assert json.loads(helped.summary.read_text())["records"] == 10000
    monkeypatch.setattr(engine, "_COMPRESSOR", "import sys\nsys.stdin.close()\nsys.exit(3)\n")
    with pytest.raises(OSError, match=r"the output compressor (stopped|failed) \(exit status 3\)"):
        annotate_vcf(source, tmp_path / "failed.vcf.gz", demo_reference)
    assert not (tmp_path / "failed.vcf.gz").exists() and not (tmp_path / ".failed.vcf.gz.partial").exists()
