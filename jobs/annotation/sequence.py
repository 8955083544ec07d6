"""DNA and protein helpers: reverse complement, translation, three-letter codes."""

from __future__ import annotations

_COMPLEMENT = str.maketrans("ACGTNacgtnRYKMSWBDHVrykmswbdhv", "TGCANtgcanYRMKSWVHDByrmkswvhdb")

_BASES = "TCAG"
_STANDARD_AA = "FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG"
_MITO_AA = "FFLLSSSSYY**CCWWLLLLPPPPHHQQRRRRIIMMTTTTNNKKSS**VVVVAAAADDEEGGGG"


def _table(amino_acids: str) -> dict[str, str]:
    codons = (a + b + c for a in _BASES for b in _BASES for c in _BASES)
    return dict(zip(codons, amino_acids, strict=True))


CODON_TABLES = {1: _table(_STANDARD_AA), 2: _table(_MITO_AA)}

THREE_LETTER = {
    "A": "Ala", "R": "Arg", "N": "Asn", "D": "Asp", "C": "Cys", "Q": "Gln", "E": "Glu", "G": "Gly",
    "H": "His", "I": "Ile", "L": "Leu", "K": "Lys", "M": "Met", "F": "Phe", "P": "Pro", "S": "Ser",
    "T": "Thr", "W": "Trp", "Y": "Tyr", "V": "Val", "*": "Ter", "X": "Xaa", "U": "Sec",
}  # fmt: skip


_ONE_BASE_COMPLEMENT = {"A": "T", "C": "G", "G": "C", "T": "A", "N": "N"}


def revcomp(seq: str) -> str:
    if len(seq) == 1:  # (the commonest call, a substitution)
        base = _ONE_BASE_COMPLEMENT.get(seq)
        if base is not None:
            return base
    return seq.translate(_COMPLEMENT)[::-1]


def translate(seq: str, table: int = 1) -> str:
    """Translate whole codons; a codon with anything but ACGT gives X. Leftover bases are ignored."""
    codons = CODON_TABLES[table]
    upper = seq.upper()
    peptide: list[str] = []
    for i in range(0, len(upper) - len(upper) % 3, 3):
        peptide.append(codons.get(upper[i : i + 3], "X"))
    return "".join(peptide)


def three_letter(peptide: str) -> str:
    return "".join(THREE_LETTER.get(aa, "Xaa") for aa in peptide)


def is_acgt(seq: str) -> bool:
    """Only A, C, G and T (an empty string too)."""
    return not seq.strip("ACGT")
