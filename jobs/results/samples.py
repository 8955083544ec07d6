"""A job's samples: the pedigree (PED) read and checked against the VCF's samples, and a filter's
sample names resolved against them (families for the inheritance modes, the tumour/normal pair).

No Django: the job's pedigree and samples come in as plain values.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from jobs.results.filters import VariantFilter
from jobs.results.genotypes import ZYGS_UP_TO
from jobs.results.sample_filters import Family, Somatic
from jobs.results.schema import TableError

MAX_PED_BYTES = 1 << 20
MAX_PED_INDIVIDUALS = 10_000
SEXES = {"1": "male", "2": "female"}
PHENOTYPES = {"1": "unaffected", "2": "affected"}


# samples a page (and an API row) shows when none is named: all of a family, the first of a cohort
ALL_SAMPLES_UP_TO = 16
FIRST_SAMPLES = 8


def shown_samples(filt: VariantFilter, samples: list[str]) -> list[str]:
    """The samples whose genotypes rows carry: those the filter names, else all of up to 16, else the first 8."""
    named = filt.sample_filter.named()
    if named:
        return named
    return samples if len(samples) <= ALL_SAMPLES_UP_TO else samples[:FIRST_SAMPLES]


class PedigreeError(TableError):
    code = "invalid_pedigree"


def parse_ped(text: str, *, samples: Sequence[str], name: str = "pedigree") -> list[dict[str, str]]:
    """PED lines (family, individual, father, mother, sex, phenotype; tabs or spaces; ``#`` comments)
    as dicts; every individual must be one of the VCF's ``samples`` and each parent named must be an
    individual of the file. A PedigreeError says which line and what was expected."""
    if len(text.encode()) > MAX_PED_BYTES:
        raise PedigreeError(f"{name}: larger than {MAX_PED_BYTES // 1024} KB; a PED has one short line per individual")
    known = set(samples)
    people: list[dict[str, str]] = []
    seen: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.split("\t") if "\t" in line else line.split()
        fields = [field.strip() for field in fields]
        if len(fields) < 6:
            raise PedigreeError(
                f"{name}, line {number}: expected 6 columns (family, individual, father, mother, sex, phenotype), "
                f"found {len(fields)}"
            )
        family, individual, father, mother, sex, phenotype = fields[:6]
        if individual not in known:
            listed = ", ".join(list(samples)[:8]) + (" …" if len(samples) > 8 else "")
            raise PedigreeError(
                f"{name}, line {number}: individual {individual[:60]!r} is not a sample of the VCF "
                f"(its samples: {listed or 'none'})"
            )
        if individual in seen:
            raise PedigreeError(f"{name}, line {number}: individual {individual[:60]!r} is listed twice")
        if sex not in ("0", "1", "2", "-9", "other"):
            raise PedigreeError(
                f"{name}, line {number}: sex {sex[:20]!r}: expected 1 (male), 2 (female) or 0 (unknown)"
            )
        if phenotype not in ("0", "1", "2", "-9"):
            raise PedigreeError(
                f"{name}, line {number}: phenotype {phenotype[:20]!r}: expected 1 (unaffected), 2 (affected) "
                "or 0 / -9 (unknown)"
            )
        seen.add(individual)
        people.append({"family": family, "individual": individual, "father": "" if father in ("0", "") else father,
                       "mother": "" if mother in ("0", "") else mother, "sex": SEXES.get(sex, "unknown"),
                       "phenotype": PHENOTYPES.get(phenotype, "unknown")})  # fmt: skip
        if len(people) > MAX_PED_INDIVIDUALS:
            raise PedigreeError(f"{name}: more than {MAX_PED_INDIVIDUALS:,} individuals")
    if not people:
        raise PedigreeError(f"{name}: no individuals (expected a line per individual: family, individual, father, "
                            "mother, sex, phenotype)")  # fmt: skip
    for person in people:
        for role in ("father", "mother"):
            parent = person[role]
            if parent and parent not in seen and parent not in known:
                raise PedigreeError(
                    f"{name}: {person['individual']}'s {role} {parent[:60]!r} is neither in the file "
                    "nor a sample of the VCF"
                )
    return people


def families(pedigree: Iterable[dict[str, str]], samples: Sequence[str]) -> list[Family]:
    """Each affected individual whose father and mother are both samples, with their unaffected
    siblings (same parents) that are samples."""
    people = list(pedigree)
    known = set(samples)
    found = []
    for person in people:
        if person["phenotype"] != "affected" or person["individual"] not in known:
            continue
        father, mother = person["father"], person["mother"]
        if father in known and mother in known:
            siblings = tuple(other["individual"] for other in people if other["individual"] != person["individual"]
                             and other["father"] == father and other["mother"] == mother
                             and other["phenotype"] == "unaffected" and other["individual"] in known)  # fmt: skip
            male = {"male": True, "female": False}.get(person["sex"])
            found.append(Family(person["individual"], father, mother, male, siblings))
    return found


def resolve(filt: VariantFilter, *, samples: Sequence[str], pedigree: Sequence[dict[str, str]] | None,
            normal: str = "") -> VariantFilter:  # fmt: skip
    """The filter with its sample names checked against the job's and its inheritance mode's families
    and its tumour/normal pair resolved; a TableError says what does not fit."""
    sf = filt.sample_filter
    if not sf.named() and not sf.active:
        return filt
    if not samples:
        raise TableError("this job's input has no samples: a sample filter needs a VCF with genotype columns")
    known = set(samples)
    if unknown := [name for name in sf.named() if name not in known]:
        listed = ", ".join(list(samples)[:8]) + (" …" if len(samples) > 8 else "")
        raise TableError(f"sample {', '.join(unknown[:5])}: not a sample of this job (its samples: {listed})")
    if (sf.zygosity or sf.min_dp is not None or sf.min_gq is not None or sf.min_vaf is not None) and not sf.samples:
        raise TableError("zygosity, min_dp, min_gq and min_vaf apply to the samples named by sample=; name one")
    updates: dict[str, Any] = {}
    if sf.inheritance:
        found = families(pedigree or [], samples)
        if sf.proband:
            found = [family for family in found if family.child == sf.proband]
        if not pedigree:
            raise TableError(
                "inheritance needs the job's pedigree: add a PED file on the job page (or pedigree= in the API)"
            )
        if not found:
            raise TableError(
                "inheritance needs an affected individual whose father and mother are both samples"
                + (f" ({sf.proband} is not one)" if sf.proband else " (the pedigree has none)")
            )
        if sf.inheritance == "x_linked" and not any(family.male for family in found):
            raise TableError("x_linked looks at affected males: the pedigree has no affected male with both parents")
        updates["families"] = tuple(found)
    if sf.wants_somatic and sf.somatic:
        updates["somatic"] = _pair(sf.somatic, samples, normal)
    if len(samples) <= ZYGS_UP_TO:  # (a family's table holds every sample's zygosity letter)
        updates["positions"] = tuple((name, index) for index, name in enumerate(samples, start=1))
    return replace(filt, sample_filter=replace(sf, **updates)) if updates else filt


def _pair(somatic: Somatic, samples: Sequence[str], normal: str) -> Somatic:
    normal_name = somatic.normal or normal
    tumour = somatic.tumour
    if not normal_name and len(samples) == 2 and tumour:
        normal_name = next(name for name in samples if name != tumour)
    if not tumour and normal_name and len(samples) == 2:
        tumour = next((name for name in samples if name != normal_name), "")
    if not tumour or not normal_name:
        raise TableError("somatic needs the tumour and the normal sample: name them (tumour=, normal=), or mark the "
                         "job's normal sample")  # fmt: skip
    if tumour == normal_name:
        raise TableError("somatic: the tumour and the normal must be two samples")
    for name in (tumour, normal_name):
        if name not in samples:
            raise TableError(f"sample {name}: not a sample of this job")
    return replace(somatic, tumour=tumour, normal=normal_name)


def normal_from_header(lines: Iterable[str]) -> str:
    """The normal sample a caller declared (``##normal_sample=``, as Mutect2 and Strelka write)."""
    for line in lines:
        if line.startswith("##normal_sample="):
            return line.split("=", 1)[1].strip()
    return ""
