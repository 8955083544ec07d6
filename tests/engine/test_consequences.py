"""Each consequence class on hand-checked chr20 examples, plus and minus strand.

DEFB126-T1 (+): exons 123010-123327 and 126056-126392, CDS 123270..126333 (cDNA 261..596),
starting ATG AAG TCC (M K S) and ending TGA. FASTKD5-T1 (-): CDS 3127422..3129716, starting
ATG GCA GCT (M A A). Expectations below were worked out by hand from those sequences.
"""

from __future__ import annotations

import pytest

from tests.engine.conftest import annotate_records, entry_for, genomic, genomic_of_cds, transcript

COMPLEMENT = {"A": "T", "C": "G", "G": "C", "T": "A"}


def one(reference, tmp_path, pos, ref, alt, feature, chrom="20"):
    entries = annotate_records(reference, tmp_path, [(chrom, pos, ref, alt)])
    return entry_for(entries, feature).split("|")


def fields(entry):
    """(Consequence, IMPACT, HGVSc, HGVSp, Amino_acids, Codons, DISTANCE)."""
    return entry[1], entry[2], entry[10], entry[11], entry[15], entry[16], entry[18]


@pytest.fixture
def defb126(demo_reference):
    return transcript(demo_reference, "DEFB126-T1")


def test_start_lost_plus_strand(demo_reference, tmp_path, defb126):
    pos = genomic_of_cds(defb126, 2)
    assert demo_reference.sequence("20", pos - 1, pos + 1) == "ATG"
    entry = one(demo_reference, tmp_path, pos, "T", "C", "DEFB126-T1")
    assert fields(entry) == ("start_lost", "HIGH", "DEFB126-T1:c.2T>C", ".1:p.Met1?", "M/T", "aTg/aCg", "")


def test_stop_gained_and_missense_plus_strand(demo_reference, tmp_path, defb126):
    pos = genomic_of_cds(defb126, 4)  # codon 2 AAG (Lys)
    stop = one(demo_reference, tmp_path, pos, "A", "T", "DEFB126-T1")
    assert fields(stop) == ("stop_gained", "HIGH", "DEFB126-T1:c.4A>T", ".1:p.Lys2Ter", "K/*", "Aag/Tag", "")
    missense = one(demo_reference, tmp_path, pos, "A", "G", "DEFB126-T1")
    assert fields(missense) == (
        "missense_variant",
        "MODERATE",
        "DEFB126-T1:c.4A>G",
        ".1:p.Lys2Glu",
        "K/E",
        "Aag/Gag",
        "",
    )
    assert missense[12:15] == ["264", "4", "2"]  # cDNA, CDS, protein positions


def test_stop_lost_plus_strand(demo_reference, tmp_path, defb126):
    pos = genomic_of_cds(defb126, 334)  # the T of the TGA stop codon
    assert demo_reference.sequence("20", pos, pos + 2) == "TGA"
    entry = one(demo_reference, tmp_path, pos, "T", "C", "DEFB126-T1")
    consequence, impact, hgvsc, hgvsp, amino, codons, _ = fields(entry)
    assert (consequence, impact, hgvsc, amino, codons) == ("stop_lost", "HIGH", "DEFB126-T1:c.334T>C", "*/R", "Tga/Cga")
    assert hgvsp.startswith(".1:p.Ter112ArgextTer")


def test_utr_variants(demo_reference, tmp_path, defb126):
    five = genomic(defb126, defb126.ccs - 5)
    base = demo_reference.sequence("20", five, five)
    alt = "A" if base != "A" else "C"
    entry = one(demo_reference, tmp_path, five, base, alt, "DEFB126-T1")
    assert fields(entry)[:4] == ("5_prime_UTR_variant", "MODIFIER", f"DEFB126-T1:c.-5{base}>{alt}", "")
    three = genomic(defb126, defb126.cce + 10)
    base = demo_reference.sequence("20", three, three)
    alt = "A" if base != "A" else "C"
    entry = one(demo_reference, tmp_path, three, base, alt, "DEFB126-T1")
    assert fields(entry)[:4] == ("3_prime_UTR_variant", "MODIFIER", f"DEFB126-T1:c.*10{base}>{alt}", "")


def test_intron_splice_region_and_acceptor(demo_reference, tmp_path, defb126):
    intron_start, intron_end = 123328, 126055
    deep = intron_start + 1000
    base = demo_reference.sequence("20", deep, deep)
    alt = "A" if base != "A" else "C"
    entry = one(demo_reference, tmp_path, deep, base, alt, "DEFB126-T1")
    assert fields(entry)[:3] == ("intron_variant", "MODIFIER", f"DEFB126-T1:c.58+1001{base}>{alt}")
    assert entry[9] == "1/1"
    region = intron_start + 6  # +7
    base = demo_reference.sequence("20", region, region)
    alt = "A" if base != "A" else "C"
    entry = one(demo_reference, tmp_path, region, base, alt, "DEFB126-T1")
    assert fields(entry)[:2] == ("splice_region_variant&intron_variant", "LOW")
    acceptor = intron_end  # -1
    base = demo_reference.sequence("20", acceptor, acceptor)
    alt = "A" if base != "A" else "C"
    entry = one(demo_reference, tmp_path, acceptor, base, alt, "DEFB126-T1")
    assert fields(entry)[:3] == ("splice_acceptor_variant", "HIGH", f"DEFB126-T1:c.59-1{base}>{alt}")


def test_upstream_and_downstream_with_distance(demo_reference, tmp_path, defb126):
    up = defb126.start - 100
    base = demo_reference.sequence("20", up, up)
    alt = "A" if base != "A" else "C"
    entry = one(demo_reference, tmp_path, up, base, alt, "DEFB126-T1")
    assert fields(entry) == ("upstream_gene_variant", "MODIFIER", "", "", "", "", "100")
    down = defb126.end + 200
    base = demo_reference.sequence("20", down, down)
    alt = "A" if base != "A" else "C"
    entry = one(demo_reference, tmp_path, down, base, alt, "DEFB126-T1")
    assert fields(entry) == ("downstream_gene_variant", "MODIFIER", "", "", "", "", "200")


def test_frameshift_deletion_plus_strand(demo_reference, tmp_path, defb126):
    pos = genomic_of_cds(defb126, 6)  # delete c.7 (the T of TCC, Ser3)
    ref = demo_reference.sequence("20", pos, pos + 1)
    entry = one(demo_reference, tmp_path, pos, ref, ref[0], "DEFB126-T1")
    consequence, impact, hgvsc, hgvsp, amino, codons, _ = fields(entry)
    assert (consequence, impact) == ("frameshift_variant", "HIGH")
    assert hgvsc == "DEFB126-T1:c.7del"
    assert hgvsp.startswith(".1:p.Ser3") and "fsTer" in hgvsp
    assert codons == "Tcc/cc" and amino == "S/X"


def test_minus_strand_start_lost_and_missense(demo_reference, tmp_path):
    tr = transcript(demo_reference, "FASTKD5-T1")
    first = genomic_of_cds(tr, 1)  # the A of ATG, highest genomic base of the codon
    assert demo_reference.sequence("20", first - 2, first) == "CAT"
    entry = one(demo_reference, tmp_path, first, "T", "C", "FASTKD5-T1")
    assert fields(entry) == ("start_lost", "HIGH", "FASTKD5-T1:c.1A>G", ".1:p.Met1?", "M/V", "Atg/Gtg", "")
    fourth = genomic_of_cds(tr, 4)  # G of GCA (Ala2); genome shows its complement C
    assert demo_reference.sequence("20", fourth, fourth) == "C"
    entry = one(demo_reference, tmp_path, fourth, "C", "T", "FASTKD5-T1")
    assert fields(entry) == ("missense_variant", "MODERATE", "FASTKD5-T1:c.4G>A", ".1:p.Ala2Thr", "A/T", "Gca/Aca", "")
    assert entry[19] == "-1"


def test_non_coding_exon(demo_reference, tmp_path):
    tr = transcript(demo_reference, "ITPA-T1")
    pos = genomic(tr, 100)
    base = demo_reference.sequence("20", pos, pos)
    alt = "A" if base != "A" else "C"
    entry = one(demo_reference, tmp_path, pos, base, alt, "ITPA-T1")
    assert fields(entry)[:3] == ("non_coding_transcript_exon_variant", "MODIFIER", f"ITPA-T1:n.100{base}>{alt}")
    assert entry[12] == "100"


def test_intergenic(demo_reference, tmp_path):
    index = demo_reference.index("20")
    pos = next(p for p in range(30_100_000, 40_000_000, 10_000) if not index.near(p, p))
    base = demo_reference.sequence("20", pos, pos)
    assert base in "ACT"
    entries = annotate_records(demo_reference, tmp_path, [("20", pos, base, "G")])
    assert ["|".join(entry) for entry in entries] == ["G|intergenic_variant|MODIFIER" + "|" * 23]


def test_multi_allelic_record_gets_an_entry_per_allele(demo_reference, tmp_path, defb126):
    pos = genomic_of_cds(defb126, 4)
    entries = annotate_records(demo_reference, tmp_path, [("20", pos, "A", "T,G,*")])
    mine = [(entry[0], entry[1]) for entry in entries if entry[6] == "DEFB126-T1"]
    assert mine == [("T", "stop_gained"), ("G", "missense_variant")]  # '*' gets no entry


def test_chr_prefixed_input_matches_bare_contig(demo_reference, tmp_path, defb126):
    pos = genomic_of_cds(defb126, 4)
    bare = annotate_records(demo_reference, tmp_path, [("20", pos, "A", "G")])
    prefixed = annotate_records(demo_reference, tmp_path, [("chr20", pos, "A", "G")])
    assert bare == prefixed and bare


def test_indel_padding_and_trimming(demo_reference, tmp_path, defb126):
    """VCF padding bases are trimmed: Allele is the inserted bases or '-' for a deletion."""
    pos = genomic_of_cds(defb126, 3)
    ref = demo_reference.sequence("20", pos, pos + 3)
    entries = annotate_records(
        demo_reference, tmp_path, [("20", pos, ref, ref[0]), ("20", pos, ref[0], ref[0] + "GGG")]
    )
    mine = [(entry[0], entry[1], entry[13]) for entry in entries if entry[6] == "DEFB126-T1"]
    assert mine[0] == ("-", "inframe_deletion", "4-6")
    assert mine[1][0] == "GGG" and mine[1][1] == "inframe_insertion"


def _snv(reference, pos):
    base = reference.sequence("20", pos, pos)
    return base, ("A" if base != "A" else "C")


@pytest.mark.parametrize(
    "offset, terms, impact, hgvs",
    [
        (1, "splice_donor_variant", "HIGH", "c.58+1"),
        (3, "splice_donor_region_variant&intron_variant", "LOW", "c.58+3"),
        (5, "splice_donor_5th_base_variant&intron_variant", "LOW", "c.58+5"),
        (7, "splice_region_variant&intron_variant", "LOW", "c.58+7"),
        (-10, "splice_polypyrimidine_tract_variant&intron_variant", "LOW", "c.59-10"),
        (-5, "splice_region_variant&splice_polypyrimidine_tract_variant&intron_variant", "LOW", "c.59-5"),
        (-2, "splice_acceptor_variant", "HIGH", "c.59-2"),
    ],
)
def test_splice_zones_plus_strand(demo_reference, tmp_path, defb126, offset, terms, impact, hgvs):
    """DEFB126-T1's only intron is 123328..126055: donor +1 = 123328, acceptor -1 = 126055."""
    pos = 123327 + offset if offset > 0 else 126056 + offset
    base, alt = _snv(demo_reference, pos)
    entry = one(demo_reference, tmp_path, pos, base, alt, "DEFB126-T1")
    assert (entry[1], entry[2], entry[10]) == (terms, impact, f"DEFB126-T1:{hgvs}{base}>{alt}")


def test_stop_retained_plus_strand(demo_reference, tmp_path, defb126):
    pos = genomic_of_cds(defb126, 335)  # TGA -> TAA keeps the stop
    entry = one(demo_reference, tmp_path, pos, "G", "A", "DEFB126-T1")
    assert fields(entry)[:6] == (
        "stop_retained_variant", "LOW", "DEFB126-T1:c.335G>A", ".1:p.Ter112%3D", "*", "tGa/tAa",
    )  # fmt: skip


def test_protein_altering_delins(demo_reference, tmp_path, defb126):
    pos = genomic_of_cds(defb126, 4)  # codon 2 AAG (Lys) becomes CCC GGG (Pro Gly): in frame, not an insertion
    assert demo_reference.sequence("20", pos, pos + 2) == "AAG"
    entry = one(demo_reference, tmp_path, pos, "AAG", "CCCGGG", "DEFB126-T1")
    assert fields(entry)[:5] == (
        "protein_altering_variant", "MODERATE", "DEFB126-T1:c.4_5delinsCCCGG", ".1:p.Lys2delinsProGly", "K/PG",
    )  # fmt: skip


def test_incomplete_terminal_codon(demo_reference, tmp_path):
    """A transcript whose annotated CDS stops mid-codon (no stop): a hit in that last, partial codon."""
    tr = next(
        t for t in demo_reference.index("20").transcripts
        if t.has_cds and len(t.cds) % 3 and t.strand == 1 and t.exon_index(t.coding_end) is not None
    )  # fmt: skip
    pos = tr.coding_end  # the last coding base, inside the partial codon
    base, alt = _snv(demo_reference, pos)
    entry = one(demo_reference, tmp_path, pos, base, alt, tr.transcript_id)
    assert entry[1] == "incomplete_terminal_codon_variant&coding_sequence_variant"
    assert entry[2] == "LOW"
    assert entry[11].startswith(".1:p.Ter") and entry[11].endswith("%3D")


def test_term_bits_follow_vep_ranks():
    """Every term constant is the bit of its VEP rank, so reading a mask's bits upwards gives VEP's
    order, and a mixed set is described in that order with the first term's impact."""
    from jobs.annotation import terms as consequence

    names = {
        "TRANSCRIPT_ABLATION": "transcript_ablation", "SPLICE_ACCEPTOR": "splice_acceptor_variant",
        "SPLICE_DONOR": "splice_donor_variant", "STOP_GAINED": "stop_gained", "FRAMESHIFT": "frameshift_variant",
        "STOP_LOST": "stop_lost", "START_LOST": "start_lost", "INFRAME_INSERTION": "inframe_insertion",
        "INFRAME_DELETION": "inframe_deletion", "MISSENSE": "missense_variant",
        "PROTEIN_ALTERING": "protein_altering_variant", "SPLICE_DONOR_5TH_BASE": "splice_donor_5th_base_variant",
        "SPLICE_REGION": "splice_region_variant", "SPLICE_DONOR_REGION": "splice_donor_region_variant",
        "SPLICE_POLYPYRIMIDINE": "splice_polypyrimidine_tract_variant",
        "INCOMPLETE_TERMINAL_CODON": "incomplete_terminal_codon_variant", "START_RETAINED": "start_retained_variant",
        "STOP_RETAINED": "stop_retained_variant", "SYNONYMOUS": "synonymous_variant",
        "CODING_SEQUENCE": "coding_sequence_variant", "UTR5": "5_prime_UTR_variant", "UTR3": "3_prime_UTR_variant",
        "NON_CODING_EXON": "non_coding_transcript_exon_variant", "INTRON": "intron_variant",
        "NMD_TRANSCRIPT": "NMD_transcript_variant", "NON_CODING_TRANSCRIPT": "non_coding_transcript_variant",
        "UPSTREAM": "upstream_gene_variant", "DOWNSTREAM": "downstream_gene_variant",
        "INTERGENIC": "intergenic_variant",
    }  # fmt: skip
    for constant, term in names.items():
        assert getattr(consequence, constant) == 1 << consequence.TERMS[term][0], constant
    described = consequence.describe(consequence.INTRON | consequence.SPLICE_REGION | consequence.NMD_TRANSCRIPT)
    assert described.text == "splice_region_variant&intron_variant&NMD_transcript_variant"
    assert (described.severe, described.impact) == ("splice_region_variant", "LOW")
