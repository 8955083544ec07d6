"""The engine as a drop-in for Ensembl VEP where a pipeline streams VCF through an annotator process
(Hail's ``hl.vep``, Glow's pipe transformer): VCF on standard input; on standard output the same
VCF with CSQ (``--vcf``) or one VEP-style JSON object per variant (``--json``: ``input``, ``id``,
``seq_region_name``, ``start``, ``end``, ``strand``, ``allele_string``, ``most_severe_consequence``,
``transcript_consequences``, ``intergenic_consequences``, ``colocated_variants``). Hail replaces
``__OUTPUT_FORMAT_FLAG__`` in its command with one of the two.

    python -m jobs.annotation.stream --reference var/references/demo --vcf < in.vcf > out.vcf

It imports no Django (one record in and out in about 0.2 s: Hail starts one process per block of rows), leaves
the ID column as it is (as VEP does) and exits 1 with the problem on standard error for bad input.
Imports: the engine; nothing of Django.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from jobs.annotation.engine import annotate_vcf
from jobs.annotation.errors import AnnotationError
from jobs.annotation.flags import FLAG_OPTIONS
from jobs.annotation.pick import PICK_MODES
from jobs.annotation.reference import Reference
from jobs.annotation.terms import TERMS

# CSQ columns as VEP's JSON names them (a position column gives <name>_start and <name>_end)
JSON_KEYS = {
    "Allele": "variant_allele", "IMPACT": "impact", "SYMBOL": "gene_symbol", "Gene": "gene_id",
    "BIOTYPE": "biotype", "EXON": "exon", "INTRON": "intron", "HGVSc": "hgvsc", "HGVSp": "hgvsp",
    "Amino_acids": "amino_acids", "Codons": "codons", "SYMBOL_SOURCE": "gene_symbol_source", "HGNC_ID": "hgnc_id",
    "SOURCE": "source", "MANE_SELECT": "mane_select", "MANE_PLUS_CLINICAL": "mane_plus_clinical",
    "APPRIS": "appris", "CCDS": "ccds", "ENSP": "protein_id",
}  # fmt: skip
INTEGER_KEYS = {"DISTANCE": "distance", "STRAND": "strand", "TSL": "tsl", "HGVS_OFFSET": "hgvs_offset"}
POSITION_KEYS = {"cDNA_position": "cdna", "CDS_position": "cds", "Protein_position": "protein"}
SV_CLASSES = {"DEL": "deletion", "DUP": "duplication", "INV": "inversion", "INS": "insertion",
              "CNV": "copy_number_variation"}  # fmt: skip


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m jobs.annotation.stream",
        description="Annotate VCF from standard input to standard output, as Ensembl VEP does for hl.vep and Glow.",
    )
    parser.add_argument(
        "--reference", required=True,
        help="A reference bundle: its folder, or its name under --references (manage.py reference list).",
    )  # fmt: skip
    parser.add_argument(
        "--references", default=os.environ.get("GAS_REFERENCE_DIR", "var/references"),
        help="Where bundles are installed (default: GAS_REFERENCE_DIR, else var/references).",
    )  # fmt: skip
    output = parser.add_mutually_exclusive_group(required=True)
    output.add_argument("--vcf", dest="output", action="store_const", const="vcf", help="VCF with CSQ.")
    output.add_argument("--json", dest="output", action="store_const", const="json", help="VEP's JSON, a line each.")
    picking = parser.add_mutually_exclusive_group()
    for mode in PICK_MODES:
        picking.add_argument(f"--{mode}", dest="pick", action="store_const", const=mode, default="")
    for flag in FLAG_OPTIONS:
        parser.add_argument(f"--{flag}", dest="flags", action="append_const", const=flag, default=[])
    return parser.parse_args(argv)


def _bundle(reference: str, references: str) -> Path:
    path = Path(reference)
    if path.is_dir():
        return path
    named = Path(references) / reference
    if named.is_dir():
        return named
    raise AnnotationError(f"reference {reference!r}: neither a bundle folder nor a bundle installed in {references}")


def main(argv: list[str] | None = None) -> int:
    options = _arguments(argv)
    try:
        reference = Reference(_bundle(options.reference, options.references))
        with tempfile.TemporaryDirectory(prefix="gas-stream-") as folder:
            source, annotated = Path(folder) / "input.vcf", Path(folder) / "output.vcf"
            with open(source, "wb") as spool:
                _spool(sys.stdin.buffer, spool)
            if source.stat().st_size == 0:
                return 0  # (nothing in, nothing out)
            annotate_vcf(
                source, annotated, reference, input_name="standard input", fill_id=False, pick=options.pick or "",
                flags=tuple(options.flags),
            )  # fmt: skip
            out = sys.stdout.buffer
            if options.output == "vcf":
                with open(annotated, "rb") as handle:
                    shutil.copyfileobj(handle, out, 1 << 20)
            else:
                for line in vep_json_lines(source, annotated, assembly=reference.build):
                    out.write(line.encode() + b"\n")
            out.flush()
    except AnnotationError as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    except BrokenPipeError:  # (the reader went away)
        return 1
    return 0


def _spool(source: BinaryIO, target: BinaryIO) -> None:
    """Copy the input, as VEP reads it: a header whose FORMAT column has no samples after it (what
    hl.vep writes, its rows carrying 8 columns) loses that column, and so does any row that has it."""
    for raw in source:
        if raw.startswith(b"#CHROM") and raw.rstrip(b"\r\n").split(b"\t")[8:] == [b"FORMAT"]:
            target.write(raw.rstrip(b"\r\n").rsplit(b"\t", 1)[0] + b"\n")
            for line in source:
                target.write(line.rstrip(b"\r\n").rsplit(b"\t", 1)[0] + b"\n" if line.count(b"\t") == 8 else line)
            return
        target.write(raw)
        if not raw.startswith(b"#"):
            break
    shutil.copyfileobj(source, target, 1 << 20)


def _data_lines(path: Path) -> Iterator[str]:
    with open(path, encoding="utf-8", newline="\n") as handle:
        for line in handle:
            text = line.rstrip("\r\n")
            if text and not text.startswith("#"):
                yield text


def _csq_fields(path: Path) -> list[str]:
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("##INFO=<ID=CSQ,"):
                return line.split("Format: ", 1)[1].split('"', 1)[0].split("|")
            if not line.startswith("##"):
                break
    raise AnnotationError("the annotated output has no CSQ header")


def vep_json_lines(source: Path, annotated: Path, *, assembly: str) -> Iterator[str]:
    """One JSON object per input data line, VEP's --json shape, from the annotated VCF."""
    fields = _csq_fields(annotated)
    for original, line in zip(_data_lines(source), _data_lines(annotated), strict=True):
        yield json.dumps(vep_json(original, line, fields, assembly=assembly), separators=(",", ":"))


def _csq_of(info: str) -> list[str]:
    for item in info.split(";"):
        if item.startswith("CSQ="):
            return item[4:].split(",")
    return []


def _span(pos: int, ref: str, alts: list[str], info: str) -> tuple[int, int, str]:
    """VEP's start, end and allele_string of a VCF record: a first base all alleles share is dropped."""
    if any(alt.startswith("<") or "[" in alt or "]" in alt for alt in alts):
        end = pos
        for item in info.split(";"):
            if item.startswith("END=") and item[4:].isdigit():
                end = int(item[4:])
        kind = alts[0].strip("<>").split(":")[0]
        return pos + 1, end, SV_CLASSES.get(kind, "sequence_alteration")
    alleles = [ref, *(alt for alt in alts if alt != "*")]
    if len(alleles) > 1 and len({allele[:1] for allele in alleles}) == 1 and any(len(a) > 1 for a in alleles):
        alleles = [allele[1:] for allele in alleles]
        pos += 1
    ref = alleles[0]
    return pos, pos + len(ref) - 1, "/".join(allele or "-" for allele in alleles)


def _entry(values: dict[str, str]) -> dict[str, Any]:
    entry: dict[str, Any] = {"consequence_terms": values.get("Consequence", "").split("&")}
    for column, value in values.items():
        if not value:
            continue
        if column in JSON_KEYS:
            entry[JSON_KEYS[column]] = value
        elif column in INTEGER_KEYS:
            entry[INTEGER_KEYS[column]] = int(value) if value.lstrip("-").isdigit() else value
        elif column in POSITION_KEYS:
            start, _, end = value.partition("-")
            key = POSITION_KEYS[column]
            if start.isdigit():
                entry[f"{key}_start"] = int(start)
            if (end or start).isdigit():
                entry[f"{key}_end"] = int(end or start)
        elif column == "FLAGS":
            entry["flags"] = value.split("&")
        elif column == "CANONICAL":
            entry["canonical"] = 1
        elif column == "PICK":
            entry["pick"] = 1
        elif column == "Feature":
            entry["transcript_id" if values.get("Feature_type") == "Transcript" else "regulatory_feature_id"] = value
        elif column not in ("Consequence", "Feature_type", "Existing_variation"):
            entry[column] = value  # (a source's field, as VEP's custom annotations name it)
    return entry


def vep_json(original: str, annotated: str, fields: list[str], *, assembly: str) -> dict[str, Any]:
    """One record as VEP's --json writes it."""
    columns = annotated.split("\t")
    chrom, pos, ref, alts = columns[0], int(columns[1]), columns[3], columns[4].split(",")
    start, end, allele_string = _span(pos, ref, alts, columns[7])
    record: dict[str, Any] = {
        "input": original, "id": columns[2], "seq_region_name": chrom, "start": start, "end": end, "strand": 1,
        "allele_string": allele_string, "assembly_name": assembly,
    }  # fmt: skip
    transcripts: list[dict[str, Any]] = []
    intergenic: list[dict[str, Any]] = []
    regulatory: list[dict[str, Any]] = []
    existing: list[str] = []
    terms: set[str] = set()
    for text in _csq_of(columns[7]):
        values = dict(zip(fields, text.split("|"), strict=False))
        entry = _entry(values)
        terms.update(entry["consequence_terms"])
        existing += [i for i in values.get("Existing_variation", "").split("&") if i and i not in existing]
        kind = values.get("Feature_type", "")
        (transcripts if kind == "Transcript" else regulatory if kind else intergenic).append(entry)
    known = [term for term in terms if term in TERMS]
    if known:
        record["most_severe_consequence"] = min(known, key=lambda term: TERMS[term][0])
    if transcripts:
        record["transcript_consequences"] = transcripts
    if regulatory:
        record["regulatory_feature_consequences"] = regulatory
    if intergenic:
        record["intergenic_consequences"] = intergenic
    if existing:
        record["colocated_variants"] = [{"id": identifier} for identifier in existing]
    return record


if __name__ == "__main__":
    sys.exit(main())
