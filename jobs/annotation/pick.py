"""VEP's pick options: of the entries of a variant (every allele, every feature) one is chosen -
for the whole variant (``pick``, ``flag_pick``), per allele (``pick_allele``, ``flag_pick_allele``)
or per gene (``per_gene``; entries of no gene all stay) - and either kept alone or flagged PICK=1
(the ``flag_`` ones). Chosen as VEP 115 chooses (OutputFactory pick_worst_VariationFeatureOverlapAllele):
by its pick order, each criterion narrowing the tie of the one before -

  MANE Select, MANE Plus Clinical, canonical, APPRIS, TSL, biotype (protein_coding first),
  CCDS, consequence rank (the entry's most severe term), length (the longest CDS of a coding
  transcript, else the transcript's spliced length), then the first in VEP's own order: its
  transcripts sorted by the key it files them under (the stable id, "_" and a number, so that
  ``X-T13`` comes before ``X-T1``), the alleles of each in turn.

The MANE, canonical, APPRIS, TSL and CCDS criteria read the transcript's flags (gene_models reads
them from the model's tags) whether or not the job shows them, as VEP's do; a model without tags
ties on them, and the choice starts at biotype. Sorting on the whole key is the same as VEP's
round-by-round narrowing."""

from __future__ import annotations

from jobs.annotation.flags import FLAG_FIELDS, NO_FLAGS, insert_after
from jobs.annotation.model import Transcript
from jobs.annotation.terms import CSQ_FIELDS

PICK_AFTER = CSQ_FIELDS.index("FLAGS")  # (the PICK field follows FLAGS, as in VEP's output)
PICK_MODES = ("pick", "flag_pick", "pick_allele", "flag_pick_allele", "per_gene")
_MANE = FLAG_FIELDS.index("MANE")
_CANONICAL = FLAG_FIELDS.index("CANONICAL")
_TSL = FLAG_FIELDS.index("TSL")
_APPRIS = FLAG_FIELDS.index("APPRIS")
_CCDS = FLAG_FIELDS.index("CCDS")
PickKey = tuple[int, int, int, int, int, int, int, int, int, str, int]


def _appris_grade(value: str) -> int:
    """VEP's APPRIS grade: P1..P5 -> 1..5, A1, A2 -> 11, 12; none -> 100."""
    if value[1:].isdigit():
        return int(value[1:]) + (0 if value[0] == "P" else 10)
    return 100


def transcript_length(transcript: Transcript) -> int:
    """VEP's length criterion: a coding transcript's CDS (its translateable sequence), else the
    transcript's spliced length (its exons), read from the model's coordinates: a bundle keeps no
    cDNA sequence for a non-coding transcript."""
    if transcript.ccs is not None and transcript.cce is not None:
        return transcript.cce - transcript.ccs + 1
    return sum(end - start + 1 for start, end in transcript.exons)


def pick_key(transcript: Transcript | None, rank: int, allele_index: int) -> PickKey:
    """The sort key of one entry (lowest is picked); ``transcript`` None for an intergenic entry."""
    if transcript is None:  # (intergenic entries come after any transcript's)
        return (1, 1, 1, 100, 100, 1, 1, rank, 0, "\uffff", allele_index)
    flags = transcript.flags or NO_FLAGS
    tsl = flags[_TSL]
    length = transcript_length(transcript)
    return (
        0 if flags[_MANE] == "MANE_Select" else 1,
        0 if flags[_MANE] == "MANE_Plus_Clinical" else 1,
        0 if flags[_CANONICAL] else 1,
        _appris_grade(flags[_APPRIS]),
        int(tsl) if tsl.isdigit() else 100,
        0 if transcript.biotype == "protein_coding" else 1,
        0 if flags[_CCDS] else 1,
        rank,
        -length,
        transcript.transcript_id + "_",  # (VEP's key: the stable id, "_", its dbID: "T13_" sorts before "T1_")
        allele_index,
    )


def with_pick(entry: str, picked: bool) -> str:
    """``entry`` with the PICK field ("1" or empty) after FLAGS."""
    return insert_after(entry, PICK_AFTER, "1|" if picked else "|")


def picked(mode: str, keys: list[PickKey], genes: list[str]) -> set[int]:
    """The indices of the chosen entries, ``keys`` and ``genes`` given per entry."""
    groups: dict[object, int] = {}
    for at, key in enumerate(keys):
        if mode in ("pick_allele", "flag_pick_allele"):
            group: object = key[-1]
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
