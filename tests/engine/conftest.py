"""Engine fixtures: the demo reference bundle (chr20), built once per test session."""

from __future__ import annotations

import gzip
from pathlib import Path

from jobs.annotation.engine import annotate_vcf
from jobs.annotation.model import Transcript
from jobs.annotation.reference import Reference
from tests.conftest import DEMO  # noqa: F401 - re-exported for the engine tests


def transcript(reference: Reference, transcript_id: str) -> Transcript:
    for candidate in reference.index("20").transcripts:
        if candidate.transcript_id == transcript_id:
            return candidate
    raise KeyError(transcript_id)


def genomic(tr: Transcript, cdna: int) -> int:
    """The genomic position of a cDNA position."""
    for pos in range(tr.start, tr.end + 1):
        if tr.cdna_position(pos) == cdna:
            return pos
    raise ValueError(cdna)


def genomic_of_cds(tr: Transcript, cds: int) -> int:
    assert tr.ccs is not None
    return genomic(tr, tr.ccs + cds - 1)


HEADER = "##fileformat=VCFv4.2\n##contig=<ID=20,length=63025520>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"


def write_vcf(path: Path, records: list[tuple], header: str = HEADER) -> Path:
    lines = [header.rstrip("\n")]
    for chrom, pos, ref, alt, *rest in records:
        info = rest[0] if rest else "."
        lines.append(f"{chrom}\t{pos}\t.\t{ref}\t{alt}\t50\tPASS\t{info}")
    text = "\n".join(lines) + "\n"
    if path.name.endswith(".gz"):
        with gzip.open(path, "wt") as handle:
            handle.write(text)
    else:
        path.write_text(text)
    return path


def csq_entries(output: Path) -> list[list[str]]:
    """All CSQ entries of an output VCF, each split into its fields."""
    opener = gzip.open if output.name.endswith(".gz") else open
    entries = []
    with opener(output, "rt") as handle:
        for line in handle:
            if line.startswith("#"):
                continue
            info = line.rstrip("\n").split("\t")[7]
            for item in info.split(";"):
                if item.startswith("CSQ="):
                    entries.extend(entry.split("|") for entry in item[4:].split(","))
    return entries


def annotate_records(reference: Reference, tmp_path: Path, records: list[tuple]) -> list[list[str]]:
    source = write_vcf(tmp_path / "in.vcf", records)
    result = annotate_vcf(source, tmp_path / "out.vcf", reference)
    return csq_entries(result.output)


def entry_for(entries: list[list[str]], feature: str) -> str:
    matches = ["|".join(entry) for entry in entries if entry[6] == feature]
    assert len(matches) == 1, f"{feature}: {matches}"
    return matches[0]
