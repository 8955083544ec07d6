"""Pages beside the variant table: the job page's samples card (per-sample counts, the pedigree drawn
small, sex and Mendelian QC flags), the filter panel's sample and source-value choices (fields,
facets), and a variant's own page (every entry, the sources' values, the genotypes, links out,
notations to copy)."""

from __future__ import annotations

from functools import partial
from typing import Any
from urllib.parse import urlencode

from jobs.models import Job
from jobs.results.browser import ENSEMBL, job_build, remembered, selected, source_field_types, variant_links
from jobs.results.downloads import ResultNotAvailable
from jobs.results.filters import VariantFilter
from jobs.results.samples import families, shown_samples
from jobs.results.schema import TableError
from jobs.results.tables import table_for
from jobs.results.value_filters import value_fields

# a parent-child pair is flagged past this share of Mendelian errors (with enough informative variants)
MENDELIAN_FLAG_SHARE, MENDELIAN_MIN_INFORMATIVE = 0.05, 20


def job_samples_panel(*, job: Job, charts: dict[str, Any] | None, with_table: bool) -> dict[str, Any] | None:
    """The job page's samples: per-sample counts (kept with the charts), the pedigree, and the QC
    flags: a sample whose sex from X heterozygosity disagrees with the pedigree, and parent-child
    pairs with an implausible share of Mendelian errors (counted from the genotype table while the
    result is hot: ``with_table``)."""
    stats = list((charts or {}).get("samples") or [])
    if not stats and not job.samples:
        return None
    people = {person["individual"]: person for person in job.pedigree}
    flags: list[str] = []
    for row in stats:
        person = people.get(row["sample"])
        row["person"] = person
        if person and person["sex"] in ("male", "female") and row["sex_from_x"] not in ("unknown", person["sex"]):
            row["sex_flag"] = True
            flags.append(f"{row['sample']}: the pedigree says {person['sex']}, X heterozygosity suggests "
                         f"{row['sex_from_x']} ({row['x_het']} het, {row['x_hom']} hom_alt calls on X)")  # fmt: skip
    pairs = []
    if with_table and job.pedigree:
        try:
            table = table_for(job)
        except (ResultNotAvailable, TableError, OSError):
            table = None
        known = set(table.samples) if table else set()
        for person in job.pedigree:
            for role in ("father", "mother"):
                parent = person[role]
                if table is None or parent not in known or person["individual"] not in known:
                    continue
                found = remembered(job, ("mendelian", parent, person["individual"]),
                                    partial(table.mendelian, parent, person["individual"]))  # fmt: skip
                share = found["errors"] / found["informative"] if found["informative"] else 0.0
                flagged = found["informative"] >= MENDELIAN_MIN_INFORMATIVE and share > MENDELIAN_FLAG_SHARE
                pairs.append({"parent": parent, "child": person["individual"], "role": role, **found,
                              "percent": round(100 * share, 1), "flagged": flagged})  # fmt: skip
                if flagged:
                    flags.append(f"{parent} and {person['individual']}: {found['errors']:,} Mendelian errors in "
                                 f"{found['informative']:,} informative variants ({share:.1%}): is {parent} "
                                 f"{person['individual']}'s {role}?")  # fmt: skip
    return {
        "samples": stats or [{"sample": name, "person": people.get(name)} for name in job.samples],
        "pedigree": job.pedigree,
        "diagram": family_diagram(job.pedigree),
        "families": families(job.pedigree, job.samples),
        "pairs": pairs,
        "flags": flags,
        "normal": job.normal_sample,
        "modes": INHERITANCE_LABELS,
    }


ZYGOSITY_LABELS = [("alt", "carries it (het or hom alt)"), ("het", "het"), ("hom_alt", "hom alt"),
                   ("hom_ref", "hom ref (called)"), ("missing", "missing")]  # fmt: skip


FACET_VALUES = 30  # a text field with at most this many values gets a facet


def value_choices(*, job: Job, params: dict[str, Any]) -> dict[str, Any]:
    """The filter panel's source values: the fields ``where`` takes (with their types), the
    conditions given, and a facet for each text field with few values (each value with its variants
    and the URL that adds it)."""
    types = source_field_types(job)
    if not types:
        return {"value_fields": {}}
    facets = []
    try:
        table = table_for(job)
    except (ResultNotAvailable, TableError, OSError):
        table = None
    raw = params.get("where") or []
    given = [str(item) for item in (raw if isinstance(raw, list) else [raw])]
    for column, kind in types.items():
        if table is None or kind in ("Float", "Integer") or column not in table.csq_columns:
            continue
        counts = remembered(job, ("facet", column), partial(table.value_counts, column, FACET_VALUES + 1))
        if 0 < len(counts) <= FACET_VALUES:
            kept = {key: values for key, values in params.items() if key not in ("where", "cursor")}

            def adding(value: str, kept: dict[str, Any] = kept, column: str = column) -> str:
                return "?" + urlencode(kept | {"where": [*given, f"{column}={value}"]}, doseq=True)

            facets.append((column, [(value, count, adding(value)) for value, count in counts]))
    return {"value_fields": value_fields(types), "where_given": given, "facets": facets}


def variant_detail(*, job: Job, v: int, params: dict[str, Any]) -> dict[str, Any] | None:
    """A variant's own page: every transcript entry with all its fields, the sources' values, the
    samples' genotypes (the named ones, else all of up to 16, else the first 8) and links out; None
    when the job has no such variant."""
    table = table_for(job)
    if not 0 <= v < table.variants:
        return None
    entries = table.entries(v)
    if not entries:
        return None
    first = entries[0]
    source_columns = [column for column in table.csq_columns
                      if any(column == entry["short_name"] or column.startswith(f"{entry['short_name']}_")
                             for entry in job.sources or [])]  # fmt: skip
    named = [name for name in selected(params, "sample") if name in table.samples]
    samples = named or shown_samples(VariantFilter(), table.samples)
    genotypes = table.sample_genotypes([v], samples).get(v, {})
    build = job_build(job)
    return {
        "v": v, "variant": first, "entries": entries,
        "fields": [column for column in table.csq_columns if column not in source_columns],
        "sources": [(column, first.get(column) or "") for column in source_columns],
        "genotypes": [{"sample": name, **genotype} for name, genotype in genotypes.items()],
        "all_samples": table.samples, "links": detail_links(first, entries, build),
        "notations": notations(first, entries),
    }  # fmt: skip


def notations(variant: dict[str, Any], entries: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The variant's notations to copy: its position and alleles, and each entry's HGVS (once each)."""
    found = [("VCF", f"{variant['chrom']}-{variant['pos']}-{variant['ref']}-{variant['alt']}")]
    for entry in entries:
        for field in ("HGVSc", "HGVSp", "HGVSg"):
            value = str(entry.get(field) or "")
            if value and (field, value) not in found:
                found.append((field, value.replace("%3D", "=")))
    return found


GNOMAD_DATASETS = {"GRCh37": "gnomad_r2_1", "GRCh38": "gnomad_r4"}


def detail_links(variant: dict[str, Any], entries: list[dict[str, Any]], build: str) -> list[tuple[str, str]]:
    """Links out that work with the job's reference: Ensembl's region and transcripts (Ensembl ids),
    dbSNP, ClinVar (a ClinVar source's id), gnomAD."""
    links = [(label.title() if label != "dbsnp" else "dbSNP", url) for label, url in
             variant_links(variant, build).items()]  # fmt: skip
    base = ENSEMBL.get(build)
    for entry in entries:
        feature = str(entry.get("Feature") or "")
        if base and feature.startswith("ENST"):
            links.append((f"Ensembl {feature}", f"{base}/Transcript/Summary?t={feature}"))
    clinvar = str(variant.get("ClinVar") or "")
    if clinvar and clinvar.split("&")[0].isdigit():
        links.append(("ClinVar", f"https://www.ncbi.nlm.nih.gov/clinvar/variation/{clinvar.split('&')[0]}/"))
    chrom = str(variant["chrom"]).removeprefix("chr")
    if build in GNOMAD_DATASETS and not str(variant["alt"]).startswith("<"):
        links.append(("gnomAD", f"https://gnomad.broadinstitute.org/variant/{chrom}-{variant['pos']}-"
                                f"{variant['ref']}-{variant['alt']}?dataset={GNOMAD_DATASETS[build]}"))  # fmt: skip
    return list(dict.fromkeys(links))


def sample_choices(*, samples: list[str], params: dict[str, Any]) -> dict[str, Any]:
    """The sample filters' choices: each sample with the zygosity chosen for it (genotype=NAME:code)."""
    chosen: dict[str, str] = {}
    raw = params.get("genotype") or []
    for item in raw if isinstance(raw, list) else [raw]:
        name, _, code = str(item).rpartition(":")
        chosen[name] = code
    return {
        "sample_choices": [(name, chosen.get(name, "")) for name in samples],
        "zygosity_choices": ZYGOSITY_LABELS,
        "inheritance_modes": INHERITANCE_LABELS,
    }


_SYMBOLS = {("male", False): "\u25a1", ("male", True): "\u25a0", ("female", False): "\u25cb",
            ("female", True): "\u25cf"}  # fmt: skip  (square, circle; filled when affected)


def family_diagram(pedigree: list[dict[str, str]]) -> list[dict[str, Any]]:
    """The pedigree drawn small: per couple (father, mother), their children; each person with the
    usual symbol (square male, circle female, diamond unknown; filled when affected)."""

    def person(name: str) -> dict[str, str]:
        found = next((p for p in pedigree if p["individual"] == name), None)
        sex, affected = (found["sex"], found["phenotype"] == "affected") if found else ("unknown", False)
        symbol = _SYMBOLS.get((sex, affected), "\u25c6" if affected else "\u25c7")
        return {"name": name, "symbol": symbol, "phenotype": found["phenotype"] if found else "unknown"}

    couples: dict[tuple[str, str, str], list[dict[str, str]]] = {}
    for entry in pedigree:
        if entry["father"] or entry["mother"]:
            key = (entry["family"], entry["father"], entry["mother"])
            couples.setdefault(key, []).append(person(entry["individual"]))
    return [{"family": family, "father": person(father) if father else None,
             "mother": person(mother) if mother else None, "children": children}
            for (family, father, mother), children in couples.items()]  # fmt: skip


INHERITANCE_LABELS = [("de_novo", "de novo"), ("recessive", "recessive"), ("compound_het", "compound het"),
                      ("x_linked", "X-linked")]  # fmt: skip
