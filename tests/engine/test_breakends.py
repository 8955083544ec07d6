"""Breakends of every orientation: VEP 115.2's own CSQ entries (from the development truth set
``bnd_dev_chr20``) reproduced exactly, and the rules behind them."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from jobs.annotation.breakends import SINGLE_LABEL, Breakend, parse_breakend
from jobs.annotation.engine import annotate_vcf
from tests.engine.conftest import annotate_records, csq_entries, entry_for, write_vcf

TAIL = "||||chr20.sorted.gtf.gz||"
DATA = Path(__file__).resolve().parents[1] / "data"

VEP_ENTRIES = [
    (  # t[p[, mate on chromosome 7: the local junction (POS + 1) in an intron truncates the transcript
        ("20", 267312, "T", "T[7:17460221[", "SVTYPE=BND;MATEID=bnd_85_mate;CIPOS=-50,50"),
        "C20orf96-T1",
        "T.|feature_truncation&intron_variant|HIGH|C20orf96|C20orf96|Transcript|C20orf96-T1|protein_coding|"
        "|1/8||||||||||-1" + TAIL,
    ),
    (  # [p[t, 431 bp past the end of a transcript: downstream, the Allele written .t
        ("20", 242167, "A", "[17:18612630[A", "SVTYPE=BND;MATEID=bnd_152_mate"),
        "DEFB132-T1",
        ".A|downstream_gene_variant|MODIFIER|DEFB132|DEFB132|Transcript|DEFB132-T1|protein_coding|"
        "||||||||||431|1" + TAIL,
    ),
    (  # t]p] in a 5' UTR exon: EXON and cDNA position of POS + 1
        ("20", 329978, "G", "G]20:2662852]", "SVTYPE=BND;MATEID=bnd_183_2"),
        "NRSN2-T1",
        "G.|feature_truncation&5_prime_UTR_variant|HIGH|NRSN2|NRSN2|Transcript|NRSN2-T1|protein_coding|2/5|"
        "|||203|||||||1" + TAIL,
    ),
    (  # its mirror record far away: the mate's end inside the transcript, the whole ALT as Allele
        ("20", 2662852, "A", "A]20:329978]", "SVTYPE=BND;MATEID=bnd_183_1"),
        "NRSN2-T1",
        "A]20:329978]|feature_truncation|HIGH|NRSN2|NRSN2|Transcript|NRSN2-T1|protein_coding||||||||||||1" + TAIL,
    ),
    (  # ... and near but outside another one: no term from either end, so intergenic
        ("20", 2662852, "A", "A]20:329978]", "SVTYPE=BND;MATEID=bnd_183_1"),
        "NRSN2-T9",
        "A]20:329978]|intergenic_variant|MODIFIER|NRSN2|NRSN2|Transcript|NRSN2-T9|protein_coding||||||||||||1" + TAIL,
    ),
    (  # ]p]t-like [p[t 3-17 bases before an acceptor: the one splice term a breakend gets
        ("20", 13830252, "T", "[15:15432489[T", "SVTYPE=BND;MATEID=bnd_128_mate"),
        "SEL1L2-T5",
        ".T|feature_truncation&splice_polypyrimidine_tract_variant&intron_variant|HIGH|SEL1L2|SEL1L2|Transcript|"
        "SEL1L2-T5|protein_coding||17/17||||||||||-1" + TAIL,
    ),
    (  # inserted bases (tA]p]): the junction on the first coding base, start codon terms
        ("20", 60768476, "C", "CA]17:16252319]", "SVTYPE=BND;MATEID=bnd_144_mate;CIPOS=-50,50"),
        "MTG2-T4",
        "C.|start_lost&feature_truncation&start_retained_variant&coding_sequence_variant|HIGH|MTG2|MTG2|Transcript|"
        "MTG2-T4|protein_coding|2/4||||22|1|1|||||1" + TAIL,
    ),
    (  # a single breakend deep in an intron
        ("20", 37257728, "A", ".A", "SVTYPE=BND"),
        "ARHGAP40-T1",
        "chromosome_breakpoint|intron_variant|MODIFIER|ARHGAP40|ARHGAP40|Transcript|ARHGAP40-T1|protein_coding|"
        "|4/14||||||||||1" + TAIL,
    ),
    (  # a single breakend one base before an exon: no intron term there, so intergenic (INTRON kept)
        ("20", 3619473, "A", "ATTACATCAGGT.", "SVTYPE=BND"),
        "ATRN-T1",
        "chromosome_breakpoint|intergenic_variant|MODIFIER|ATRN|ATRN|Transcript|ATRN-T1|protein_coding|"
        "|26/28||||||||||1" + TAIL,
    ),
]


@pytest.mark.parametrize(("record", "feature", "expected"), VEP_ENTRIES, ids=[f"{e[0][1]}-{e[1]}" for e in VEP_ENTRIES])
def test_breakend_entries_match_vep(demo_reference, tmp_path, record, feature, expected):
    entries = annotate_records(demo_reference, tmp_path, [record])
    assert entry_for(entries, feature) == expected


def test_both_ends_near_one_transcript_give_two_entries(demo_reference, tmp_path):
    """A chr20 pair 35 kb apart inside TMC2: each record has the local and the mate's entry."""
    entries = annotate_records(demo_reference, tmp_path, [("20", 2622001, "C", "[20:2586691[C", "SVTYPE=BND")])
    on_tmc2 = sorted("|".join(e[:3]) for e in entries if e[6] == "TMC2-T1")
    assert on_tmc2 == [
        ".C|feature_truncation&3_prime_UTR_variant|HIGH",
        "[20:2586691[C|feature_truncation&3_prime_UTR_variant|HIGH",
    ]


def test_far_breakends_have_no_csq_and_are_counted(demo_reference, tmp_path):
    records = [
        ("20", 2247650, "T", "TCTTGCGGTTAGA]17:10401384]", "SVTYPE=BND;MATEID=bnd_21_mate"),  # (VEP: no CSQ)
        ("20", 46784801, "G", ".G", "SVTYPE=BND;CIPOS=-10,10"),  # a single breakend is intergenic instead
    ]
    source = write_vcf(tmp_path / "in.vcf", records)
    result = annotate_vcf(source, tmp_path / "out.vcf", demo_reference)
    lines = [line for line in result.output.read_text().splitlines() if not line.startswith("#")]
    assert "CSQ=" not in lines[0] and len(lines) == 2
    assert ["|".join(e[:3]) for e in csq_entries(result.output)] == [f"{SINGLE_LABEL}|intergenic_variant|MODIFIER"]
    summary = json.loads(result.summary.read_text())
    assert summary["breakends_far_from_transcripts"] == 1 and summary["structural_not_annotated"] == 0
    assert "Breakends with both ends over 5 kb from every transcript (no CSQ, as VEP): 1" in result.log.read_text()


@pytest.mark.parametrize(
    ("alt", "label", "mate"),
    [
        ("G[20:500[", "G.", 500),  # t[p[
        ("G]20:500]", "G.", 500),  # t]p]
        ("]20:500]G", ".G", 500),  # ]p]t
        ("[20:500[G", ".G", 500),  # [p[t
        ("GAC[chr20:500[", "G.", 500),  # inserted bases, the contig by another name
        ("]HLA-A*01:01:01:01:77]G", ".G", None),  # a contig name with colons, not this one
        ("G[7:500[", "G.", None),  # the mate on another chromosome
        ("GTT.", SINGLE_LABEL, None),
        (".G", SINGLE_LABEL, None),
    ],
)
def test_breakend_orientations(alt, label, mate):
    found = parse_breakend(100, "G", alt, lambda name: name in ("20", "chr20"))
    assert isinstance(found, Breakend)
    assert (found.label, found.mate, found.start, found.end) == (label, mate, 101, 101)


@pytest.mark.parametrize("alt", ["G[20:500]", "[20:500[", "G[20:500[G", "G[20500["])
def test_malformed_breakends_are_refused_by_reason(alt):
    found = parse_breakend(100, "G", alt, lambda name: True)
    assert found == f"ALT {alt}: not a breakend as VCF 4.x section 5.4 writes one (t[p[, t]p], ]p]t, [p[t, t., .t)"


def test_the_whole_structural_truth_set_matches_vep(demo_reference, tmp_path):
    """Every record of ``bnd_dev_chr20`` (400 breakends and symbolic SVs): the same CSQ entries as
    Ensembl VEP 115.2 wrote, as sets (VEP's entry order changes from run to run), and the same
    records without CSQ."""
    truth = _csq_by_record(DATA / "bnd_dev_chr20.vep.vcf.gz")
    result = annotate_vcf(DATA / "bnd_dev_chr20.vcf.gz", tmp_path / "out.vcf", demo_reference)
    ours = _csq_by_record(result.output)
    assert len(truth) == len(ours) == 400
    differing = [key for key in truth if truth[key] != ours[key]]
    assert not differing, [(key, truth[key] ^ ours[key]) for key in differing[:3]]
    assert sum(1 for entries in truth.values() if not entries) == 42


def _csq_by_record(path: Path) -> dict[tuple[str, str, str], set[str]]:
    found: dict[tuple[str, str, str], set[str]] = {}
    with gzip.open(path, "rt") if path.name.endswith(".gz") else path.open() as handle:
        for line in handle:
            if line.startswith("#"):
                continue
            columns = line.rstrip("\n").split("\t")
            csq = next((item[4:] for item in columns[7].split(";") if item.startswith("CSQ=")), "")
            found[(columns[1], columns[3], columns[4])] = set(csq.split(",")) if csq else set()
    return found
