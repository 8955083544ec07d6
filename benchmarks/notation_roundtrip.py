"""Round trips through the notation formats: does a variant given as HGVS, SPDI or a region come
back annotated exactly as it was?

    python benchmarks/notation_roundtrip.py ANNOTATED.vcf.gz [INPUT.vcf.gz] [--examples 10]

* HGVS: every distinct HGVSc of ANNOTATED (a VEP or GAS output) is given back as a notation; it
  passes when GAS, annotating the resolved VCF, writes the same HGVSc on the same transcript.
* SPDI and regions (with INPUT): every sequence ALT of INPUT is written as SPDI
  (``20:POS-1:REF:ALT``) and as a region (``20:POS-END/ALT``); it passes when the CSQ entries of
  the resolved record are those of the same allele written as a biallelic VCF record.
Misses are listed by reason. The reference is built from the demo inputs (chr20, GENCODE 19).
"""

from __future__ import annotations

import argparse
import gzip
import re
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jobs.annotation.engine import annotate_vcf  # noqa: E402
from jobs.annotation.notations import notations_to_vcf  # noqa: E402
from jobs.annotation.reference import Reference, import_reference  # noqa: E402

DEMO = ROOT / "reference" / "demo"


@dataclass
class Report:
    name: str
    total: int = 0
    same: int = 0
    misses: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def miss(self, reason: str, example: str, keep: int = 10) -> None:
        reason = re.sub(r"[0-9][0-9,]*", "N", reason)
        self.misses[reason] += 1
        shown = self.examples.setdefault(reason, [])
        if len(shown) < keep:
            shown.append(example)

    @property
    def percent(self) -> float:
        return 100.0 * self.same / self.total if self.total else 0.0

    def text(self) -> str:
        lines = [f"{self.name}: {self.same:,} of {self.total:,} the same ({self.percent:.3f}%)"]
        for reason, count in self.misses.most_common():
            lines.append(f"  {count:>6}  {reason}")
            lines += [f"            {example}" for example in self.examples[reason]]
        return "\n".join(lines)


def _records(path: Path) -> Iterator[tuple[list[str], list[str]]]:
    """(columns, CSQ Format fields) of each data line."""
    opener = gzip.open if path.name.endswith(".gz") else open
    fields: list[str] = []
    with opener(path, "rt") as handle:
        for line in handle:
            if line.startswith("##INFO=<ID=CSQ"):
                fields = line.split("Format: ")[1].split('"')[0].split("|")
            if not line.startswith("#"):
                yield line.rstrip("\n").split("\t"), fields


def _csq(columns: list[str]) -> list[str]:
    return next((item[4:].split(",") for item in columns[7].split(";") if item.startswith("CSQ=")), [])


def hgvs_roundtrip(annotated: Path, reference: Reference, work: Path) -> Report:
    report = Report("HGVSc -> HGVS notation -> HGVSc")
    wanted: dict[str, str] = {}  # notation -> transcript
    for columns, fields in _records(annotated):
        at_hgvs, at_feature = fields.index("HGVSc"), fields.index("Feature")
        for entry in _csq(columns):
            values = entry.split("|")
            if values[at_hgvs]:
                wanted.setdefault(values[at_hgvs], values[at_feature])
    notations = list(wanted)
    result = notations_to_vcf(notations, work / "hgvs.vcf", reference, fmt="hgvs")
    for problem in result.problems:
        report.miss("not resolved: " + problem.split(": ", 2)[-1].split(" (")[0][:60], problem)
    annotate_vcf(work / "hgvs.vcf", work / "hgvs.out.vcf", reference)
    back: dict[str, set[str]] = {}
    for columns, fields in _records(work / "hgvs.out.vcf"):
        at_hgvs, at_feature = fields.index("HGVSc"), fields.index("Feature")
        feature = wanted[columns[2]]
        back[columns[2]] = {e.split("|")[at_hgvs] for e in _csq(columns) if e.split("|")[at_feature] == feature}
    report.total = len(notations)
    others: list[tuple[str, str]] = []
    for notation in notations:
        if notation not in back:
            continue
        if notation in back[notation]:
            report.same += 1
        elif back[notation] - {""}:
            others.append((notation, sorted(back[notation] - {""})[0]))
        else:
            report.miss("no HGVSc on that transcript", notation)
    # is the other HGVSc another way of writing the same change? (both resolved and left-aligned)
    pairs = [text for pair in others for text in pair]
    notations_to_vcf(pairs, work / "pairs.vcf", reference, fmt="hgvs")
    placed = {columns[2]: _normalised(reference, columns) for columns, _ in _records(work / "pairs.vcf")}
    for notation, other in others:
        same = notation in placed and placed.get(notation) == placed.get(other)
        reason = "the same change written another way" if same else "another change"
        report.miss(f"another HGVSc: {reason}", f"{notation} -> {other}")
    return report


def _normalised(reference: Reference, columns: list[str]) -> tuple[int, str, str]:
    """A VCF allele as (0-based position, deleted, inserted): trimmed, and an indel left-aligned."""
    genome = reference.bases(reference.resolve_contig(columns[0]) or columns[0])
    pos, ref, alt = int(columns[1]) - 1, columns[3], columns[4]
    while ref and alt and ref[-1] == alt[-1]:
        ref, alt = ref[:-1], alt[:-1]
    while ref and alt and ref[0] == alt[0]:
        ref, alt, pos = ref[1:], alt[1:], pos + 1
    if bool(ref) != bool(alt):  # (an insertion or deletion: moved left while the base before allows)
        moving = ref or alt
        while pos > 0 and genome.get(pos, pos) == moving[-1]:
            moving, pos = genome.get(pos, pos) + moving[:-1], pos - 1
        ref, alt = (moving, "") if ref else ("", moving)
    return pos, ref, alt


def allele_roundtrip(source: Path, reference: Reference, work: Path, kind: str) -> Report:
    report = Report(f"VCF allele -> {kind} -> CSQ entries")
    biallelic = work / f"{kind}.split.vcf"
    notations: list[str] = []
    with open(biallelic, "w") as out:
        out.write("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
        for columns, _ in _records(source):
            chrom, pos, ref = columns[0], int(columns[1]), columns[3]
            for alt in columns[4].split(","):
                if alt.startswith("<") or alt == "*" or "[" in alt or "]" in alt:
                    continue
                end = pos + len(ref) - 1
                notation = f"{chrom}:{pos - 1}:{ref}:{alt}" if kind == "spdi" else f"{chrom}:{pos}-{end}/{alt}"
                notations.append(notation)
                out.write(f"{chrom}\t{pos}\t{notation}\t{ref}\t{alt}\t.\t.\t.\n")
    expected = _entries_by_id(annotate_vcf(biallelic, work / f"{kind}.split.out.vcf", reference).output)
    result = notations_to_vcf(notations, work / f"{kind}.vcf", reference, fmt=kind)
    for problem in result.problems:
        report.miss("not resolved: " + problem.split(": ", 2)[-1][:60], problem)
    got = _entries_by_id(annotate_vcf(work / f"{kind}.vcf", work / f"{kind}.out.vcf", reference).output)
    report.total = len(notations)
    for notation, entries in got.items():
        if entries == expected[notation]:
            report.same += 1
        else:
            report.miss("other CSQ entries", f"{notation}: {sorted(entries ^ expected[notation])[:2]}")
    return report


def _entries_by_id(path: Path) -> dict[str, set[str]]:
    return {columns[2]: set(_csq(columns)) for columns, _ in _records(path)}


def demo_reference(work: Path) -> Reference:
    bundle = work / "reference"
    if not (bundle / "manifest.json").exists():
        import_reference(
            name="roundtrip", build="GRCh37", gene_model=DEMO / "GRCh37.chr20.gencode19.gtf.gz",
            fasta=DEMO / "GRCh37.chr20.fa.gz", destination=bundle,
        )  # fmt: skip
    return Reference(bundle)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("annotated", type=Path, help="an annotated VCF whose HGVSc values are given back")
    parser.add_argument("input", type=Path, nargs="?", help="a VCF whose alleles are given as SPDI and regions")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="gas-roundtrip-"))
    work.mkdir(parents=True, exist_ok=True)
    reference = demo_reference(work)
    print(hgvs_roundtrip(args.annotated, reference, work).text())
    if args.input:
        for kind in ("spdi", "region"):
            print(allele_roundtrip(args.input, reference, work, kind).text())


if __name__ == "__main__":
    main()
