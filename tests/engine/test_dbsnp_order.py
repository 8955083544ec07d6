"""dbSNP ids do not depend on the order of the input (unsorted input switches to whole-contig lookups)."""

from __future__ import annotations

import gzip
import random

from jobs.annotation.reference import DbSnp


def test_shuffled_lookups_give_the_sorted_answers(demo_reference_dir):
    path = demo_reference_dir / "demo" / "dbsnp.vcf.gz"
    sites = []
    with gzip.open(path, "rt") as handle:
        for line in handle:
            if not line.startswith("#"):
                _chrom, pos, rs, ref, alt = line.split("\t")[:5]
                sites.append((int(pos), ref, alt.split(",")[0], rs))
    sample = sites[:: max(1, len(sites) // 2000)]
    sorted_answers = {
        (pos, ref, alt): DbSnp.ids(db, "20", pos, ref, alt) for db in [DbSnp(path)] for pos, ref, alt, _ in sample
    }
    assert all(rs in sorted_answers[(pos, ref, alt)] for pos, ref, alt, rs in sample)
    shuffled = sample[:]
    random.Random(7).shuffle(shuffled)
    db = DbSnp(path)
    assert {(pos, ref, alt): db.ids("20", pos, ref, alt) for pos, ref, alt, _ in shuffled} == sorted_answers
    assert db._unsorted  # (the switch happened)
    assert db.ids("20", 1, "A", "G") == [] and db.ids("chr20", sample[0][0], sample[0][1], sample[0][2])
