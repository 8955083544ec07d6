"""Transcripts with their exon structure and sequences, and the coordinate maps VEP uses."""

from __future__ import annotations

from jobs.annotation.sequence import translate


class Transcript:
    """One transcript. Genomic coordinates are 1-based and inclusive.

    ``exons`` are in genomic order. ``cdna`` is the spliced exon sequence in transcript
    orientation; ``ccs``/``cce`` are the cDNA positions of the first and last coding base.
    """

    __slots__ = (
        "_exon_cdna",
        "_exon_starts",
        "_intron_starts",
        "_protein",
        "biotype",
        "cce",
        "ccs",
        "cdna",
        "cds",
        "coding_end",
        "coding_start",
        "codon_table",
        "contig",
        "csq_head",
        "end",
        "exons",
        "flags",
        "gene_id",
        "has_frameshift_intron",
        "hgvs_prefix",
        "introns",
        "protein_id",
        "start",
        "strand",
        "symbol",
        "transcript_id",
        "utr3",
        "utr3_vep",
        "utr5",
        "utr5_vep",
    )  # fmt: skip

    def __init__(
        self,
        *,
        transcript_id: str,
        gene_id: str,
        symbol: str,
        biotype: str,
        contig: str,
        strand: int,
        exons: list[tuple[int, int]],
        coding_start: int | None,
        coding_end: int | None,
        cdna: str,
        utr3_mirror: str = "",
        protein_id: str = "",
        codon_table: int = 1,
        protein: str | None = None,
        flags: tuple[str, ...] = (),
    ) -> None:
        self.transcript_id = transcript_id
        self.gene_id = gene_id
        self.symbol = symbol
        self.biotype = biotype
        self.contig = contig
        self.strand = strand
        self.exons = sorted(exons)
        self.start = self.exons[0][0]
        self.end = self.exons[-1][1]
        self.coding_start = coding_start
        self.coding_end = coding_end
        self.cdna = cdna
        self.protein_id = protein_id
        self.codon_table = codon_table
        self.flags = flags  # flags.FLAG_FIELDS' values, () when the model tagged none
        self.csq_head = ""  # the CSQ SYMBOL..BIOTYPE fields, filled in on first use (consequence.csq_head)
        self._exon_starts = [s for s, _ in self.exons]
        # cDNA position of each exon's first base in transcript order, indexed by genomic order
        offsets: list[int] = [0] * len(self.exons)
        total = 0
        order = range(len(self.exons)) if strand == 1 else range(len(self.exons) - 1, -1, -1)
        for index in order:
            offsets[index] = total
            s, e = self.exons[index]
            total += e - s + 1
        self._exon_cdna = offsets
        self.introns = [(self.exons[i][1] + 1, self.exons[i + 1][0] - 1) for i in range(len(self.exons) - 1)]
        self._intron_starts = [is_ for is_, _ in self.introns]
        self.has_frameshift_intron = False
        for intron_start, intron_end in self.introns:
            if intron_end - intron_start <= 12:
                self.has_frameshift_intron = True
        if coding_start is not None and coding_end is not None:
            first, last = (coding_start, coding_end) if strand == 1 else (coding_end, coding_start)
            self.ccs = self.cdna_position(first)
            self.cce = self.cdna_position(last)
        else:
            self.ccs = self.cce = None
        if self.ccs is not None and self.cce is not None:
            self.cds = cdna[self.ccs - 1 : self.cce]
            self.utr5 = cdna[: self.ccs - 1]
            self.utr3 = cdna[self.cce :]
        else:
            self.ccs = self.cce = None
            self.cds = self.utr5 = self.utr3 = ""
        # The UTRs as VEP reads them for codons, start/stop predicates and HGVSp counts: on the
        # minus strand from the region mirrored within the transcript (a VEP quirk, reproduced)
        mirrored = strand == -1 and bool(utr3_mirror) and self.ccs is not None
        self.utr5_vep = utr3_mirror[: len(self.utr5)] if mirrored else self.utr5
        self.utr3_vep = utr3_mirror[self.cce :] if mirrored else self.utr3
        self._protein = protein  # (None: translated on first use)
        self.hgvs_prefix = f"{transcript_id}:{'c' if self.ccs is not None else 'n'}."  # HGVS reference and type

    def __repr__(self) -> str:
        return f"<Transcript {self.transcript_id} {self.contig}:{self.start}-{self.end} {self.strand:+d}>"

    @property
    def has_cds(self) -> bool:
        return self.ccs is not None

    @property
    def protein(self) -> str:
        """The reference protein: the CDS translated, without its stop."""
        if self._protein is None:
            cds = self.cds
            protein = translate(cds[: len(cds) - len(cds) % 3], self.codon_table)
            if protein.endswith("*"):
                protein = protein[:-1]
            if protein and cds[:3].upper() in ("TTG", "CTG", "ATG"):
                protein = "M" + protein[1:]
            self._protein = protein
        return self._protein

    def exon_index(self, pos: int) -> int | None:
        """Index (genomic order) of the exon containing ``pos``, or None."""
        index = _bisect_right(self._exon_starts, pos) - 1
        if index >= 0 and pos <= self.exons[index][1]:
            return index
        return None

    def exons_between(self, lo: int, hi: int, pad: int = 0) -> tuple[int, int]:
        """(first, stop) indexes, genomic order, of the exons that may overlap ``lo - pad .. hi + pad``."""
        return _candidates(self._exon_starts, lo - pad, hi + pad)

    def introns_between(self, lo: int, hi: int, pad: int = 0) -> tuple[int, int]:
        """(first, stop) indexes of the introns that may overlap ``lo - pad .. hi + pad``."""
        return _candidates(self._intron_starts, lo - pad, hi + pad)

    def cdna_position(self, pos: int) -> int | None:
        index = self.exon_index(pos)
        if index is None:
            return None
        s, e = self.exons[index]
        return self._exon_cdna[index] + (pos - s + 1 if self.strand == 1 else e - pos + 1)

    def genomic_position(self, cdna: int) -> int:
        """The genomic position of cDNA position ``cdna``; before the first base or past the last one,
        counted on from the transcript's ends (upstream, downstream)."""
        plus = self.strand == 1
        if cdna < 1:
            return self.start - (1 - cdna) if plus else self.end + (1 - cdna)
        total = 0
        for index, (s, e) in enumerate(self.exons):
            offset = self._exon_cdna[index]
            if offset < cdna <= offset + e - s + 1:
                return s + (cdna - offset - 1) if plus else e - (cdna - offset - 1)
            total += e - s + 1
        return self.end + (cdna - total) if plus else self.start - (cdna - total)

    def cdna_anchor(self, pos: int) -> tuple[int, int]:
        """(cDNA position, signed offset) of ``pos``, which lies within the transcript: offset 0 in an
        exon; in an intron the anchor is the genomically nearest exon base, a tie going to the '+'
        (donor) side."""
        index = _bisect_right(self._exon_starts, pos) - 1
        s, e = self.exons[index]
        plus = self.strand == 1
        if pos <= e:
            return self._exon_cdna[index] + (pos - s + 1 if plus else e - pos + 1), 0
        next_s, next_e = self.exons[index + 1]
        to_left, to_right = pos - e, next_s - pos
        left = self._exon_cdna[index] + (e - s + 1 if plus else 1)  # the cDNA position of base e
        right = self._exon_cdna[index + 1] + (1 if plus else next_e - next_s + 1)  # ... of base next_s
        if plus:
            return (left, to_left) if to_left <= to_right else (right, -to_right)
        return (right, to_right) if to_right <= to_left else (left, -to_left)


def _candidates(starts: list[int], lo: int, hi: int) -> tuple[int, int]:
    """(first, stop) indexes of the sorted, non-overlapping intervals with these ``starts`` that may touch lo..hi."""
    return max(0, _bisect_right(starts, lo) - 1), _bisect_right(starts, hi)


def _bisect_right(values: list[int], x: int) -> int:
    """``bisect.bisect_right``, written out so that the compiled engine calls it without Python objects."""
    lo, hi = 0, len(values)
    while lo < hi:
        middle = (lo + hi) // 2
        if x < values[middle]:
            hi = middle
        else:
            lo = middle + 1
    return lo
