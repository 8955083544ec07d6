"""Variants given as notations instead of VCF, as Ensembl VEP reads them (``--format hgvs``, ``spdi``,
``region``, ``ensembl``, ``id``): resolved against a reference bundle's transcripts, genome and dbSNP
into a sorted VCF whose ID is each notation as given, ready to annotate.

* HGVS ``g.``/``m.`` on a contig (its name, ``chr`` name or RefSeq ``NC_`` accession), ``c.``/``n.``
  on a transcript (its id with or without version, or a gene symbol that names one transcript: its
  MANE Select, else its canonical one, else its only one): positions with intronic offsets
  (``c.68-7``), UTRs (``c.-45``, ``c.*67``); substitutions, del, dup, ins, delins, inv. ``p.``
  needs a variant database (VEP resolves it only online) and is refused with that reason.
* SPDI ``sequence:position:deleted:inserted`` (0-based position; deleted as bases or a count).
* Regions: VEP's ``chr:start-end[:strand]/allele`` and its whitespace format
  ``chr start end REF/ALT[/ALT] [strand]``; the allele may be a structural type (DEL, DUP, INV, CNV).
* ``rs`` ids: every dbSNP record of the bundle with that id.

A notation that cannot be resolved (unknown transcript or contig, a position outside them, REF that
disagrees with the genome, an ambiguous gene) is listed with its line and reason, never a failure of
the others.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from jobs.annotation.model import Transcript
from jobs.annotation.reference import Reference
from jobs.annotation.sequence import revcomp

FORMATS: Final = ("hgvs", "spdi", "region", "ensembl", "id")
MAX_SPAN: Final = 100_000  # bp a notation may delete, duplicate, invert or insert (VCF REF is bounded likewise)
MAX_PROBLEMS_SHOWN: Final = 100
_BASES = re.compile(r"^[ACGTN]*$")
_ID = re.compile(r"^rs[0-9]+$", re.IGNORECASE)
_SPDI = re.compile(r"^([^:\s]+):([0-9]+):([A-Za-z]*|[0-9]+):([A-Za-z]*)$")
_HGVS = re.compile(r"^([^:\s()]+)(?:\([^)\s]*\))?:([a-z])\.(\S+)$")
_REGION = re.compile(r"^([^:\s]+):([0-9]+)-([0-9]+)(?::(-?1|[+-]))?/(\S+)$")
_TX_POSITION = re.compile(r"^([-*]?)([0-9]+)(?:([+-])([0-9]+))?$")
_SV_TYPES: Final = {"DEL": "DEL", "DUP": "DUP", "TDUP": "DUP:TANDEM", "INV": "INV", "CNV": "CNV"}
# RefSeq accessions of the chromosomes: NC_0000NN.version, by build (23 = X, 24 = Y)
_NC_VERSIONS: Final = {
    "GRCh37": (10, 11, 11, 11, 9, 11, 13, 10, 11, 10, 9, 11, 10, 8, 9, 9, 10, 9, 9, 10, 8, 10, 10, 9),
    "GRCh38": (11, 12, 12, 12, 10, 12, 14, 11, 12, 11, 10, 12, 11, 9, 10, 10, 11, 10, 10, 11, 9, 11, 11, 10),
}


class Unresolved(Exception):
    """A notation that cannot be placed on the genome; the message says why."""


@dataclass
class Site:
    """One resolved notation as a VCF record."""

    contig: str
    pos: int
    ref: str
    alts: list[str]
    ident: str
    line_number: int
    info: str = "."


@dataclass
class NotationResult:
    """What became of a file of notations: how many became records, and each one that did not."""

    notations: int = 0
    records: int = 0
    unresolved: int = 0
    numbered: list[tuple[int, str]] = field(default_factory=list)  # (line, problem), a bounded number

    @property
    def problems(self) -> list[str]:
        """The first MAX_PROBLEMS_SHOWN problems, in line order."""
        return [problem for _, problem in sorted(self.numbered)[:MAX_PROBLEMS_SHOWN]]


def detect_format(line: str) -> str | None:
    """The notation format one line is written in, or None."""
    text = line.strip()
    if _ID.match(text):
        return "id"
    if _HGVS.match(text):
        return "hgvs"
    if _SPDI.match(text):
        return "spdi"
    if _REGION.match(text):
        return "region"
    parts = text.split()
    if len(parts) >= 4 and parts[1].isdigit() and parts[2].isdigit():
        return "ensembl"
    return None


def looks_like_notations(head: bytes) -> bool:
    """Whether a file's first bytes are notations (its first line one of the formats), not a VCF or BCF."""
    if head[:2] == b"\x1f\x8b" or head.startswith(b"##fileformat") or head[:3] == b"BCF":
        return False
    for raw in head.splitlines()[:20]:
        line = raw.decode("utf-8", "replace").strip()
        if line and not line.startswith("#"):
            return detect_format(line) is not None
    return False


def notations_to_vcf(
    lines: Iterable[str], destination: Path, reference: Reference, *, fmt: str | None = None
) -> NotationResult:
    """Resolve each notation line (blank and ``#`` lines skipped) and write the sites as a sorted VCF."""
    resolver = _Resolver(reference)
    result = NotationResult()
    sites: list[Site] = []
    wanted_ids: dict[str, list[tuple[int, str]]] = {}
    for number, raw in enumerate(lines, 1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        result.notations += 1
        detected = detect_format(text)
        kind = fmt or detected
        try:
            if kind is None:
                raise Unresolved(
                    "not a notation GAS reads (HGVS such as 20:g.36030940G>A or ENST…:c.68-7T>A, SPDI such as "
                    "NC_000020.10:36030939:G:A, a region such as 20:36030940-36030940/A, or an rs id)"
                )
            if detected not in (kind, None):
                raise Unresolved(f"not written as {fmt}")
            if kind == "id":
                wanted_ids.setdefault(text.lower(), []).append((number, text))
                continue
            sites.append(resolver.resolve(kind, text, number))
        except Unresolved as problem:
            _note(result, number, text, str(problem))
    if wanted_ids:
        sites += _sites_of_ids(reference, wanted_ids, result)
    order = {contig: at for at, contig in enumerate(reference.contig_lengths)}
    sites.sort(key=lambda site: (order[site.contig], site.pos, site.line_number))
    _write_vcf(destination, sites, reference)
    result.records = len(sites)
    return result


def _note(result: NotationResult, number: int, text: str, reason: str) -> None:
    result.unresolved += 1
    shown = text if len(text) <= 80 else text[:77] + "..."
    result.numbered.append((number, f"line {number}: {shown}: {reason}"))
    if len(result.numbered) > 2 * MAX_PROBLEMS_SHOWN:  # (bounded: the rs ids' come after the others)
        result.numbered = sorted(result.numbered)[:MAX_PROBLEMS_SHOWN]


def _write_vcf(destination: Path, sites: list[Site], reference: Reference) -> None:
    with open(destination, "w", encoding="utf-8") as out:
        out.write("##fileformat=VCFv4.2\n##source=GAS notations (HGVS, SPDI, regions, rs ids), ID = as given\n")
        out.write(f"##reference={reference.name} ({reference.build})\n")
        for contig, length in reference.contig_lengths.items():
            out.write(f"##contig=<ID={contig},length={length}>\n")
        out.write('##INFO=<ID=SVTYPE,Number=1,Type=String,Description="Type of structural variant">\n')
        out.write('##INFO=<ID=END,Number=1,Type=Integer,Description="End position of the variant">\n')
        out.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
        for site in sites:
            ident = re.sub(r"[\s;]", "_", site.ident)
            out.write(f"{site.contig}\t{site.pos}\t{ident}\t{site.ref}\t{','.join(site.alts)}\t.\t.\t{site.info}\n")


class _Resolver:
    """Turns one notation into a Site against a reference (its transcripts looked up by id and symbol)."""

    def __init__(self, reference: Reference) -> None:
        self.reference = reference
        self._by_id: dict[str, tuple[str, str]] | None = None  # id and id without version -> (contig, id)
        self._by_symbol: dict[str, list[tuple[str, str, tuple[str, ...]]]] = {}

    def resolve(self, kind: str, text: str, number: int) -> Site:
        if kind == "hgvs":
            return self._hgvs(text, number)
        if kind == "spdi":
            return self._spdi(text, number)
        return self._region(kind, text, number)

    # -- contigs and transcripts ---------------------------------------------------------------
    def contig(self, name: str) -> str:
        found = self.reference.resolve_contig(name)
        if found is not None:
            return found
        accession = re.match(r"^NC_0000([0-9]{2})(?:\.([0-9]+))?$", name)
        if accession and 1 <= int(accession.group(1)) <= 24:
            number = int(accession.group(1))
            chromosome = {23: "X", 24: "Y"}.get(number, str(number))
            versions = _NC_VERSIONS.get(self.reference.build)
            if versions is not None and accession.group(2) and int(accession.group(2)) != versions[number - 1]:
                builds = [b for b, v in _NC_VERSIONS.items() if v[number - 1] == int(accession.group(2))]
                other = f"chromosome {chromosome} of {builds[0]}" if builds else "another version"
                raise Unresolved(f"{name} is {other}; this reference is {self.reference.build}")
            found = self.reference.resolve_contig(chromosome)
            if found is not None:
                return found
        if name == "NC_012920.1":
            found = self.reference.resolve_contig("MT")
            if found is not None:
                return found
        raise Unresolved(f"unknown sequence {name} (not a contig of reference {self.reference.name})")

    def transcript(self, name: str) -> Transcript:
        if self._by_id is None:
            self._by_id = {}
            for contig, transcript_id, symbol, flags in self.reference.transcript_names():
                self._by_id[transcript_id] = (contig, transcript_id)
                self._by_id.setdefault(_unversioned(transcript_id), (contig, transcript_id))
                self._by_symbol.setdefault(symbol, []).append((contig, transcript_id, flags))
        found = self._by_id.get(name) or self._by_id.get(_unversioned(name))
        if found is None:
            found = self._of_symbol(name)
        contig, transcript_id = found
        transcript = self.reference.index(contig).transcript(transcript_id)
        if transcript is None:  # (the names came from the same bundle)
            raise Unresolved(f"transcript {transcript_id} is listed in the reference but cannot be loaded")
        return transcript

    def _of_symbol(self, name: str) -> tuple[str, str]:
        candidates = self._by_symbol.get(name, [])
        if not candidates:
            raise Unresolved(f"unknown transcript or gene {name} (not in reference {self.reference.name})")
        if len(candidates) == 1:
            return candidates[0][0], candidates[0][1]
        for flag_at in (2, 0):  # (flags.FLAG_FIELDS: MANE_SELECT, then CANONICAL)
            marked = [(c, t) for c, t, flags in candidates if len(flags) > flag_at and flags[flag_at]]
            if len(marked) == 1:
                return marked[0]
        raise Unresolved(
            f"gene {name} has {len(candidates)} transcripts and none is marked MANE Select or canonical in this "
            "reference: give a transcript id"
        )

    # -- HGVS ------------------------------------------------------------------------------------
    def _hgvs(self, text: str, number: int) -> Site:
        found = _HGVS.match(text)
        assert found is not None
        name, kind, body = found.groups()
        if kind == "p":
            raise Unresolved("a protein change (p.) can only be placed on the genome with a variant database, "
                             "as in VEP; give the c. or g. notation")  # fmt: skip
        if kind not in "gcnm":
            raise Unresolved(f"{kind}. notations are not read (g., c., n. and m. are)")
        parts = re.match(r"^([-*]?[0-9]+(?:[+-][0-9]+)?)(?:_([-*]?[0-9]+(?:[+-][0-9]+)?))?(\D.*)$", body)
        if parts is None:
            raise Unresolved("no position and change after the type (e.g. c.68-7T>A, g.36030940G>A)")
        first, last, edit = parts.group(1), parts.group(2) or parts.group(1), parts.group(3)
        if kind in "gm":
            contig, strand, last_base = self.contig(name), 1, 0
            if not (first.isdigit() and last.isdigit()):
                raise Unresolved(f"{kind}. positions are plain numbers")
            lo, hi = int(first), int(last)
        else:
            tr = self.transcript(name)
            contig, strand, last_base = tr.contig, tr.strand, tr.end
            # (VEP writes an intron position just after the last coding base as c.*N too: where that
            # reading differs, the one whose bases agree with the genome is taken)
            problem: Unresolved | None = None
            for one in _transcript_genomic(tr, first, kind):
                for other in _transcript_genomic(tr, last, kind):
                    try:
                        return self._edit(
                            contig, min(one, other), max(one, other), edit, strand, last_base, text, number
                        )
                    except Unresolved as failed:
                        problem = problem or failed
            assert problem is not None
            raise problem
        if lo > hi:
            raise Unresolved(f"the range {first}_{last} runs backwards")
        return self._edit(contig, lo, hi, edit, strand, last_base, text, number)

    def _edit(
        self, contig: str, lo: int, hi: int, edit: str, strand: int, last_base: int, text: str, number: int
    ) -> Site:
        """A HGVS change of genomic ``lo..hi`` (bases given on ``strand``) as a VCF site."""
        edit = edit.upper()
        genome = self.reference.bases(contig)
        length = self.reference.contig_lengths[contig]
        if lo < 2 or hi > length:
            raise Unresolved(f"{contig}:{lo}-{hi} lies outside contig {contig} (1-{length:,})")
        if hi - lo + 1 > MAX_SPAN:
            raise Unresolved(f"{hi - lo + 1:,} bp is more than the {MAX_SPAN:,} bp a notation may change")

        def plus(bases: str) -> str:
            return bases if strand == 1 else revcomp(bases)

        span = genome.get(lo, hi)
        substitution = re.match(r"^([ACGTN])>([ACGTN])$", edit)
        if substitution:
            if lo != hi:
                raise Unresolved("a substitution (X>Y) changes one base; use delins for more")
            _check(plus(substitution.group(1)), span, contig, lo)
            return Site(contig, lo, span, [plus(substitution.group(2))], text, number)
        if edit == "=":
            raise Unresolved("no change (=) is not a variant")
        pattern = re.match(r"^(DEL|DUP|INV)([ACGTN]*|[0-9]*)(?:INS([ACGTN]+))?$|^INS([ACGTN]+)$", edit)
        if pattern is None:
            raise Unresolved(f"change {edit} not read (X>Y, del, dup, ins, delins, inv are)")
        operation, stated, inserted = pattern.group(1) or "INS", pattern.group(2) or "", pattern.group(3)
        if stated.isdigit():
            if int(stated) != hi - lo + 1:
                raise Unresolved(f"{stated} bases stated, but the range covers {hi - lo + 1}")
        elif stated:
            _check(plus(stated), span, contig, lo)
        if operation == "INS":
            if hi != lo + 1:
                raise Unresolved("an insertion goes between two neighbouring positions (e.g. c.76_77insT)")
            anchor = genome.get(lo, lo)
            return Site(contig, lo, anchor, [anchor + plus(pattern.group(4))], text, number)
        if inserted is not None and operation == "DEL":  # delins
            if plus(inserted) == span:
                raise Unresolved("the inserted bases equal the deleted ones: no change")
            return Site(contig, lo, span, [plus(inserted)], text, number)
        if inserted is not None:
            raise Unresolved(f"change {edit} not read (X>Y, del, dup, ins, delins, inv are)")
        if operation == "DEL":
            anchor = genome.get(lo - 1, lo - 1)
            return Site(contig, lo - 1, anchor + span, [anchor], text, number)
        if operation == "DUP":  # (the copy after hi, as VEP places it; before lo when hi ends the transcript)
            at = lo - 1 if hi == last_base else hi
            anchor = genome.get(at, at)
            return Site(contig, at, anchor, [anchor + span], text, number)
        if lo == hi:
            raise Unresolved("an inversion needs at least two bases")
        return Site(contig, lo, span, [revcomp(span)], text, number)

    # -- SPDI and regions ------------------------------------------------------------------------
    def _spdi(self, text: str, number: int) -> Site:
        found = _SPDI.match(text)
        assert found is not None
        contig = self.contig(found.group(1))
        position, deleted, inserted = int(found.group(2)), found.group(3).upper(), found.group(4).upper()
        count = int(deleted) if deleted.isdigit() else len(deleted)
        start, end = position + 1, position + count  # (1-based; end = start - 1 for a pure insertion)
        span = self._span(contig, start, end)
        if deleted and not deleted.isdigit():
            _check(deleted, span, contig, start)
        return self._change(contig, start, end, span, [inserted], text, number)

    def _region(self, kind: str, text: str, number: int) -> Site:
        if kind == "region":
            found = _REGION.match(text)
            if found is None:
                raise Unresolved("not written as a region (chr:start-end[:strand]/allele)")
            name, start_text, end_text, strand_text, allele_text = found.groups()
            given_ref = None
            alleles = allele_text.upper().split("/")
        else:
            parts = text.split()
            name, start_text, end_text, allele_text = parts[:4]
            strand_text = parts[4] if len(parts) > 4 else "+"
            alleles = allele_text.upper().split("/")
            given_ref, alleles = (alleles[0], alleles[1:]) if len(alleles) > 1 else (None, alleles)
        contig = self.contig(name)
        start, end = int(start_text), int(end_text)
        minus = strand_text in ("-1", "-")
        if len(alleles) == 1 and alleles[0] in _SV_TYPES:
            return self._symbolic(contig, start, end, _SV_TYPES[alleles[0]], text, number)
        if end < start - 1:
            raise Unresolved(f"end {end} lies before start {start}")
        span = self._span(contig, start, end)
        inserted = [("" if a == "-" else a) for a in alleles]
        if any(not _BASES.match(a) for a in inserted) or not inserted:
            raise Unresolved(f"allele {allele_text} not read (bases, - for none, or DEL, DUP, TDUP, INV, CNV)")
        if minus:
            inserted = [revcomp(a) for a in inserted]
        if given_ref not in (None, "-"):
            assert given_ref is not None
            _check(revcomp(given_ref) if minus else given_ref, span, contig, start)
        return self._change(contig, start, end, span, inserted, text, number)

    def _span(self, contig: str, start: int, end: int) -> str:
        length = self.reference.contig_lengths[contig]
        if start < 1 or end > length or start > length + 1:
            raise Unresolved(f"{contig}:{start}-{end} lies outside contig {contig} (1-{length:,})")
        if end - start + 1 > MAX_SPAN:
            raise Unresolved(f"{end - start + 1:,} bp is more than the {MAX_SPAN:,} bp a notation may change")
        return self.reference.bases(contig).get(start, end)

    def _change(
        self, contig: str, start: int, end: int, span: str, inserted: list[str], text: str, number: int
    ) -> Site:
        """``span`` (``start..end``, empty for an insertion before ``start``) replaced by each of ``inserted``."""
        alts = [a for a in inserted if a != span]
        if not alts:
            raise Unresolved("the inserted bases equal the deleted ones: no change")
        if all(len(a) == len(span) for a in alts) and span:
            return Site(contig, start, span, alts, text, number)
        if start < 2:
            raise Unresolved("a change at the first base of a contig cannot be written in VCF")
        anchor = self.reference.bases(contig).get(start - 1, start - 1)
        return Site(contig, start - 1, anchor + span, [anchor + a for a in alts], text, number)

    def _symbolic(self, contig: str, start: int, end: int, kind: str, text: str, number: int) -> Site:
        length = self.reference.contig_lengths[contig]
        if start < 2 or end > length or end < start:
            raise Unresolved(f"{contig}:{start}-{end} is not a span of contig {contig} (1-{length:,})")
        anchor = self.reference.bases(contig).get(start - 1, start - 1)
        return Site(contig, start - 1, anchor, [f"<{kind}>"], text, number, f"SVTYPE={kind.split(':')[0]};END={end}")


def _unversioned(identifier: str) -> str:
    """A transcript id without its version (``ENST00000380152.3`` -> ``ENST00000380152``)."""
    return re.sub(r"\.[0-9]+$", "", identifier)


def _check(stated: str, genome: str, contig: str, start: int) -> None:
    if stated != genome and "N" not in stated:
        raise Unresolved(f"REF {stated} disagrees with the genome, which has {genome or '-'} at {contig}:{start}")


def _transcript_genomic(tr: Transcript, text: str, kind: str) -> list[int]:
    """The genomic position of a c. or n. position (``68``, ``-45``, ``*67``, ``68-7``); two when
    VEP's writing is ambiguous (``c.*N`` just after a coding end that ends an exon: the 3' UTR base,
    or the intron base N past the coding end, which VEP writes the same way)."""
    found = _TX_POSITION.match(text)
    if found is None:
        raise Unresolved(f"position {text} not read")
    sign, digits, offset_sign, offset = found.groups()
    value = int(digits)
    if kind == "c":
        if tr.ccs is None or tr.cce is None:
            raise Unresolved(f"{tr.transcript_id} is non-coding: its positions are n., not c.")
        if value == 0:
            raise Unresolved("there is no position c.0")
        cdna = tr.ccs - value if sign == "-" else tr.cce + value if sign == "*" else tr.ccs + value - 1
    else:
        if sign == "*" or value == 0:
            raise Unresolved(f"n. positions count from 1 (not {text})")
        cdna = 1 - value if sign == "-" else value
    genomic = tr.genomic_position(cdna)
    if offset is not None:
        return [genomic + (int(offset) if offset_sign == "+" else -int(offset)) * tr.strand]
    if sign == "*" and tr.cce is not None:
        coding_end = tr.genomic_position(tr.cce)
        intronic = coding_end + value * tr.strand
        if tr.cdna_position(coding_end + tr.strand) is None and tr.start <= intronic <= tr.end:
            if tr.cdna_position(intronic) is None:  # (a reading inside the transcript first)
                return [genomic, intronic] if tr.start <= genomic <= tr.end else [intronic, genomic]
    return [genomic]


def _sites_of_ids(reference: Reference, wanted: dict[str, list[tuple[int, str]]], result: NotationResult) -> list[Site]:
    """Every dbSNP record of the bundle whose id was asked for, once per asking line."""
    if reference.dbsnp is None:
        for lines in wanted.values():
            for number, text in lines:
                _note(result, number, text, f"reference {reference.name} has no dbSNP file to look rs ids up in")
        return []
    sites: list[Site] = []
    found = reference.dbsnp.records_of_ids(set(wanted))
    for key, lines in wanted.items():
        records = found.get(key, [])
        for number, text in lines:
            if not records:
                _note(result, number, text, f"{text} is not in the dbSNP file of reference {reference.name}")
            for contig_name, pos, ref, alts in records:
                contig = reference.resolve_contig(contig_name)
                if contig is not None:
                    sites.append(Site(contig, pos, ref, alts, text, number))
    return sites
