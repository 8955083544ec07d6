"""Random records aimed at the hard places of a reference (exon edges, splice zones, codon 1 and
the last codon, both strands), for the property test and ``benchmarks/fuzz.py``."""

from __future__ import annotations

import random

from jobs.annotation.model import Transcript
from jobs.annotation.reference import Reference

BASES = "ACGT"


def anchors(tr: Transcript) -> list[int]:
    """Positions worth aiming at on ``tr``."""
    points = [tr.start, tr.end]
    for start, end in tr.exons:
        points += [start, end]
    if tr.coding_start is not None and tr.coding_end is not None:
        points += [tr.coding_start, tr.coding_end]
    return points


def random_record(rng: random.Random, reference: Reference, contig: str, transcripts: list[Transcript]) -> str:
    """One VCF data line: an SNV, MNV, insertion, deletion (1-100 bp) or delins, sometimes with
    several ALTs, near an anchor of a random transcript (or anywhere on it); now and then a
    breakend of any orientation or a symbolic structural variant (<DEL>, <DUP>, <INV>, <INS>) of
    50 bp to 200 kb."""
    tr = rng.choice(transcripts)
    if rng.random() < 0.8:
        pos = rng.choice(anchors(tr)) + rng.randint(-20, 20)
    else:
        pos = rng.randint(tr.start, tr.end)
    length = reference.contig_lengths[contig]
    pos = max(2, min(pos, length - 120))
    genome = reference.bases(contig)
    if rng.random() < 0.05:
        return _random_breakend(rng, reference, contig, transcripts, pos)
    if rng.random() < 0.03:
        kind = rng.choice(("DEL", "DUP", "INV", "INS"))
        size = min(int(10 ** rng.uniform(1.7, 5.3)), length - pos - 1)
        svlen = -size if kind == "DEL" else size
        end = pos if kind == "INS" else pos + size
        info = f"SVTYPE={kind};END={end};SVLEN={svlen}"
        return f"{contig}\t{pos}\t.\t{genome.get(pos, pos)}\t<{kind}>\t.\t.\t{info}"
    alts: list[str] = []
    ref_len = 1
    for _ in range(rng.choice((1, 1, 1, 2, 3, 4))):
        kind = rng.choice(("snv", "mnv", "ins", "del", "delins"))
        if kind == "snv":
            alts.append("1:" + rng.choice(BASES))
        elif kind == "mnv":
            n = rng.randint(2, 6)
            ref_len = max(ref_len, n)
            alts.append(f"{n}:" + "".join(rng.choice(BASES) for _ in range(n)))
        elif kind == "ins":
            alts.append("1:+" + "".join(rng.choice(BASES) for _ in range(rng.randint(1, 100))))
        elif kind == "del":
            n = rng.randint(2, 101)
            ref_len = max(ref_len, n)
            alts.append(f"{n}:-")
        else:
            n = rng.randint(2, 12)
            ref_len = max(ref_len, n)
            alts.append(f"{n}:" + "".join(rng.choice(BASES) for _ in range(rng.randint(1, 15))))
    ref = genome.get(pos, pos + ref_len - 1)
    written: list[str] = []
    for spec in alts:
        n_text, body = spec.split(":", 1)
        n = int(n_text)
        if body == "-":  # deletion of n - 1 bases after the anchor base
            alt = ref[0] + ref[n:]
        elif body.startswith("+"):
            alt = ref[0] + body[1:] + ref[1:]
        else:
            alt = body + ref[n:]
        if alt != ref and alt not in written:
            written.append(alt)
    if not written:
        written.append("A" if ref[0] != "A" else "C")
        written[0] += ref[1:]
    return f"{contig}\t{pos}\t.\t{ref}\t{','.join(written)}\t.\t.\t."


def _random_breakend(
    rng: random.Random, reference: Reference, contig: str, transcripts: list[Transcript], pos: int
) -> str:
    """A breakend at ``pos``: one of the four mated orientations (the mate near another transcript of
    this contig, or on another chromosome; sometimes with inserted bases) or a single breakend."""
    t = reference.bases(contig).get(pos, pos)
    inserted = "".join(rng.choice(BASES) for _ in range(rng.choice((0, 0, 1, 5))))
    orientation = rng.choice(("t[p[", "t]p]", "]p]t", "[p[t", "t.", ".t"))
    if orientation == "t.":
        return f"{contig}\t{pos}\t.\t{t}\t{t}{inserted}.\t.\t.\tSVTYPE=BND"
    if orientation == ".t":
        return f"{contig}\t{pos}\t.\t{t}\t.{inserted}{t}\t.\t.\tSVTYPE=BND"
    if rng.random() < 0.5:
        mate = f"{contig}:{rng.choice(anchors(rng.choice(transcripts))) + rng.randint(-6000, 6000)}"
    else:
        mate = f"{rng.choice(('7', '15', '17'))}:{rng.randint(1, 100_000_000)}"
    bracket = "[" if "[" in orientation else "]"
    joined = f"{bracket}{mate}{bracket}"
    alt = f"{t}{inserted}{joined}" if orientation.startswith("t") else f"{joined}{inserted}{t}"
    return f"{contig}\t{pos}\t.\t{t}\t{alt}\t.\t.\tSVTYPE=BND"
