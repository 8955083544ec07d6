"""HGVSc and HGVSp as VEP 115 writes them (EV TranscriptVariationAllele ``hgvs_transcript``,
``hgvs_protein`` and helpers; Utils/Sequence.pm): the allele 3'-shifted in the transcript's
direction, the notation, and VEP's protein algorithm step by step, quirks included."""

from __future__ import annotations

import re
from typing import Final

from jobs.annotation.coding import Mapping
from jobs.annotation.model import Transcript
from jobs.annotation.reference import ContigBases
from jobs.annotation.sequence import revcomp, three_letter, translate
from jobs.annotation.terms import FRAMESHIFT, MAX_SHIFT, START_LOST, STOP_LOST, STOP_RETAINED
from jobs.annotation.vcf import Allele

_VERSIONED = re.compile(r"\.\d+$")
_ENDS: Final = START_LOST | STOP_LOST | FRAMESHIFT
_RESIDUE: Final = {aa: three_letter(aa).replace("Xaa", "Ter") for aa in "ACDEFGHIKLMNPQRSTVWY*XU"}


def _shift(allele: Allele, tr: Transcript, genome: ContigBases) -> tuple[int, int, str, int]:
    """3'-shift an insertion or deletion in the transcript's direction: (s, e, moved bases, shift)."""
    s, e = allele.start, allele.end
    insertion = s == e + 1
    bases = allele.alt if insertion else genome.get(s, e)
    if not allele.shiftable or not bases:
        return s, e, bases, 0
    shift = 0
    if tr.strand == 1:
        window = genome.get(s if insertion else e + 1, (s if insertion else e + 1) + MAX_SHIFT)
        while shift < len(window) and window[shift] == bases[0]:
            bases = bases[1:] + bases[0]
            shift += 1
        return s + shift, e + shift, bases, shift
    end = e if insertion else s - 1
    window = genome.get(max(1, end - MAX_SHIFT), end)[::-1]
    while shift < len(window) and window[shift] == bases[-1]:
        bases = bases[-1] + bases[:-1]
        shift += 1
    return s - shift, e - shift, bases, shift


def _format_cdna(tr: Transcript, x: int) -> str:
    if tr.ccs is None or tr.cce is None:
        return str(x)
    if x > tr.cce:
        return f"*{x - tr.cce}"
    if x >= tr.ccs:
        return str(x - tr.ccs + 1)
    return str(x - tr.ccs)


def _hgvs_position(tr: Transcript, pos: int) -> str | None:
    if pos < tr.start or pos > tr.end:
        return None
    x, offset = tr.cdna_anchor(pos)
    if offset == 0:
        return _format_cdna(tr, x)
    if tr.cce is not None and x == tr.cce and offset > 0:
        return f"*{offset}"
    return f"{_format_cdna(tr, x)}{'+' if offset > 0 else ''}{offset}"


def _hgvs_range(tr: Transcript, first: int, last: int) -> str | None:
    """Genomic positions given in transcript order."""
    start = _hgvs_position(tr, first)
    if first == last or start is None:
        return start
    end = _hgvs_position(tr, last)
    return None if end is None else f"{start}_{end}"


def hgvs_notations(
    tr: Transcript, allele: Allele, genome: ContigBases, mask: int, coding: bool, mapping: Mapping
) -> tuple[str, str, int] | None:
    """(HGVSc, HGVSp, 3' shift) of ``allele`` on ``tr``, or None. ``mapping`` is the unshifted
    allele's, reused for HGVSp when the allele does not move; ``coding`` is VEP's coding
    pre-predicate, which HGVSp needs."""
    s0, e0 = allele.start, allele.end
    insertion = s0 == e0 + 1
    inside = (e0 >= tr.start and s0 <= tr.end) if insertion else (s0 >= tr.start and e0 <= tr.end)
    deletion = not allele.alt and bool(allele.ref)
    # (an indel reaching past the transcript gets no HGVSc, but still an HGVSp when its shifted
    # place lies inside, as VEP)
    if not inside and not ((insertion or deletion) and allele.shiftable and tr.has_cds and coding):
        return None
    if s0 == e0 and len(allele.alt) == 1:  # a substitution of one base, the commonest case
        return _base_substitution(tr, allele, genome, mask, coding, mapping)
    if (insertion or deletion) and allele.shiftable:
        s, e, moved, shift = _shift(allele, tr, genome)
    else:
        s, e, moved, shift = s0, e0, "", 0
    # (an insertion shifted to just past the transcript's last base still duplicates the bases before it)
    if (e < tr.start - 1 or s > tr.end + 1) if insertion else (s < tr.start or e > tr.end):
        return None
    ref_g = "" if insertion else genome.get(s, e)
    alt_g = moved if insertion else ("" if deletion else allele.alt)
    if not insertion and alt_g == ref_g:
        return None
    text = _hgvsc_change(tr, genome, s, e, insertion, ref_g, alt_g) if inside else None
    hgvsp = ""
    if tr.has_cds and coding:
        # (VEP quirk: on the minus strand, an insertion shifted further than its own length reaches
        # the protein unrotated at the shifted place)
        inserted = alt_g
        if insertion:
            inserted = allele.alt if tr.strand != 1 and shift > len(allele.alt) else moved
        if (s, e, inserted) != (s0, e0, allele.alt):
            inserted_tx = inserted if tr.strand == 1 else revcomp(inserted)
            mapping = Mapping(tr, s, e, insertion, inserted_tx)
        hgvsp = _hgvs_protein(tr, mapping, mask) or ""
    if text is None and not hgvsp:
        return None
    return (f"{tr.hgvs_prefix}{text}" if text is not None else ""), hgvsp, shift


def _base_substitution(
    tr: Transcript, allele: Allele, genome: ContigBases, mask: int, coding: bool, mapping: Mapping
) -> tuple[str, str, int] | None:
    """HGVSc and HGVSp of one base substituted for another (``c.123A>G``)."""
    ref_g = genome.get(allele.start, allele.start)
    if allele.alt == ref_g:
        return None
    where = _hgvs_position(tr, allele.start)
    if where is None:
        return None
    hgvsp = (_hgvs_protein(tr, mapping, mask) or "") if tr.has_cds and coding else ""
    if tr.strand == 1:
        return f"{tr.hgvs_prefix}{where}{ref_g}>{allele.alt}", hgvsp, 0
    return f"{tr.hgvs_prefix}{where}{revcomp(ref_g)}>{revcomp(allele.alt)}", hgvsp, 0


def _hgvsc_change(
    tr: Transcript, genome: ContigBases, s: int, e: int, insertion: bool, ref_g: str, alt_g: str
) -> str | None:
    """The HGVSc change (``c.10_12del``, ``c.5dup``, ``c.7_8insT``…) of the (shifted) bases s..e
    replaced by ``alt_g``, in the transcript's direction; None where a position has no name."""
    plus = tr.strand == 1
    ref_t = ref_g if plus else revcomp(ref_g)
    alt_t = alt_g if plus else revcomp(alt_g)
    # genomic positions of the changed bases in transcript order, or the insertion's flanks
    positions = list(range(s, e + 1)) if plus else list(range(e, s - 1, -1))
    if insertion:
        flank5, flank3 = (e, s) if plus else (s, e)
    else:  # the bases just outside the changed ones, should clipping leave an insertion
        flank5, flank3 = (s - 1, e + 1) if plus else (e + 1, s - 1)
    kind, dup = _change_kind(tr, genome, s, e, ref_t, alt_t, positions)
    clipped = kind not in ("dup", "ins", "del", ">")
    if clipped:
        while ref_t and alt_t and ref_t[0] == alt_t[0]:
            ref_t, alt_t = ref_t[1:], alt_t[1:]
            flank5 = positions[0]
            positions = positions[1:]
        while ref_t and alt_t and ref_t[-1] == alt_t[-1]:
            ref_t, alt_t = ref_t[:-1], alt_t[:-1]
            flank3 = positions[-1]
            positions = positions[:-1]
        if len(ref_t) == 1 and len(alt_t) == 1:
            kind = ">"
        elif not ref_t:
            kind = "ins"
        elif not alt_t:
            kind = "del"
    if kind == "dup":
        assert dup is not None
        where = _hgvs_range(tr, dup[0], dup[1])
        return f"{where}dup" if where else None
    if kind == "ins":
        p5, p3 = _hgvs_position(tr, flank5), _hgvs_position(tr, flank3)
        if clipped and p5 and p3 and p3.startswith("*"):
            p5, p3 = p3, p5  # VEP quirk: an insertion clipped out of a longer allele, in the 3'UTR, high-to-low
        return f"{p5}_{p3}ins{alt_t}" if p5 and p3 else None
    where = _hgvs_range(tr, positions[0], positions[-1]) if positions else None
    if where is None:
        return None
    if kind == ">":
        return f"{where}{ref_t}>{alt_t}"
    if kind == "del":
        return f"{where}del"
    if kind == "inv":
        return f"{where}inv"
    return f"{where}delins{alt_t}"


def _change_kind(
    tr: Transcript, genome: ContigBases, s: int, e: int, ref_t: str, alt_t: str, positions: list[int]
) -> tuple[str, tuple[int, int] | None]:
    """del, ins, dup (with the duplicated span), >, inv or delins, before any clipping."""
    if not alt_t:
        return "del", None
    if not ref_t:
        length = len(alt_t)
        if tr.strand == 1:
            next_bases, prev_bases = genome.get(s, s + length - 1), genome.get(e - length + 1, e)
            next_span, prev_span = (s, s + length - 1), (e - length + 1, e)
        else:
            next_bases, prev_bases = revcomp(genome.get(e - length + 1, e)), revcomp(genome.get(s, s + length - 1))
            next_span, prev_span = (e, e - length + 1), (s + length - 1, s)
        # (a duplicated copy that would reach outside the transcript is written as an insertion)
        if next_bases == alt_t and _within(tr, next_span):
            return "dup", next_span
        if prev_bases == alt_t and _within(tr, prev_span):
            return "dup", prev_span
        return "ins", None
    if len(ref_t) == len(alt_t):
        return (">" if len(ref_t) == 1 else ("inv" if alt_t == revcomp(ref_t) else "delins")), None
    if alt_t == ref_t * 2:
        return "dup", (positions[0], positions[-1])
    return "delins", None


def _within(tr: Transcript, span: tuple[int, int]) -> bool:
    return tr.start <= min(span) and max(span) <= tr.end


def _protein_prefix(tr: Transcript) -> str:
    pid = tr.protein_id
    return (pid if _VERSIONED.search(pid) else f"{pid}.1") + ":p."


def _hgvs_protein(tr: Transcript, m: Mapping, mask: int) -> str | None:
    """HGVSp as VEP writes it (EV TranscriptVariationAllele `hgvs_protein`) from the mapping of the
    3'-shifted allele: the peptides clipped, typed, moved 3' and formatted, quirks included."""
    if m.tl_start is None or m.tl_end is None or m.ref_pep is None or m.alt_pep is None:
        return None
    ref_pep, alt_pep = m.ref_pep, m.alt_pep
    if (
        m.substitution
        and len(ref_pep) == 1
        and len(alt_pep) == 1
        and ref_pep != "-"
        and alt_pep != "-"
        and not mask & _ENDS
    ):  # (a substitution changing one residue for one, the commonest case: what the steps give)
        ref3, alt3 = _RESIDUE[ref_pep], _RESIDUE[alt_pep]
        same = ref3 == alt3  # (a stop and an incomplete codon are both Ter: X/* is "=", as VEP)
        return f"{_protein_prefix(tr)}{ref3}{m.tl_start}{'=' if same else alt3}"
    p = _ProteinChange(tr, m, mask)
    if not p.build():
        return None
    return _protein_prefix(tr) + p.format()


def _perl_substr(text: str, offset: int, length: int | None = None) -> str:
    """Perl's substr: a negative offset counts from the end."""
    if offset < 0:
        offset = max(len(text) + offset, 0)
    return text[offset:] if length is None else text[offset : offset + length]


class _ProteinChange:
    """The working state of one HGVSp: reference and alternate peptides, first and last position."""

    def __init__(self, tr: Transcript, m: Mapping, mask: int) -> None:
        assert m.tl_start is not None and m.tl_end is not None and m.ref_pep is not None and m.alt_pep is not None
        self.tr, self.m, self.mask = tr, m, mask
        self._translated: str | None = None
        self.ref, self.alt = m.ref_pep, m.alt_pep
        self.start, self.end = m.tl_start, m.tl_end
        self.kind = ""
        self.original_ref: str | None = None
        self.preseq = ""

    # -- the peptides
    def build(self) -> bool:
        if self.ref != self.alt:
            self._clip()
        self._classify()
        if self.kind == "fs":
            self._frameshift_peptides()
        elif self.kind == "ins":
            post = self._surrounding(self.end + 1)
            if post is not None:
                self._move_3prime(post)
            if "*" not in self.alt and self._is_duplication():
                return True
            first = min(self.start, self.end)
            flank = self._surrounding(first, 2)
            if not flank:
                return False
            self.ref = flank
        elif self.kind == "del":
            post = self._surrounding(self.end + 1)
            if post is not None:
                self._move_3prime(post)
        if self.ref != "-":
            self.ref = three_letter(self.ref)
        self.alt = "del" if self.alt == "-" else three_letter(self.alt)
        if self.mask & START_LOST:
            self.alt, self.kind = "?", ""
        elif self.kind == "del":
            if not self.ref:
                return False  # (VEP re-translates here; a deletion always has reference residues)
            self.alt = "del"
        elif self.kind == "fs":
            self.ref = self.ref[:3]
        self.ref = self.ref.replace("Xaa", "Ter")
        self.alt = self.alt.replace("Xaa", "Ter")
        return True

    def _clip(self) -> None:
        """Drop the residues the peptides share at either end (`_clip_alleles`)."""
        self.original_ref = self.ref
        ref, alt = self.ref, self.alt
        for _ in range(len(ref)):
            if ref[:1] == "*" and alt[:1] == "*":
                return  # (a stop re-created: nothing is clipped)
            if ref[:1] != alt[:1]:
                break
            self.preseq += ref[:1]
            ref, alt, self.start = ref[1:], alt[1:], self.start + 1
        for _ in range(len(ref)):
            if ref[-1:] != alt[-1:]:
                break
            ref, alt, self.end = ref[:-1], alt[:-1], self.end - 1
        self.ref, self.alt = ref, alt

    def _classify(self) -> None:
        if self._is_frameshift():
            self.kind = "fs"
            return
        self.ref = self.ref.replace("*", "X", 1)
        self.alt = self.alt.replace("*", "X", 1)
        ref, alt = self.ref, self.alt
        if ref in ("-", ""):
            self.kind = "ins"
        elif alt in ("-", ""):
            self.kind = "del"
        elif len(ref) == 1 and len(alt) == 1:
            self.kind = ">"
        elif len(ref) != len(alt) or (len(alt) > 1 and len(ref) > 1):
            self.kind = "delins"
        else:
            self.kind = ">"

    def _is_frameshift(self) -> bool:
        """The frameshift predicate at the shifted place (VEP re-evaluates it there)."""
        m, cds_len = self.m, len(self.tr.cds)
        if m.cds_start is None or m.cds_end is None or m.tl_start is None or self.mask & STOP_RETAINED:
            return False
        if 0 < cds_len - (m.tl_start * 3 - 3) < 3:  # (the incomplete last codon)
            return False
        return abs(len(m.alt_tx) - (m.cds_end - m.cds_start + 1)) % 3 != 0

    def _alternate_translation(self) -> str:
        """The CDS with the allele, and the 3'UTR after it, translated (`_get_alternate_cds`), once."""
        if self._translated is None:
            tr, m = self.tr, self.m
            assert m.cds_start is not None and m.cds_end is not None
            edited = tr.cds[: m.cds_start - 1] + m.alt_tx + tr.cds[m.cds_end :]
            if len(edited) < 3:
                edited = ""
            self._translated = translate(edited + tr.utr3_vep, tr.codon_table)
        return self._translated

    def _frameshift_peptides(self) -> None:
        """The first residue that differs, from the shifted first codon on (`_get_fs_peptides`)."""
        alt_trans = self._alternate_translation()
        ref_trans = self.tr.protein + "*"
        assert self.m.tl_start is not None
        self.start = self.m.tl_start
        if self.start > len(alt_trans):
            self.alt, self.kind = "del", "del"
            return
        while self.start <= len(alt_trans):
            self.ref = ref_trans[self.start - 1 : self.start]
            self.alt = alt_trans[self.start - 1]
            if self.ref == "*" and self.alt == "*":
                self.kind = "="
                return
            if self.ref != self.alt:
                return
            self.start += 1

    def _surrounding(self, position: int, length: int | None = None) -> str | None:
        protein = self.tr.protein
        if self.original_ref is not None and self.original_ref.startswith("*"):
            protein += self.original_ref
        if len(protein) <= position:
            return None
        return _perl_substr(protein, position - 1, length)

    def _move_3prime(self, post: str) -> None:
        """Rotate the inserted or deleted residues along the residues after them."""
        moving = self.alt if self.kind == "ins" else self.ref
        if not moving:
            return
        for n in range(len(post) - len(moving) + 1):
            if moving[0] != post[n]:
                break
            self.start, self.end = self.start + 1, self.end + 1
            moving = moving[1:] + moving[0]
        if self.kind == "ins":
            self.alt = moving
        else:
            self.ref = moving

    def _is_duplication(self) -> bool:
        upstream = (self.tr.protein + "*")[: max(self.start - 1, 0)] + self.preseq
        at = self.start - len(self.alt) - 1
        if at < 0 or len(upstream) < at + len(self.alt) or upstream[at : at + len(self.alt)] != self.alt:
            return False
        self.kind = "dup"
        self.end = self.start - 1
        self.start -= len(self.alt)
        self.alt = three_letter(self.alt)
        return True

    def _extra_residues(self, first: int, frameshift: bool) -> str:
        """Residues to the new stop codon (`_stop_loss_extra_AA`), or "?"."""
        if not first:
            return "?"
        alt_trans = self._alternate_translation()
        stop = alt_trans.find("*") + 1
        if not stop:
            return "?"
        extra = stop - first if frameshift else stop - 1 - len(self.tr.protein)
        return str(extra) if extra > 0 else "?"

    # -- the text
    def format(self) -> str:
        ref, alt, start, end, kind = self.ref, self.alt, self.start, self.end, self.kind
        if ref == alt and kind not in ("fs", "ins"):
            return f"{ref}{start}="
        if self.mask & STOP_LOST and kind in ("del", ">"):
            where = f"{ref[:3]}{start}_{ref[-3:]}{end}" if kind == "del" and len(ref) > 3 else f"{ref}{start}"
            return f"{where}{alt[:3]}extTer{self._extra_residues(start - 1, False)}"
        if kind == "dup":
            if start < end:
                return f"{alt[:3]}{start}_{alt[-3:]}{end}dup"
            return f"{alt}{start}dup"
        if kind == ">":
            return f"{ref}{start}{alt}"
        if kind in ("delins", "ins"):
            alt = re.sub(r"Ter\w+", "Ter", alt, count=1)
            if start == end and kind == "delins":
                return f"{ref[:3]}{start}delins{alt}"
            if start > end:
                start, end = end, start
            return f"{ref[:3]}{start}_{ref[-3:]}{end}{kind}{alt}"
        if kind == "fs":
            if alt == "Ter":
                return f"{ref}{start}{alt}"
            return f"{ref}{start}{alt}fsTer{self._extra_residues(start - 1, True)}"
        if kind == "del":
            if len(ref) > 3:
                return f"{ref[:3]}{start}_{ref[-3:]}{end}del"
            return f"{ref}{start}del"
        if start != end:
            return f"{ref}{start}_{alt}{end}"
        return f"{ref}{start}{alt}"
