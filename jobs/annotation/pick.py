"""VEP's --flag_pick: of all the entries of a variant (every allele, every feature), one is
flagged PICK=1, chosen as VEP 115 chooses (OutputFactory pick_worst_VariationFeatureOverlapAllele):
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
