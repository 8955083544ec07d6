"""Most severe consequence per allele: this engine against snpEff, with the classes of disagreement."""

from __future__ import annotations

import gzip
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from jobs.annotation.terms import TERMS
from jobs.annotation.vcf import process_alleles

# snpEff spellings of VEP's Sequence Ontology terms; terms VEP has no counterpart for are dropped.
SNPEFF_TO_VEP = {
    "intergenic_region": "intergenic_variant",
    "conservative_inframe_insertion": "inframe_insertion",
    "disruptive_inframe_insertion": "inframe_insertion",
    "conservative_inframe_deletion": "inframe_deletion",
    "disruptive_inframe_deletion": "inframe_deletion",
    "5_prime_UTR_premature_start_codon_gain_variant": "5_prime_UTR_variant",
    "non_coding_exon_variant": "non_coding_transcript_exon_variant",
    "initiator_codon_variant": "start_retained_variant",
    "start_retained": "start_retained_variant",
    "exon_loss_variant": "splice_acceptor_variant",
}

Key = tuple[str, int, str, int]  # chrom, pos, ref, ALT index


def _open(path: Path):
    return gzip.open(path, "rt") if path.name.endswith(".gz") else open(path)


def _most_severe(terms: set[str]) -> str | None:
    known = [term for term in terms if term in TERMS]
    return min(known, key=lambda term: TERMS[term][0]) if known else None


def _most_severe_per_allele(path: Path, tag: str, allele_index: Callable[[list[str]], Callable[[str], int | None]],
                            term_name: Callable[[str], str] = str) -> dict[Key, str]:  # fmt: skip
    """Read the ``tag`` (CSQ= or ANN=) entries of a VCF: the most severe VEP term per record and ALT."""
    result: dict[Key, str] = {}
    with _open(path) as handle:
        for line in handle:
            if line.startswith("#"):
                continue
            cols = line.rstrip("\n").split("\t")
            index_of = allele_index(cols)
            terms: dict[int, set[str]] = {}
            for item in cols[7].split(";"):
                if item.startswith(tag):
                    for entry in item[len(tag) :].split(","):
                        fields = entry.split("|")
                        index = index_of(fields[0])
                        if index is not None:
                            terms.setdefault(index, set()).update(term_name(t) for t in fields[1].split("&"))
            for index, found in terms.items():
                best = _most_severe(found)
                if best:
                    result[(cols[0], int(cols[1]), cols[3], index)] = best
    return result


def ours(path: Path) -> dict[Key, str]:
    def allele_index(cols: list[str]) -> Callable[[str], int | None]:
        labels = {a.label: a.alt_index for a in process_alleles(int(cols[1]), cols[3], cols[4].split(","))}
        return labels.get

    return _most_severe_per_allele(path, "CSQ=", allele_index)


def snpeff(path: Path) -> dict[Key, str]:
    def allele_index(cols: list[str]) -> Callable[[str], int | None]:
        alts = cols[4].split(",")
        return lambda allele: alts.index(allele) + 1 if allele in alts else (1 if len(alts) == 1 else None)

    return _most_severe_per_allele(path, "ANN=", allele_index, lambda term: SNPEFF_TO_VEP.get(term, term))


@dataclass
class Concordance:
    compared: int
    agree: int
    disagreements: Counter[tuple[str, str]]

    @property
    def percent(self) -> float:
        return 100.0 * self.agree / self.compared if self.compared else 0.0

    def report(self, top: int = 12) -> str:
        lines = [f"{self.agree}/{self.compared} alleles agree ({self.percent:.2f}%)"]
        for (mine, theirs), count in self.disagreements.most_common(top):
            lines.append(f"  {count:>6}  GAS {mine:<38} snpEff {theirs}")
        return "\n".join(lines)


def compare(ours_vcf: Path, snpeff_vcf: Path) -> Concordance:
    mine, theirs = ours(ours_vcf), snpeff(snpeff_vcf)
    keys = mine.keys() & theirs.keys()
    disagreements: Counter[tuple[str, str]] = Counter()
    agree = 0
    for key in keys:
        if mine[key] == theirs[key]:
            agree += 1
        else:
            disagreements[(mine[key], theirs[key])] += 1
    return Concordance(compared=len(keys), agree=agree, disagreements=disagreements)
