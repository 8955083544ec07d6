"""Variants given as HGVS, SPDI, regions or rs ids: resolved against the demo reference into VCF
records (ID = the notation as given), unresolvable ones listed by line and reason, and round trips
that come back annotated exactly as they went in."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.notation_roundtrip import allele_roundtrip, hgvs_roundtrip
from jobs.annotation.engine import annotate_vcf
from jobs.annotation.notations import detect_format, looks_like_notations, notations_to_vcf
from jobs.annotation.sequence import revcomp
from tests.engine.conftest import csq_entries, genomic_of_cds, transcript

DATA = Path(__file__).resolve().parents[1] / "data"


def _records(path: Path) -> list[list[str]]:
    return [line.split("\t")[:8] for line in path.read_text().splitlines() if not line.startswith("#")]


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("20:g.36030940G>A", "hgvs"),
        ("NM_000059.4:c.5946del", "hgvs"),
        ("NM_000059.4(BRCA2):c.68-7T>A", "hgvs"),
        ("BRCA2:c.68-7T>A", "hgvs"),
        ("NC_000020.10:36030939:G:A", "spdi"),
        ("NC_000020.10:36030939:1:", "spdi"),
        ("rs6025", "id"),
        ("20:36030940-36030940/A", "region"),
        ("20:36030940-36030940:-1/T", "region"),
        ("20 36030940 36030940 G/A +", "ensembl"),
        ("##fileformat=VCFv4.2", None),
        ("hello world", None),
    ],
)
def test_formats_are_detected_line_by_line(line, kind):
    assert detect_format(line) == kind


def test_vcf_and_bcf_are_not_notations():
    assert looks_like_notations(b"# pasted\n\n20:g.36030940G>A\nrs6025\n")
    assert not looks_like_notations(b"##fileformat=VCFv4.2\n#CHROM\tPOS\n")
    assert not looks_like_notations(b"\x1f\x8b\x08\x04")
    assert not looks_like_notations(b"CHROM POS ID REF ALT\n")


def test_each_format_becomes_the_same_sorted_vcf_record(demo_reference, tmp_path):
    rs = "rs147063585"  # (20:63426 G>A in the demo dbSNP slice)
    lines = [
        "20:g.36030940G>A",
        "NC_000020.10:g.36030940G>A",
        "NC_000020.10:36030939:G:A",
        "20:36030940-36030940/A",
        "20 36030940 36030940 G/A +",
        "20:36030940-36030940:-1/T",  # (the allele on the minus strand)
        rs,
    ]
    result = notations_to_vcf(lines, tmp_path / "out.vcf", demo_reference)
    assert (result.notations, result.records, result.problems) == (7, 7, [])
    records = _records(tmp_path / "out.vcf")
    assert records[0][:5] == ["20", "63426", rs, "G", "A"]  # sorted by position
    assert {tuple(r[:2] + r[3:5]) for r in records[1:]} == {("20", "36030940", "G", "A")}
    assert [r[2] for r in records[1:]] == [
        "20:g.36030940G>A", "NC_000020.10:g.36030940G>A", "NC_000020.10:36030939:G:A", "20:36030940-36030940/A",
        "20_36030940_36030940_G/A_+", "20:36030940-36030940:-1/T",
    ]  # fmt: skip


def test_indels_and_structural_regions(demo_reference, tmp_path):
    g = demo_reference.sequence
    lines = [
        "20:g.36030940_36030942del",
        "20:g.36030940dup",
        "20:g.36030940_36030941insTT",
        "20:g.36030940_36030942inv",
        "20:g.36030940_36030941delinsA",
        "NC_000020.10:36030939:3:",
        "NC_000020.10:36030940::CC",
        "20:1000000-1002000/DEL",
    ]
    result = notations_to_vcf(lines, tmp_path / "out.vcf", demo_reference)
    assert result.problems == []
    by_id = {r[2]: (int(r[1]), r[3], r[4], r[7]) for r in _records(tmp_path / "out.vcf")}
    span = g("20", 36030940, 36030942)
    assert by_id["20:g.36030940_36030942del"] == (
        36030939,
        g("20", 36030939, 36030939) + span,
        g("20", 36030939, 36030939),
        ".",
    )
    assert by_id["20:g.36030940dup"] == (36030940, span[0], span[0] * 2, ".")
    assert by_id["20:g.36030940_36030941insTT"] == (36030940, span[0], span[0] + "TT", ".")
    assert by_id["20:g.36030940_36030942inv"][1:3] == (
        span,
        "".join({"A": "T", "C": "G", "G": "C", "T": "A"}[b] for b in reversed(span)),
    )
    assert by_id["20:g.36030940_36030941delinsA"] == (36030940, span[:2], "A", ".")
    assert by_id["NC_000020.10:36030939:3:"] == by_id["20:g.36030940_36030942del"]
    assert by_id["NC_000020.10:36030940::CC"] == (36030940, span[0], span[0] + "CC", ".")
    assert by_id["20:1000000-1002000/DEL"] == (999999, g("20", 999999, 999999), "<DEL>", "SVTYPE=DEL;END=1002000")


def test_transcript_positions_come_back_as_the_same_hgvsc(demo_reference, tmp_path):
    """c. positions in the CDS, UTRs and introns of both strands, written back by the engine."""
    plus, minus = transcript(demo_reference, "SNAP25-T1"), transcript(demo_reference, "JAG1-T1")
    assert (plus.strand, minus.strand) == (1, -1)
    lines = []
    for tr in (plus, minus):
        first_exon_end = tr.exons[0][1] if tr.strand == 1 else tr.exons[-1][0]
        for pos in (genomic_of_cds(tr, 10), first_exon_end + 5 * tr.strand, tr.genomic_position(1)):
            base = demo_reference.sequence("20", pos, pos)
            alt = "A" if base != "A" else "C"
            source = tmp_path / "one.vcf"
            source.write_text(
                f"##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n20\t{pos}\t.\t{base}\t{alt}\t.\t.\t.\n"
            )
            entries = csq_entries(annotate_vcf(source, tmp_path / "one.out.vcf", demo_reference).output)
            lines.append(next(e[10] for e in entries if e[6] == tr.transcript_id))
    assert any("+" in line for line in lines) and any("c.-" in line for line in lines)
    result = notations_to_vcf(lines, tmp_path / "back.vcf", demo_reference, fmt="hgvs")
    assert result.problems == []
    entries = csq_entries(annotate_vcf(tmp_path / "back.vcf", tmp_path / "back.out.vcf", demo_reference).output)
    assert set(lines) <= {e[10] for e in entries}


def test_transcript_ids_with_or_without_version(demo_reference, tmp_path):
    """A version that is not the bundle's still finds the transcript; a dot inside an id is no version."""
    lncrna = transcript(demo_reference, "RP5-1103G7.4-T2")
    first = lncrna.genomic_position(1)
    base = demo_reference.sequence("20", first, first)
    base = base if lncrna.strand == 1 else revcomp(base)
    other = "A" if base != "A" else "C"
    lines = ["SRC-T2.7:c.1219G>A", f"RP5-1103G7.4-T2:n.1{base}>{other}", f"RP5-1103G7:n.1{base}>{other}"]
    result = notations_to_vcf(lines, tmp_path / "out.vcf", demo_reference, fmt="hgvs")
    assert sorted(r[2] for r in _records(tmp_path / "out.vcf")) == sorted(lines[:2])
    assert result.problems == [f"line 3: {lines[2]}: unknown transcript or gene RP5-1103G7 (not in reference demo)"]


def test_what_cannot_be_resolved_is_listed_by_line_and_reason(demo_reference, tmp_path):
    at = genomic_of_cds(transcript(demo_reference, "SNAP25-T1"), 10)
    wrong = "G" if demo_reference.sequence("20", at, at) != "G" else "T"
    lines = [
        "# a comment, then a blank line",
        "",
        "NM_000059.4:c.5946del",
        "SNAP25:c.10A>G",
        f"SNAP25-T1:c.10{wrong}>A",
        "SNAP25-T1:p.Met1?",
        "NC_000020.11:g.36030940G>A",
        "20:g.70000000A>G",
        "rs999999999999",
        "not a variant",
        "20:g.36030940G>A",
    ]
    result = notations_to_vcf(lines, tmp_path / "out.vcf", demo_reference)
    assert (result.notations, result.records, result.unresolved) == (9, 1, 8)
    reasons = "\n".join(result.problems)
    assert "line 3: NM_000059.4:c.5946del: unknown transcript or gene NM_000059.4" in reasons
    assert (
        "line 4: SNAP25:c.10A>G: gene SNAP25 has 5 transcripts and none is marked MANE Select or canonical" in reasons
    )
    assert "line 5: SNAP25-T1:c.10" in reasons and "disagrees with the genome, which has" in reasons
    assert (
        "line 6: SNAP25-T1:p.Met1?: a protein change (p.) can only be placed on the genome with a variant database"
        in reasons
    )
    assert (
        "line 7: NC_000020.11:g.36030940G>A: NC_000020.11 is chromosome 20 of GRCh38; this reference is GRCh37"
        in reasons
    )
    assert "line 8: 20:g.70000000A>G: 20:70000000-70000000 lies outside contig 20 (1-63,025,520)" in reasons
    assert "line 9: rs999999999999: rs999999999999 is not in the dbSNP file of reference demo" in reasons
    assert "line 10: not a variant: not a notation GAS reads" in reasons
    assert [line.split(":")[0] for line in result.problems] == [f"line {n}" for n in range(3, 11)]


def test_round_trips_on_real_and_synthetic_files(demo_reference, tmp_path):
    """Every HGVSc GAS writes for the synthetic 10k file and the real vt indels, given back as HGVS,
    returns the same HGVSc; every allele given as SPDI or a region returns the same CSQ entries."""
    for name in ("synthetic_chr20_10k.vcf.gz", "vt_chr20_indels.vcf.gz"):
        annotated = annotate_vcf(DATA / name, tmp_path / f"{name}.out.vcf", demo_reference).output
        report = hgvs_roundtrip(annotated, demo_reference, tmp_path)
        assert report.total > 390 and report.percent >= 99.9, report.text()
        for kind in ("spdi", "region"):
            report = allele_roundtrip(DATA / name, demo_reference, tmp_path, kind)
            assert report.total >= 194 and report.same == report.total, report.text()
