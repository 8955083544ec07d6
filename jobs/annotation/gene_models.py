"""Read transcripts from a GENCODE/Ensembl GTF or an Ensembl-style GFF3 (plain or gzipped).

GTF rules follow VEP's GTF parser: gene, transcript, exon, CDS and stop_codon lines are
used; a transcript without its gene line, and an exon without its transcript line, are
dropped. SYMBOL = gene_name, else gene, else the gene line's Name; BIOTYPE =
transcript_biotype, else transcript_type, else biotype, else the source column.
"""

from __future__ import annotations

import gzip
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from jobs.annotation.errors import InputFormatError

logger = logging.getLogger(__name__)


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


def open_text(path: str | Path) -> IO[str]:
    with open(path, "rb") as probe:
        magic = probe.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def _gtf_attributes(text: str) -> dict[str, str]:
    attributes: dict[str, str] = {}
    for part in text.strip().split(";"):
        part = part.strip()
        if not part:
            continue
        key, _, value = part.partition(" ")
        attributes.setdefault(key, value.strip().strip('"'))
    return attributes


def _gff_attributes(text: str) -> dict[str, str]:
    attributes: dict[str, str] = {}
    for part in text.strip().split(";"):
        key, sep, value = part.partition("=")
        if sep:
            attributes[key.strip()] = value.strip()
    return attributes


Feature = tuple[str, str, int, int, int, str]  # kind, transcript key, start, end, phase, protein id


def _attach_features(transcripts: dict[str, RawTranscript], features: list[Feature]) -> None:
    """Give exons and CDS/stop_codon records to their transcripts; orphans are dropped (as VEP does)."""
    for kind, key, start, end, phase, protein_id in features:
        transcript = transcripts.get(key)
        if transcript is None:
            continue
        if kind == "exon":
            transcript.exons.append((start, end))
        else:
            transcript.cds.append((start, end, phase))
            if protein_id and not transcript.protein_id:
                transcript.protein_id = protein_id


def _columns(path: str, line_number: int, line: str) -> list[str]:
    columns = line.rstrip("\n").split("\t")
    if len(columns) != 9:
        raise InputFormatError(path, line_number, f"expected 9 tab-separated columns, found {len(columns)}")
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
            if line.startswith("#") or not line.strip():
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
                )
            else:
                phase = int(columns[7]) if columns[7].isdigit() else 0
                pending.append((kind, attributes.get("transcript_id", ""), start, end, phase,
                                attributes.get("protein_id", "")))  # fmt: skip
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


_TRANSCRIPT_PARENT_PREFIX = "gene:"


def read_gff3(path: str | Path) -> Iterator[RawTranscript]:
    """Ensembl-style GFF3: genes (ID=gene:…), transcripts (ID=transcript:…, Parent=gene:…), exons and CDS."""
    path = str(path)
    genes: dict[str, dict[str, str]] = {}
    transcripts: dict[str, RawTranscript] = {}
    children: list[Feature] = []
    with open_text(path) as handle:
        for line_number, line in enumerate(handle, 1):
            if line.startswith("#") or not line.strip():
                if line.startswith("##FASTA"):
                    break
                continue
            columns = _columns(path, line_number, line)
            kind = columns[2]
            attributes = _gff_attributes(columns[8])
            identifier = attributes.get("ID", "")
            parent = attributes.get("Parent", "")
            if kind in ("exon", "CDS", "stop_codon"):
                start, end = _span(path, line_number, columns[3], columns[4])
                phase = int(columns[7]) if columns[7].isdigit() else 0
                protein_id = attributes.get("protein_id", "")
                if not protein_id and identifier.startswith("CDS:"):
                    protein_id = identifier[4:]
                for one_parent in parent.split(","):
                    children.append((kind, one_parent, start, end, phase, protein_id))
            elif identifier.startswith("gene:") or (kind.endswith("gene") and not parent):
                genes[identifier] = {"name": attributes.get("Name", ""), "id": attributes.get("gene_id", identifier)}
            elif parent and identifier:
                start, end = _span(path, line_number, columns[3], columns[4])
                transcripts[identifier] = RawTranscript(
                    transcript_id=attributes.get("transcript_id") or identifier.split(":", 1)[-1],
                    gene_id=parent,
                    symbol="",
                    biotype=attributes.get("biotype") or attributes.get("transcript_type") or columns[1],
                    contig=columns[0],
                    strand=_strand(path, line_number, columns[6]),
                    start=start,
                    end=end,
                )
    _attach_features(transcripts, children)
    for transcript in transcripts.values():
        gene = genes.get(transcript.gene_id)
        if gene is None or not transcript.exons:
            continue
        transcript.symbol = gene["name"]
        transcript.gene_id = gene["id"].split(":", 1)[-1]
        yield transcript


def read_gene_model(path: str | Path) -> Iterator[RawTranscript]:
    name = str(path).lower().removesuffix(".gz")
    if name.endswith((".gff3", ".gff")):
        return read_gff3(path)
    if name.endswith(".gtf"):
        return read_gtf(path)
    raise InputFormatError(str(path), None, "gene model must be a .gtf or .gff3 file (optionally .gz)")
