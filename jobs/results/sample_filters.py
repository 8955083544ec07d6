"""The sample filters: which samples must carry an allele, with which zygosity and quality, by
inheritance from a pedigree, or as a tumour/normal pair; parsed from URL parameters and turned into
SQL on the genotype table ``g`` (sample, v, zyg, any_alt, dp, gq, vaf) beside the variant table."""

# ruff: noqa: S608 - the SQL is built from fixed fragments; every user value is a parameter
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from jobs.results.genotypes import ZYG_LETTERS, ZYG_LETTERS_OF, ZYGOSITY_CODES
from jobs.results.schema import TableError


def param_values(params: Mapping[str, Any], name: str, separator: str = ",") -> list[str]:
    """A parameter's values: repeated, or ``separator``-separated within one."""
    raw = params.get(name) or ""
    items = raw if isinstance(raw, list | tuple) else [raw]
    return [part.strip() for item in items for part in re.split(separator, str(item)) if part.strip()]


def _yes(params: Mapping[str, Any], name: str) -> bool:
    text = str(params.get(name) or "").lower()
    if text not in ("", "yes", "no", "true", "false"):
        raise TableError(f"{name} {text!r}: expected yes or no")
    return text in ("yes", "true")


INHERITANCE_MODES = ("de_novo", "recessive", "compound_het", "x_linked")


@dataclass(frozen=True)
class Family:
    """An affected individual with both parents among the samples (from the job's pedigree)."""

    child: str
    father: str
    mother: str
    male: bool | None = None
    unaffected_siblings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Somatic:
    """Alleles in the tumour (VAF >= min_tumour_vaf) and absent from the normal (VAF <= max_normal_vaf,
    depth >= min_normal_dp)."""

    tumour: str
    normal: str
    min_tumour_vaf: float = 0.05
    max_normal_vaf: float = 0.02
    min_normal_dp: int = 10


@dataclass(frozen=True)
class SampleFilter:
    """What the samples must hold. ``samples`` are the named ones (``zygosity`` and the minimums
    apply to each; named alone, a sample is only shown); ``genotypes`` one sample's zygosities;
    ``carrier_*`` which samples carry the ALT (het or hom_alt; "none" means each is called hom_ref);
    ``max_carriers`` in at most N samples; ``families`` the inheritance mode's trios (resolved from
    the pedigree: ``jobs.results.samples``)."""

    samples: tuple[str, ...] = ()
    zygosity: tuple[str, ...] = ()
    min_dp: int | None = None
    min_gq: int | None = None
    min_vaf: float | None = None
    genotypes: tuple[tuple[str, tuple[str, ...]], ...] = ()
    carrier_any: tuple[str, ...] = ()
    carrier_all: tuple[str, ...] = ()
    carrier_none: tuple[str, ...] = ()
    max_carriers: int | None = None
    inheritance: str = ""
    proband: str = ""
    families: tuple[Family, ...] = ()
    somatic: Somatic | None = None
    wants_somatic: bool = False
    # each sample's 1-based place in the variant table's zygs (a family's job; empty: filter on g)
    positions: tuple[tuple[str, int], ...] = ()

    @property
    def active(self) -> bool:
        """Whether anything is filtered (naming samples alone only shows them)."""
        return bool(self.zygosity or self.min_dp is not None or self.min_gq is not None or self.min_vaf is not None
                    or self.genotypes or self.carrier_any or self.carrier_all or self.carrier_none
                    or self.max_carriers is not None or self.inheritance or self.wants_somatic)  # fmt: skip

    def named(self) -> list[str]:
        """Every sample the filter names, in order, once."""
        names = [*self.samples, *(name for name, _ in self.genotypes), *self.carrier_any, *self.carrier_all,
                 *self.carrier_none, *([self.proband] if self.proband else [])]  # fmt: skip
        for family in self.families:
            names += [family.child, family.father, family.mother, *family.unaffected_siblings]
        if self.somatic:
            names += [self.somatic.tumour, self.somatic.normal]
        return [name for name in dict.fromkeys(names) if name]

    def query(self) -> dict[str, Any]:
        params: dict[str, Any] = {
            "sample": list(self.samples), "zygosity": ",".join(self.zygosity),
            "min_dp": "" if self.min_dp is None else str(self.min_dp),
            "min_gq": "" if self.min_gq is None else str(self.min_gq),
            "min_vaf": "" if self.min_vaf is None else str(self.min_vaf),
            "genotype": [f"{name}:{','.join(codes)}" for name, codes in self.genotypes],
            "carrier_any": list(self.carrier_any), "carrier_all": list(self.carrier_all),
            "carrier_none": list(self.carrier_none),
            "max_carriers": "" if self.max_carriers is None else str(self.max_carriers),
            "inheritance": self.inheritance, "proband": self.proband,
            "somatic": "yes" if self.wants_somatic else "",
        }  # fmt: skip
        if self.somatic and self.wants_somatic:
            params |= {"tumour": self.somatic.tumour, "normal": self.somatic.normal,
                       "min_tumour_vaf": str(self.somatic.min_tumour_vaf),
                       "max_normal_vaf": str(self.somatic.max_normal_vaf),
                       "min_normal_dp": str(self.somatic.min_normal_dp)}  # fmt: skip
        return {key: value for key, value in params.items() if value}


def _number(params: Mapping[str, Any], name: str, kind: type, low: float, high: float) -> Any:
    raw = params.get(name)
    if raw in (None, ""):
        return None
    try:
        value = kind(str(raw).strip())
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        noun = "a whole number" if kind is int else "a number"
        raise TableError(f"{name} {str(raw)[:40]!r}: expected {noun} from {low:g} to {high:g}")
    return value


def _zygosities(values: list[str], name: str) -> tuple[str, ...]:
    if bad := [value for value in values if value not in ZYGOSITY_CODES]:
        raise TableError(f"{name} {', '.join(bad)}: expected one of {', '.join(ZYGOSITY_CODES)} (alt: het or hom_alt)")
    return tuple(dict.fromkeys(values))


def parse_sample_filter(params: Mapping[str, Any]) -> SampleFilter:
    """The sample filters of URL parameters: sample (repeatable), zygosity, min_dp, min_gq, min_vaf,
    genotype=NAME:zygosity[,zygosity], carrier_any / carrier_all / carrier_none, max_carriers,
    inheritance (with proband), somatic=yes (with tumour, normal, min_tumour_vaf, max_normal_vaf,
    min_normal_dp). Names are checked against the job's samples later (jobs.results.samples)."""
    samples = tuple(dict.fromkeys(param_values(params, "sample")))[:200]
    genotypes = []
    for item in param_values(params, "genotype", r"\s*;\s*"):
        name, _, codes = item.rpartition(":")
        if not name:
            raise TableError(f"genotype {item[:60]!r}: expected SAMPLE:zygosity (for example HG00096:het)")
        genotypes.append((name, _zygosities(codes.split(","), "genotype")))
    inheritance = str(params.get("inheritance") or "").strip()
    if inheritance and inheritance not in INHERITANCE_MODES:
        raise TableError(f"inheritance {inheritance[:40]!r}: expected one of {', '.join(INHERITANCE_MODES)}")
    somatic = _yes(params, "somatic")
    tumour, normal = str(params.get("tumour") or "").strip(), str(params.get("normal") or "").strip()
    return SampleFilter(
        samples=samples,
        zygosity=_zygosities(param_values(params, "zygosity"), "zygosity"),
        min_dp=_number(params, "min_dp", int, 0, 10**9),
        min_gq=_number(params, "min_gq", int, 0, 10**9),
        min_vaf=_number(params, "min_vaf", float, 0, 1),
        genotypes=tuple(genotypes)[:200],
        carrier_any=tuple(param_values(params, "carrier_any"))[:200],
        carrier_all=tuple(param_values(params, "carrier_all"))[:200],
        carrier_none=tuple(param_values(params, "carrier_none"))[:200],
        max_carriers=_number(params, "max_carriers", int, 0, 10**9),
        inheritance=inheritance,
        proband=str(params.get("proband") or "").strip(),
        wants_somatic=somatic,
        somatic=Somatic(
            tumour=tumour, normal=normal,
            min_tumour_vaf=_default(_number(params, "min_tumour_vaf", float, 0, 1), Somatic.min_tumour_vaf),
            max_normal_vaf=_default(_number(params, "max_normal_vaf", float, 0, 1), Somatic.max_normal_vaf),
            min_normal_dp=_default(_number(params, "min_normal_dp", int, 0, 10**9), Somatic.min_normal_dp),
        ) if somatic else None,
    )  # fmt: skip


def _default(value: Any, default: Any) -> Any:
    return default if value is None else value


# -- the sample filters as SQL ---------------------------------------------------------------------------
# A family's job (positions known) reads each sample's zygosity letter from the variant table's zygs
# (genotypes.ZYG_LETTERS), with no join; a cohort's reads the genotype table g (sample, v, zyg, any_alt,
# dp, gq, vaf), where a sample without a row has the record's bare hom-ref genotype (letter 0).
_LETTER_SQL = {"0": "(zyg = 0 AND any_alt = 0)", "o": "(zyg = 0 AND any_alt > 0)", "1": "zyg = 1", "2": "zyg = 2",
               "3": "zyg = 3"}  # fmt: skip


class _Genotypes:
    """Conditions on the samples' genotypes of a variant (each: SQL and its parameters)."""

    def __init__(self, sf: SampleFilter) -> None:
        self.positions = dict(sf.positions)

    def has(self, name: str, letters: str, *, v: str = "v", zygs: str = "zygs") -> tuple[str, list[Any]]:
        """The sample's zygosity for the ALT is one of ``letters``."""
        if name in self.positions:  # (the letters are the service's own constants)
            chosen = ", ".join(f"'{letter}'" for letter in sorted(set(letters)))
            return f"substr({zygs}, {self.positions[name]}, 1) IN ({chosen})", []
        if "0" in letters:  # (no row is a bare hom-ref: rule out the rows that are not one of them)
            others = " OR ".join(_LETTER_SQL[letter] for letter in ZYG_LETTERS if letter not in letters) or "FALSE"
            return f"{v} NOT IN (SELECT v FROM g WHERE sample = ? AND ({others}))", [name]
        wanted = " OR ".join(_LETTER_SQL[letter] for letter in letters)
        return f"{v} IN (SELECT v FROM g WHERE sample = ? AND ({wanted}))", [name]

    @staticmethod
    def rows(name: str, condition: str, params: list[Any]) -> tuple[str, list[Any]]:
        """A stored genotype row of the sample meeting ``condition`` (depths, qualities, VAF)."""
        return f"v IN (SELECT v FROM g WHERE sample = ? AND {condition})", [name, *params]


def _all(parts: list[tuple[str, list[Any]]]) -> tuple[str, list[Any]]:
    return "(" + " AND ".join(sql for sql, _ in parts) + ")", [value for _, values in parts for value in values]


def _letters(codes: tuple[str, ...]) -> str:
    return "".join(ZYG_LETTERS_OF[code] for code in codes)


def sample_conditions(sf: SampleFilter, *, rest: Callable[[], tuple[str, list[Any]]]) -> tuple[list[str], list[Any]]:
    """SQL conditions (on v) of a filter's sample part, and their parameters (``rest``: the SQL of
    the rest of the filter, within which compound-het pairs are formed)."""
    gts = _Genotypes(sf)
    found: list[tuple[str, list[Any]]] = []
    minimums, minimum_params = [], []
    for column, value in (("dp", sf.min_dp), ("gq", sf.min_gq), ("vaf", sf.min_vaf)):
        if value is not None:
            minimums.append(f"{column} >= ?")
            minimum_params.append(value)
    for name in sf.samples if (sf.zygosity or minimums) else ():
        if minimums:
            wanted = " OR ".join(_LETTER_SQL[letter] for letter in _letters(sf.zygosity)) if sf.zygosity else "TRUE"
            found.append(gts.rows(name, f"({wanted}) AND " + " AND ".join(minimums), minimum_params))
        else:
            found.append(gts.has(name, _letters(sf.zygosity)))
    found += [gts.has(name, _letters(codes)) for name, codes in sf.genotypes]
    if sf.carrier_any:
        anyone = [gts.has(name, "12") for name in sf.carrier_any]
        found.append(("(" + " OR ".join(sql for sql, _ in anyone) + ")", [p for _, ps in anyone for p in ps]))
    found += [gts.has(name, "12") for name in sf.carrier_all]
    found += [gts.has(name, "0o") for name in sf.carrier_none]
    if sf.max_carriers is not None:
        found.append(("coalesce(carriers, 0) <= ?", [sf.max_carriers]))
    if sf.inheritance:
        found.append(_inheritance(sf, gts, rest))
    if sf.wants_somatic and sf.somatic:
        pair = sf.somatic
        found.append(gts.rows(pair.tumour, "zyg IN (1, 2) AND vaf >= ?", [pair.min_tumour_vaf]))
        found.append(gts.rows(pair.normal, "(vaf <= ? OR (vaf IS NULL AND zyg = 0)) AND dp >= ?",
                              [pair.max_normal_vaf, pair.min_normal_dp]))  # fmt: skip
    return [sql for sql, _ in found], [value for _, values in found for value in values]


_X_NAMES = ("X", "chrX", "23")


def _inheritance(sf: SampleFilter, gts: _Genotypes, rest: Callable[[], tuple[str, list[Any]]]) -> tuple[str, list[Any]]:
    """The inheritance mode for any of the filter's families (one condition on v)."""
    parts: list[tuple[str, list[Any]]] = []
    for family in sf.families:
        child, father, mother = family.child, family.father, family.mother
        if sf.inheritance == "de_novo":  # (both parents called, with no copy of any ALT)
            parts.append(_all([gts.has(child, "12"), gts.has(father, "0"), gts.has(mother, "0")]))
        elif sf.inheritance == "recessive":
            sibs = [gts.has(sib, "0o13") for sib in family.unaffected_siblings]
            parts.append(_all([gts.has(child, "2"), gts.has(father, "1"), gts.has(mother, "1"), *sibs]))
        elif sf.inheritance == "x_linked":
            if family.male:  # (an affected male: hemizygous, or hom_alt; the mother het, the father not carrying)
                x: tuple[str, list[Any]] = (f"chrom IN {_X_NAMES}", [])
                parts.append(_all([x, gts.has(child, "2"), gts.has(mother, "1"), gts.has(father, "0o")]))
        else:
            parts.append(_compound_het(family, gts, rest))
    if not parts:
        return "FALSE", []
    return "(" + " OR ".join(sql for sql, _ in parts) + ")", [value for _, values in parts for value in values]


def _compound_het(family: Family, gts: _Genotypes, rest: Callable[[], tuple[str, list[Any]]]) -> tuple[str, list[Any]]:
    """Per gene, the child's het alleles from the mother only paired with those from the father only
    (the other parent called hom_ref, neither parent hom_alt), less pairs an unaffected sibling
    carries both of; among the entries the rest of the filter keeps."""
    where, params = rest()
    child_het = gts.has(family.child, "1")
    maternal = _all([gts.has(family.mother, "1"), gts.has(family.father, "0o")])
    paternal = _all([gts.has(family.father, "1"), gts.has(family.mother, "0o")])
    sibs = []
    for sib in family.unaffected_siblings:
        both = _all([gts.has(sib, "12", v="m.v", zygs="m.zygs"), gts.has(sib, "12", v="p.v", zygs="p.zygs")])
        sibs.append((f"NOT {both[0]}", both[1]))
    if not sibs:  # (no pair to rule out: the genes with a maternal and a paternal candidate keep them all)
        sql = f"""v IN (WITH cand AS (SELECT Gene, v, {maternal[0]} AS m, {paternal[0]} AS p FROM t
                WHERE {where} AND Gene <> '' AND {child_het[0]} AND ({maternal[0]} OR {paternal[0]})),
            genes AS (SELECT Gene FROM cand GROUP BY Gene HAVING bool_or(m) AND bool_or(p))
            SELECT DISTINCT v FROM cand WHERE Gene IN (SELECT Gene FROM genes))"""
        return sql, [*maternal[1], *paternal[1], *params, *child_het[1], *maternal[1], *paternal[1]]
    kept = _all(sibs)
    sql = f"""v IN (WITH cand AS (SELECT DISTINCT Gene, v, zygs FROM t WHERE {where} AND Gene <> '' AND {child_het[0]}),
        maternal AS (SELECT Gene, v, zygs FROM cand WHERE {maternal[0]}),
        paternal AS (SELECT Gene, v, zygs FROM cand WHERE {paternal[0]}),
        pairs AS (SELECT m.v AS mv, p.v AS pv FROM maternal m JOIN paternal p USING (Gene) WHERE {kept[0]})
        SELECT mv FROM pairs UNION SELECT pv FROM pairs)"""
    return sql, [*params, *child_het[1], *maternal[1], *paternal[1], *kept[1]]
