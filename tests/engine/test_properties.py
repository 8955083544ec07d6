"""Property: no record makes the engine raise, and every CSQ entry is well formed.

Hypothesis drives random SNVs, MNVs, insertions and deletions of 1-100 bp, delins,
multi-allelic records, symbolic structural variants and breakends of every orientation (mated on
the same or another chromosome, single), aimed mostly at exon edges, splice zones, codon 1 and the
last codon of transcripts on both strands (jobs.annotation.fuzz). GAS_HYPOTHESIS_EXAMPLES sets how many
(300 by default; ``benchmarks/fuzz.py`` runs a million the same way).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobs.annotation.breakends import SINGLE_LABEL, is_breakend
from jobs.annotation.engine import AnnotationStats, _annotate_chunk
from jobs.annotation.fuzz import random_record
from jobs.annotation.sv import structural_alleles
from jobs.annotation.terms import CSQ_FIELDS, TERMS
from jobs.annotation.vcf import process_alleles

EXAMPLES = int(os.environ.get("GAS_HYPOTHESIS_EXAMPLES", "300"))
IMPACTS = {"HIGH", "MODERATE", "LOW", "MODIFIER"}


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rng=st.randoms(use_true_random=False))
def test_random_records_annotate_without_errors_and_with_well_formed_csq(rng, demo_reference):
    transcripts = demo_reference.index("20").transcripts
    line = random_record(rng, demo_reference, "20", transcripts)
    stats = AnnotationStats()
    out = _annotate_chunk(1, line + "\n", 8, "fuzz.vcf", demo_reference, stats, True)
    assert stats.records_failed == 0, stats.failed_examples
    columns = out.rstrip("\n").split("\t")
    assert columns[:2] == line.split("\t")[:2] and columns[3:5] == line.split("\t")[3:5]
    pos, ref, alts = int(columns[1]), columns[3], columns[4].split(",")
    labels = {allele.label for allele in process_alleles(pos, ref, alts)}
    labels |= {sv.label for sv in structural_alleles(pos, alts, columns[7])[0]}
    if is_breakend(alts[0]):  # (the local junction as a single breakend, the whole ALT for the mate's end)
        labels |= {SINGLE_LABEL, alts[0], f"{ref}.", f".{ref}"}
    csq = next((item[4:] for item in columns[7].split(";") if item.startswith("CSQ=")), None)
    if csq is None:  # only a mated breakend far from every transcript goes without CSQ, and is counted
        assert is_breakend(alts[0]) and stats.breakends_far == 1, line
        return
    for entry in csq.split(","):
        fields = entry.split("|")
        assert len(fields) == len(CSQ_FIELDS) + 1, entry
        assert fields[0] in labels, (entry, labels)
        assert all(term in TERMS for term in fields[1].split("&")), entry
        assert fields[2] in IMPACTS, entry
        assert fields[2] == TERMS[fields[1].split("&")[0]][1], entry  # the most severe term's impact
