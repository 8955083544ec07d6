"""VEP's pick options: of the entries of a variant (every allele, every feature) one is chosen -
for the whole variant (``pick``, ``flag_pick``), per allele (``pick_allele``, ``flag_pick_allele``)
or per gene (``per_gene``; entries of no gene all stay) - and either kept alone or flagged PICK=1
(the ``flag_`` ones). Chosen as VEP 115 chooses (OutputFactory pick_worst_VariationFeatureOverlapAllele):
by its pick order, each criterion narrowing the tie of the one before -

  MANE Select, MANE Plus Clinical, canonical, APPRIS, TSL, biotype (protein_coding first),
  CCDS, consequence rank (the entry's most severe term), length (the longest CDS of a coding
  transcript, else the transcript's length), then the first in VEP's own order (transcripts by
  stable ID, the alleles of each in turn).

The gene models GAS reads carry no MANE, canonical, APPRIS, TSL or CCDS tags yet, so every entry
ties on those and the choice starts at biotype. Sorting on the whole key is the same as VEP's
round-by-round narrowing."""

from __future__ import annotations

from jobs.annotation.model import Transcript
from jobs.annotation.terms import CSQ_FIELDS

PICK_AFTER = CSQ_FIELDS.index("FLAGS")  # (the PICK field follows FLAGS, as in VEP's output)
PICK_MODES = ("pick", "flag_pick", "pick_allele", "flag_pick_allele", "per_gene")


def pick_key(transcript: Transcript | None, rank: int, allele_index: int) -> tuple[int, int, int, str, int]:
    """The sort key of one entry (lowest is picked); ``transcript`` None for an intergenic entry."""
    if transcript is None:
        return (1, rank, 0, "\uffff", allele_index)  # (intergenic entries come after any transcript's)
    biotype = 0 if transcript.biotype == "protein_coding" else 1
    length = len(transcript.cds) if transcript.ccs is not None else len(transcript.cdna)
    return (biotype, rank, -length, transcript.transcript_id, allele_index)


def with_pick(entry: str, picked: bool) -> str:
    """``entry`` with the PICK field ("1" or empty) after FLAGS."""
    at = -1
    for _ in range(PICK_AFTER + 1):
        at = entry.index("|", at + 1)
    return f"{entry[: at + 1]}{'1' if picked else ''}|{entry[at + 1 :]}"


def picked(mode: str, keys: list[tuple[int, int, int, str, int]], genes: list[str]) -> set[int]:
    """The indices of the chosen entries, ``keys`` and ``genes`` given per entry."""
    groups: dict[object, int] = {}
    for at, key in enumerate(keys):
        if mode in ("pick_allele", "flag_pick_allele"):
            group: object = key[4]
        elif mode == "per_gene":
            if not genes[at]:
                groups[("none", at)] = at  # (an intergenic entry: no gene to choose within)
                continue
            group = genes[at]
        else:
            group = 0
        best = groups.get(group)
        if best is None or key < keys[best]:
            groups[group] = at
    return set(groups.values())
