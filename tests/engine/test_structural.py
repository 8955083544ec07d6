"""Symbolic structural variants: VEP 115.2's own CSQ entries (from the development truth set)
reproduced exactly, and the alleles the engine cannot annotate reported by reason."""

from __future__ import annotations

import json

import pytest

from jobs.annotation.engine import annotate_vcf
from jobs.annotation.sv import MAX_SV_LENGTH, structural_alleles
from tests.engine.conftest import annotate_records, csq_entries, entry_for, write_vcf

TAIL = "||||chr20.sorted.gtf.gz||"

VEP_ENTRIES = [
    (  # a deletion inside an exon of a minus-strand lincRNA: truncation; the span is POS+1 .. POS+|SVLEN|
        ("20", 31237075, "A", "<DEL>", "SVTYPE=DEL;END=31237573;SVLEN=-499"),
        "C20orf203-T1",
        "deletion|feature_truncation&non_coding_transcript_exon_variant|HIGH|C20orf203|C20orf203|Transcript|"
        "C20orf203-T1|lincRNA|3/5||||1508-2006|||||||-1" + TAIL,
    ),
    (  # the whole transcript deleted: ablation, no numbers or positions
        ("20", 44180351, "T", "<DEL>", "SVTYPE=DEL;END=44208015;SVLEN=-27665"),
        "WFDC8-T2",
        "deletion|transcript_ablation|HIGH|WFDC8|WFDC8|Transcript|WFDC8-T2|protein_coding||||||||||||-1" + TAIL,
    ),
    (  # most of a coding transcript, stop codon included
        ("20", 44180351, "T", "<DEL>", "SVTYPE=DEL;END=44208015;SVLEN=-27665"),
        "WFDC8-T1",
        "deletion|stop_lost&feature_truncation&coding_sequence_variant&5_prime_UTR_variant&3_prime_UTR_variant&"
        "intron_variant|HIGH|WFDC8|WFDC8|Transcript|WFDC8-T1|protein_coding|1-6/7|1-6/6||||||||||-1" + TAIL,
    ),
    (  # a duplication inside a transcript reaching an exon: elongation, one end unmapped
        ("20", 20240417, "A", "<DUP>", "SVTYPE=DUP;END=20240747;SVLEN=331"),
        "RP5-1096J16.1-T1",
        "duplication|feature_elongation&non_coding_transcript_exon_variant&intron_variant|HIGH|RP5-1096J16.1|"
        "RP5-1096J16.1|Transcript|RP5-1096J16.1-T1|antisense|2/3|1/2|||?-339|||||||-1" + TAIL,
    ),
    (  # upstream, with the distance from the span
        ("20", 20240417, "A", "<DUP>", "SVTYPE=DUP;END=20240747;SVLEN=331"),
        "C20orf26-T21",
        "duplication|upstream_gene_variant|MODIFIER|C20orf26|C20orf26|Transcript|C20orf26-T21|processed_transcript|"
        "||||||||||2867|1" + TAIL,
    ),
    (  # an insertion with SVLEN spans SVLEN bases from POS + 1, as VEP places it: exons 10-13, one end unmapped
        ("20", 42162011, "C", "<INS>", "SVTYPE=INS;END=42162011;SVLEN=2048"),
        "L3MBTL1-T5",
        "insertion|feature_elongation&coding_sequence_variant&intron_variant|HIGH|L3MBTL1|L3MBTL1|Transcript|"
        "L3MBTL1-T5|protein_coding|10-13/19|10-13/18|||1329-?|1197-?|399-?|||||1" + TAIL,
    ),
    (  # ... and past a transcript's end: no elongation
        ("20", 58521113, "C", "<INS>", "SVTYPE=INS;END=58521113;SVLEN=2813"),
        "FAM217B-T1",
        "insertion|3_prime_UTR_variant|MODIFIER|FAM217B|FAM217B|Transcript|FAM217B-T1|protein_coding|"
        "5/5||||2531-?|||||||1" + TAIL,
    ),
    (  # an inversion over a whole coding transcript
        ("20", 61294471, "C", "<INV>", "SVTYPE=INV;END=61305178;SVLEN=10708"),
        "SLCO4A1-T7",
        "inversion|coding_transcript_variant|MODIFIER|SLCO4A1|SLCO4A1|Transcript|SLCO4A1-T7|protein_coding|"
        "|||||||||||1" + TAIL,
    ),
    (  # an inversion from a coding exon into the next intron: positions mapped end by end
        ("20", 19674068, "T", "<INV>", "SVTYPE=INV;END=19675262;SVLEN=1195"),
        "SLC24A3-T1",
        "inversion|coding_sequence_variant&intron_variant|MODIFIER|SLC24A3|SLC24A3|Transcript|SLC24A3-T1|"
        "protein_coding|13/17|13/16|||1688-?|1491-?|497-?|||||1" + TAIL,
    ),
]


@pytest.mark.parametrize(("record", "feature", "expected"), VEP_ENTRIES, ids=[e[1] for e in VEP_ENTRIES])
def test_structural_variant_entries_match_vep(demo_reference, tmp_path, record, feature, expected):
    entries = annotate_records(demo_reference, tmp_path, [record])
    assert entry_for(entries, feature) == expected


def test_structural_variant_far_from_genes_is_intergenic(demo_reference, tmp_path):
    entries = annotate_records(demo_reference, tmp_path, [("20", 62960000, "A", "<DEL>", "SVTYPE=DEL;END=62960100")])
    assert ["|".join(e[:3]) for e in entries] == ["deletion|intergenic_variant|MODIFIER"]


def test_unannotatable_structural_alleles_are_reported_by_reason(demo_reference, tmp_path):
    records = [
        ("20", 1000000, "A", "A[20:2000000]", "SVTYPE=BND"),
        ("20", 1000100, "A", "<FOO>", "SVTYPE=FOO;END=1000200"),
        ("20", 1000200, "A", "<DEL>", "SVTYPE=DEL"),
        ("20", 1000300, "A", "<DEL>", f"SVTYPE=DEL;END={1000300 + MAX_SV_LENGTH + 5}"),
        ("20", 1000400, "A", "<DUP>,G", "SVTYPE=DUP;END=1000500"),
    ]
    source = write_vcf(tmp_path / "in.vcf", records)
    result = annotate_vcf(source, tmp_path / "out.vcf", demo_reference)
    summary = json.loads(result.summary.read_text())
    assert summary["structural_not_annotated"] == 4
    reasons = "\n".join(summary["structural_not_annotated_examples"])
    assert "line 4: 20:1000000 ALT A[20:2000000]: not a breakend as VCF 4.x section 5.4 writes one" in reasons
    assert "ALT <FOO>: structural variant type not supported" in reasons
    assert "line 6: 20:1000200 ALT <DEL>: no INFO END or SVLEN" in reasons
    assert "bp limit" in reasons
    assert "Structural ALT alleles not annotated: 4" in result.log.read_text()
    # every record is written; the mixed record gets entries for both of its ALTs
    labels = {entry[0] for entry in csq_entries(result.output)}
    assert labels == {"duplication", "G"}
    assert summary["alleles_skipped"] == 0


def test_structural_allele_span_rules():
    (dup,), _ = structural_alleles(100, ["<DUP>"], "SVTYPE=DUP;END=150;SVLEN=51")
    assert (dup.kind, dup.start, dup.end) == ("duplication", 101, 151)  # SVLEN wins over END, as VEP
    (inv,), _ = structural_alleles(100, ["<INV>"], "END=150")
    assert (inv.start, inv.end) == (101, 150)
    (ins,), _ = structural_alleles(100, ["<INS:ME:ALU>"], "SVLEN=300")
    assert (ins.kind, ins.start, ins.end) == ("insertion", 101, 400)  # (VEP: SVLEN bases, as a deletion's)
    (point,), _ = structural_alleles(100, ["<INS>"], "END=100")
    assert (point.start, point.end) == (101, 100)  # without SVLEN, a point between POS and POS + 1
    (tandem,), _ = structural_alleles(100, ["<DUP:TANDEM>"], "END=120")
    assert tandem.kind == "tandem_duplication"
    found, refused = structural_alleles(100, ["<DEL>"], "END=50")
    assert not found and refused == ["ALT <DEL>: END 50 lies before POS 100"]


def test_symbolic_insertion_on_an_exon_boundary_is_annotated(demo_reference, tmp_path):
    from tests.engine.conftest import transcript

    tr = transcript(demo_reference, "SNAP25-T1")
    exon_end = tr.exons[0][1]  # the insertion point lies between the exon's last base and the intron
    record = ("20", exon_end, demo_reference.sequence("20", exon_end, exon_end), "<INS>", f"SVTYPE=INS;END={exon_end}")
    entries = annotate_records(demo_reference, tmp_path, [record])
    assert entry_for(entries, "SNAP25-T1").startswith("insertion|coding_transcript_variant|MODIFIER|SNAP25|")
