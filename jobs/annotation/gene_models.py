"""Read transcripts from a gene model: Ensembl or GENCODE GTF/GFF3, NCBI RefSeq GFF3, the MANE GFF
(plain or gzipped).

Rules follow VEP's GTF/GFF parsers: gene, transcript, exon, CDS and stop_codon lines are used;
a transcript without its gene line, and an exon without its transcript line, are dropped.
SYMBOL = gene_name, else gene, else the gene line's Name; BIOTYPE = transcript_biotype, else
transcript_type, else biotype, else (GFF3) mRNA -> protein_coding, ncRNA -> its ncrna_class,
else gbkey, else the source column. Gene = gene_id, else the Dbxref GeneID (RefSeq), else the gene
line's ID without its ``gene:`` prefix.

The transcript flags VEP reads from a GTF/GFF come from its ``tag`` attributes (GTF: one ``tag``
per value; GFF3: comma-separated; NCBI writes them with spaces, ``MANE Select``):
Ensembl_canonical -> CANONICAL=YES; MANE_Select / MANE_Plus_Clinical -> MANE, and MANE_SELECT /
MANE_PLUS_CLINICAL = the counterpart accession when the model names one (NCBI's Dbxref
``Ensembl:ENST…``, the MANE GFF's ``RefSeq:NM_…``); appris_principal_N / appris_alternative_N ->
APPRIS PN / AN; transcript_support_level (or tsl) N -> TSL N; ccdsid / ccds_id / Dbxref CCDS ->
CCDS. A NCBI region line (``genome=chromosome``) names the chromosome of its sequence
(``NC_000020.11`` is 20): the transcripts carry that name as ``contig_alias``.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import logging
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote

from jobs.annotation.errors import InputFormatError
from jobs.annotation.flags import FLAG_FIELDS, NO_FLAGS

logger = logging.getLogger(__name__)
_CCDS = FLAG_FIELDS.index("CCDS")


@dataclass
class RawTranscript:
    transcript_id: str
    gene_id: str
    symbol: str
    biotype: str
    contig: str
    strand: int
    start: int
    end: int
    exons: list[tuple[int, int]] = field(default_factory=list)
    cds: list[tuple[int, int, int]] = field(default_factory=list)  # (start, end, phase)
    protein_id: str = ""
    flags: tuple[str, ...] = ()  # flags.FLAG_FIELDS' values, or () when the model tags nothing
    contig_alias: str = ""  # (another name of ``contig``, from a NCBI region line)
    exception: str = ""  # (NCBI: why the transcript's sequence differs from the genome)


def _dbxrefs(attributes: dict[str, str]) -> dict[str, str]:
    """``Dbxref=GeneID:7157,HGNC:HGNC:11998`` (GFF3) or ``db_xref`` as {database: first id}."""
    found: dict[str, str] = {}
    for key in ("Dbxref", "db_xref"):
        for item in attributes.get(key, "").split(","):
            database, sep, identifier = item.strip().partition(":")
            if sep:
                found.setdefault(database, identifier)
    return found


def transcript_flags(attributes: dict[str, str], transcript_id: str) -> tuple[str, ...]:
    """The flags.FLAG_FIELDS values of one transcript line's attributes (() when it carries none)."""
    tags = {tag.strip().replace(" ", "_").lower() for tag in attributes.get("tag", "").split(",") if tag.strip()}
    xrefs = _dbxrefs(attributes)
    canonical = "YES" if "ensembl_canonical" in tags else ""
    mane = "MANE_Select" if "mane_select" in tags else "MANE_Plus_Clinical" if "mane_plus_clinical" in tags else ""
    if transcript_id.startswith(("NM_", "NR_", "XM_", "XR_")):
        counterpart = xrefs.get("Ensembl", "")
    else:
        counterpart = xrefs.get("RefSeq") or xrefs.get("GenBank", "")
        counterpart = counterpart if counterpart.startswith(("NM_", "NR_")) else ""
    tsl = attributes.get("transcript_support_level") or attributes.get("tsl", "")
    tsl = tsl.removeprefix("tsl")
    digits = len(tsl) - len(tsl.lstrip("0123456789"))
    appris = ""
    for tag in sorted(tags):
        if tag.startswith("appris_principal_"):
            appris = "P" + tag.removeprefix("appris_principal_")
        elif tag.startswith("appris_alternative_") and not appris:
            appris = "A" + tag.removeprefix("appris_alternative_")
    ccds = attributes.get("ccdsid") or attributes.get("ccds_id") or xrefs.get("CCDS", "")
    flags = (
        canonical, mane, counterpart if mane == "MANE_Select" else "",
        counterpart if mane == "MANE_Plus_Clinical" else "", tsl[:digits], appris, ccds,
    )  # fmt: skip
    return flags if any(flags) else ()


@contextlib.contextmanager
def open_text(path: str | Path) -> Iterator[IO[str]]:
    """The file's text, plain or gzipped. A gzipped one is decompressed by ``gzip -dc`` in its own
    process (on the other core, beside the parsing: 10% faster on a whole genome's model), and a
    damaged or truncated one is an InputFormatError once its lines run out."""
    with open(path, "rb") as probe:
        magic = probe.read(2)
    program = shutil.which("gzip")
    if magic != b"\x1f\x8b" or program is None:
        opener: Any = gzip.open if magic == b"\x1f\x8b" else open
        with opener(path, "rt", encoding="utf-8", errors="replace") as handle:
            yield handle
        return
    process = subprocess.Popen(  # noqa: S603 - gzip on a path we were given, no shell
        [program, "-dc", "--", str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    stdout, stderr = process.stdout, process.stderr
    assert stdout is not None and stderr is not None
    text = io.TextIOWrapper(stdout, encoding="utf-8", errors="replace")
    try:
        yield text
        if text.read(1):  # (the reader stopped early, at ##FASTA: the rest is not wanted)
            process.kill()
            process.wait()
        elif process.wait() != 0:
            message = stderr.read().decode(errors="replace").strip().splitlines()
            raise InputFormatError(
                str(path), None, f"the gzip file is damaged or truncated ({message[-1] if message else 'gzip failed'})"
            )
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        text.close()
        stderr.close()


def _gtf_attributes(text: str) -> dict[str, str]:
    attributes: dict[str, str] = {}
    for part in text.strip().split(";"):
        part = part.strip()
        if not part:
            continue
        key, _, value = part.partition(" ")
        value = value.strip().strip('"')
        if key in attributes:  # (GTF repeats a key for each value: tag "basic"; tag "CCDS";)
            attributes[key] += "," + value
        else:
            attributes[key] = value
    return attributes


def _gff_attributes(text: str) -> dict[str, str]:
    attributes: dict[str, str] = {}
    for part in text.strip().split(";"):
        key, sep, value = part.partition("=")
        if sep:
            value = value.strip()
            attributes[key.strip()] = unquote(value) if "%" in value else value
    return attributes


Feature = tuple[str, str, int, int, int, str, str]  # kind, transcript key, start, end, phase, protein id, CCDS


def _attach_features(transcripts: dict[str, RawTranscript], features: list[Feature]) -> None:
    """Give exons and CDS/stop_codon records to their transcripts; orphans are dropped (as VEP does)."""
    for kind, key, start, end, phase, protein_id, ccds in features:
        transcript = transcripts.get(key)
        if transcript is None:
            continue
        if kind == "exon":
            transcript.exons.append((start, end))
        else:
            transcript.cds.append((start, end, phase))
            if protein_id and not transcript.protein_id:
                transcript.protein_id = protein_id
            if ccds and not (transcript.flags and transcript.flags[_CCDS]):  # (NCBI: on the CDS lines)
                flags = list(transcript.flags or NO_FLAGS)
                flags[_CCDS] = ccds
                transcript.flags = tuple(flags)


def _columns(path: str, line_number: int, line: str) -> list[str]:
    columns = line.split("\t")
    if len(columns) != 9:
        raise InputFormatError(path, line_number, f"expected 9 tab-separated columns, found {len(columns)}")
    columns[8] = columns[8].rstrip("\r\n")  # (the line's end is the last column's: only it is copied)
    return columns


def _strand(path: str, line_number: int, value: str) -> int:
    if value == "+":
        return 1
    if value == "-":
        return -1
    raise InputFormatError(path, line_number, f"strand must be + or -, found {value!r}")


def _span(path: str, line_number: int, start: str, end: str) -> tuple[int, int]:
    try:
        return int(start), int(end)
    except ValueError:
        raise InputFormatError(path, line_number, f"start/end must be whole numbers, found {start!r}/{end!r}") from None


def read_gtf(path: str | Path) -> Iterator[RawTranscript]:
    path = str(path)
    genes: dict[str, dict[str, str]] = {}
    transcripts: dict[str, RawTranscript] = {}
    pending: list[Feature] = []
    ignored: dict[str, int] = {}
    with open_text(path) as handle:
        for line_number, line in enumerate(handle, 1):
            if line[0] == "#" or line.isspace():  # (comments, blank lines; no copy of the line)
                continue
            columns = _columns(path, line_number, line)
            kind = columns[2]
            if kind not in ("gene", "transcript", "exon", "CDS", "stop_codon"):
                ignored[kind] = ignored.get(kind, 0) + 1
                continue
            start, end = _span(path, line_number, columns[3], columns[4])
            attributes = _gtf_attributes(columns[8])
            if kind == "gene":
                genes[attributes.get("gene_id", "")] = {
                    "name": attributes.get("gene_name") or attributes.get("gene") or attributes.get("Name", ""),
                }
            elif kind == "transcript":
                transcript_id = attributes.get("transcript_id")
                if not transcript_id:
                    raise InputFormatError(path, line_number, "transcript line without a transcript_id attribute")
                transcripts[transcript_id] = RawTranscript(
                    transcript_id=transcript_id,
                    gene_id=attributes.get("gene_id", ""),
                    symbol=attributes.get("gene_name") or attributes.get("gene") or "",
                    biotype=attributes.get("transcript_biotype")
                    or attributes.get("transcript_type")
                    or attributes.get("biotype")
                    or columns[1],
                    contig=columns[0],
                    strand=_strand(path, line_number, columns[6]),
                    start=start,
                    end=end,
                    flags=transcript_flags(attributes, transcript_id),
                )
            else:
                phase = int(columns[7]) if columns[7].isdigit() else 0
                pending.append((kind, attributes.get("transcript_id", ""), start, end, phase,
                                attributes.get("protein_id", ""), ""))  # fmt: skip
    _attach_features(transcripts, pending)
    if ignored:
        logger.info("%s: ignored line types %s", path, ", ".join(f"{k} ({v})" for k, v in sorted(ignored.items())))
    for transcript in transcripts.values():
        gene = genes.get(transcript.gene_id)
        if gene is None or not transcript.exons:
            continue
        if not transcript.symbol:
            transcript.symbol = gene["name"]
        yield transcript


_GENE_SEGMENTS = {"C_gene_segment", "D_gene_segment", "J_gene_segment", "V_gene_segment"}


def _gff_biotype(kind: str, source: str, attributes: dict[str, str]) -> str:
    """VEP's GFF biotype rule (see the module docstring)."""
    biotype = attributes.get("biotype") or attributes.get("transcript_biotype") or attributes.get("transcript_type")
    if biotype:
        return biotype
    if kind == "mRNA":
        return "protein_coding"
    if kind == "ncRNA" and attributes.get("ncrna_class"):
        return attributes["ncrna_class"]
    if kind in _GENE_SEGMENTS:
        return f"IG_{kind[0]}_gene"
    return attributes.get("gbkey") or source


def _gff_gene(identifier: str, attributes: dict[str, str]) -> dict[str, str]:
    gene_id = attributes.get("gene_id") or _dbxrefs(attributes).get("GeneID") or identifier.removeprefix("gene:")
    name = attributes.get("Name") or attributes.get("gene") or attributes.get("gene_name", "")
    return {"name": name, "id": gene_id}


def _region_name(attributes: dict[str, str]) -> str:
    """The chromosome a NCBI region line names for its sequence (NC_000020.11 -> 20), or ""."""
    if attributes.get("genome") not in ("chromosome", "mitochondrion"):
        return ""
    if attributes.get("genome") == "mitochondrion":
        return "MT"
    return attributes.get("chromosome") or attributes.get("Name", "")


# Line types that are neither genes, transcripts nor their exons and CDS: skipped unread
_NOT_TRANSCRIPTS = frozenset({
    "five_prime_UTR", "three_prime_UTR", "UTR", "start_codon", "Selenocysteine", "biological_region",
    "cDNA_match", "match", "match_part", "sequence_feature", "chromosome", "supercontig", "scaffold",
})  # fmt: skip


def _attribute(text: str, key: str) -> str:
    """One GFF3 attribute's value (faster than the whole dict for exon and CDS lines)."""
    needle = key + "="
    at = text.find(needle)
    while at > 0 and text[at - 1] != ";" and text[at - 1] != " ":
        at = text.find(needle, at + 1)
    if at < 0:
        return ""
    end = text.find(";", at)
    value = text[at + len(needle) : end if end >= 0 else len(text)].strip()
    return unquote(value) if "%" in value else value


def _finished(
    transcripts: dict[str, RawTranscript],
    children: list[Feature],
    genes: dict[str, dict[str, str]],
    regions: dict[str, str],
) -> list[RawTranscript]:
    """The complete transcripts of one sequence's lines."""
    _attach_features(transcripts, children)
    done: list[RawTranscript] = []
    for transcript in transcripts.values():
        gene = genes.get(transcript.gene_id)
        if gene is None or not transcript.exons:
            continue
        transcript.symbol = transcript.symbol or gene["name"]
        transcript.gene_id = gene["id"]
        transcript.contig_alias = regions.get(transcript.contig, "")
        done.append(transcript)
    return done


def read_gff3(path: str | Path) -> Iterator[RawTranscript]:
    """GFF3 as Ensembl, GENCODE, NCBI RefSeq and MANE write it: genes (type *gene or ID=gene:…
    with no parent), transcripts (any line with an ID and a gene Parent), exons and CDS.

    The providers write each sequence's lines together, so transcripts are given out sequence by
    sequence and only one sequence's are held at a time (a whole genome's 200k transcripts read
    in the memory of its largest chromosome's). A file whose sequences come back after others is
    refused, naming the line, rather than read with features missing."""
    path = str(path)
    genes: dict[str, dict[str, str]] = {}
    transcripts: dict[str, RawTranscript] = {}
    children: list[Feature] = []
    regions: dict[str, str] = {}
    done_sequences: set[str] = set()
    current = ""
    with open_text(path) as handle:
        for line_number, line in enumerate(handle, 1):
            if line[0] == "#" or line.isspace():  # (comments, blank lines; no copy of the line)
                if line.startswith("##FASTA"):
                    break
                continue
            columns = _columns(path, line_number, line)
            if columns[0] != current:
                if current:
                    yield from _finished(transcripts, children, genes, regions)
                    transcripts, children = {}, []
                    done_sequences.add(current)
                if columns[0] in done_sequences:
                    raise InputFormatError(
                        path, line_number,
                        f"the lines of sequence {columns[0]} are not together (it came before {current}): "
                        "sort the file by sequence, e.g. `sort -k1,1 -k4,4n`",
                    )  # fmt: skip
                current = columns[0]
            kind = columns[2]
            if kind in _NOT_TRANSCRIPTS:
                continue
            text = columns[8]
            if kind in ("exon", "CDS", "stop_codon"):
                start, end = _span(path, line_number, columns[3], columns[4])
                phase = int(columns[7]) if columns[7].isdigit() else 0
                protein_id = ccds = ""
                if kind == "CDS":
                    protein_id = _attribute(text, "protein_id") if "protein_id" in text else ""
                    identifier = _attribute(text, "ID")
                    if not protein_id and identifier.startswith("CDS:"):
                        protein_id = identifier[4:]
                    if "CCDS" in text:
                        ccds = _dbxrefs(_gff_attributes(text)).get("CCDS", "")
                for one_parent in _attribute(text, "Parent").split(","):
                    children.append((kind, one_parent, start, end, phase, protein_id, ccds))
                continue
            attributes = _gff_attributes(text)
            identifier = attributes.get("ID", "")
            parent = attributes.get("Parent", "")
            if kind == "region":
                name = _region_name(attributes)
                if name and name != columns[0]:
                    regions[columns[0]] = name
            elif identifier.startswith("gene:") or (kind.endswith("gene") and not parent):
                genes[identifier] = _gff_gene(identifier, attributes)
            elif parent and identifier:
                start, end = _span(path, line_number, columns[3], columns[4])
                transcript_id = attributes.get("transcript_id") or identifier.split(":", 1)[-1]
                transcripts[identifier] = RawTranscript(
                    transcript_id=transcript_id,
                    gene_id=parent,
                    symbol=attributes.get("gene_name") or attributes.get("gene", ""),
                    biotype=_gff_biotype(kind, columns[1], attributes),
                    contig=columns[0],
                    strand=_strand(path, line_number, columns[6]),
                    start=start,
                    end=end,
                    flags=transcript_flags(attributes, transcript_id),
                    exception=attributes.get("exception", ""),
                )
    yield from _finished(transcripts, children, genes, regions)


def read_gene_model(path: str | Path) -> Iterator[RawTranscript]:
    name = str(path).lower().removesuffix(".gz")
    if name.endswith((".gff3", ".gff")):
        return read_gff3(path)
    if name.endswith(".gtf"):
        return read_gtf(path)
    raise InputFormatError(str(path), None, "gene model must be a .gtf or .gff3 file (optionally .gz)")
