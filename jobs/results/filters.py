"""What the browser shows: filters from URL parameters (clear errors for bad ones), as SQL, and
the cursors that page through them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from jobs.annotation.terms import TERMS
from jobs.results.sample_filters import SampleFilter, param_values, parse_sample_filter, sample_conditions
from jobs.results.schema import CODING, IMPACTS, NOT_ANNOTATED_RANK, VARIANT_CLASSES, TableError
from jobs.results.value_filters import ValueCondition, parse_where, value_conditions

_RS = re.compile(r"^rs\d+$")


@dataclass(frozen=True)
class Region:
    chrom: str
    start: int = 0
    end: int = 0  # 0: to the end of the chromosome

    def __str__(self) -> str:
        if not self.start:
            return self.chrom
        return f"{self.chrom}:{self.start}-{self.end}" if self.end else f"{self.chrom}:{self.start}-"


@dataclass(frozen=True)
class VariantFilter:
    """What the browser shows: entries matching every given filter (each list: any of its values).

    ``per_variant`` shows each variant once, by its most severe entry among those that match."""

    consequences: tuple[str, ...] = ()
    impacts: tuple[str, ...] = ()
    genes: tuple[str, ...] = ()
    biotypes: tuple[str, ...] = ()
    regions: tuple[Region, ...] = ()
    variant_classes: tuple[str, ...] = ()
    in_dbsnp: bool | None = None
    annotated: bool | None = None  # (no: the records the engine wrote without CSQ, such as other contigs')
    text: str = ""
    per_variant: bool = True
    values: tuple[ValueCondition, ...] = ()  # (where=: the sources' values)
    most_severe: tuple[str, ...] = ()  # (the summary charts' bars: a term, an impact, coding or non_coding)
    sample_filter: SampleFilter = field(default_factory=SampleFilter)
    extra: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def entry_level(self) -> bool:
        """Whether a filter looks into transcript entries (else the variant's worst entry stands)."""
        return bool(self.consequences or self.impacts or self.genes or self.biotypes or self.text)

    def query(self) -> dict[str, Any]:
        """The filter as URL parameters (the browser's links, the API's next page)."""
        params = {
            "consequence": ",".join(self.consequences), "impact": ",".join(self.impacts),
            "gene": ",".join(self.genes), "biotype": ",".join(self.biotypes),
            "region": " ".join(map(str, self.regions)), "class": ",".join(self.variant_classes),
            "dbsnp": "" if self.in_dbsnp is None else ("yes" if self.in_dbsnp else "no"),
            "annotated": "" if self.annotated is None else ("yes" if self.annotated else "no"),
            "q": self.text, "show": "" if self.per_variant else "all", "most_severe": ",".join(self.most_severe),
        }  # fmt: skip
        where = {"where": [str(condition) for condition in self.values]} if self.values else {}
        return {key: value for key, value in params.items() if value} | where | self.sample_filter.query()


_REGION = re.compile(r"^(?P<chrom>[A-Za-z0-9_.]+)(?::(?P<start>[\d,]+)(?:-(?P<end>[\d,]*))?)?$")


def parse_region(text: str) -> Region:
    match = _REGION.match(text.strip())
    if not match:
        raise TableError(
            f"region {text!r}: expected chromosome:start-end (for example 20:1000000-2000000), or a chromosome"
        )
    start = int(match["start"].replace(",", "")) if match["start"] else 0
    end = (
        int(match["end"].replace(",", ""))
        if match["end"]
        else (start if match["start"] and match["end"] is None else 0)
    )
    if match["start"] is not None and (start < 1 or (match["end"] and end < 1)):
        raise TableError(f"region {text!r}: positions count from 1 (chromosome:start-end, or start- for to the end)")
    if end and start > end:
        raise TableError(f"region {text!r}: the start ({start}) is after the end ({end})")
    return Region(match["chrom"], start, end)


def parse_filter(params: Mapping[str, Any]) -> VariantFilter:
    """A VariantFilter from URL parameters (consequence, impact, gene, biotype, region, class,
    dbsnp=yes|no, annotated=yes|no, q, show=all); a TableError names the parameter and what it expects."""
    consequences = tuple(param_values(params, "consequence"))
    unknown = [term for term in consequences if term not in TERMS]
    if unknown:
        raise TableError(
            f"consequence {', '.join(unknown)}: not a consequence term VEP reports (for example missense_variant)"
        )
    impacts = tuple(value.upper() for value in param_values(params, "impact"))
    if bad := [value for value in impacts if value not in IMPACTS]:
        raise TableError(f"impact {', '.join(bad)}: expected one of {', '.join(IMPACTS)}")
    classes = tuple(param_values(params, "class"))
    if bad := [value for value in classes if value not in VARIANT_CLASSES]:
        raise TableError(f"class {', '.join(bad)}: expected one of {', '.join(VARIANT_CLASSES)}")
    dbsnp_text = _yes_no(params, "dbsnp")
    annotated_text = _yes_no(params, "annotated")
    show = str(params.get("show") or "variant")
    if show not in ("variant", "all"):
        raise TableError(f"show {show!r}: expected variant (one entry per variant) or all (every transcript)")
    most_severe = tuple(param_values(params, "most_severe"))
    if bad := [value for value in most_severe if value not in (*TERMS, *IMPACTS, *CHART_GROUPS)]:
        raise TableError(f"most_severe {', '.join(bad)}: expected a consequence term, an impact or coding / non_coding")
    text = str(params.get("q") or "").strip()
    if len(text) > 200:
        raise TableError("q: at most 200 characters")
    return VariantFilter(
        sample_filter=parse_sample_filter(params),
        values=parse_where(params),
        consequences=consequences,
        impacts=impacts,
        genes=tuple(param_values(params, "gene"))[:200],
        biotypes=tuple(param_values(params, "biotype")),
        regions=_regions(params),
        variant_classes=classes,
        in_dbsnp=None if not dbsnp_text else dbsnp_text in ("yes", "true"),
        annotated=None if not annotated_text else annotated_text in ("yes", "true"),
        text=text,
        per_variant=show == "variant",
        most_severe=most_severe,
    )


def _yes_no(params: Mapping[str, Any], name: str) -> str:
    text = str(params.get(name) or "").lower()
    if text not in ("", "yes", "no", "true", "false"):
        raise TableError(f"{name} {text!r}: expected yes or no")
    return text


def _regions(params: Mapping[str, Any]) -> tuple[Region, ...]:
    """The region filter's regions (separated by ``;`` or spaces, at most 50); a value given that
    holds none (``;;;``) is an error, not "no filter"."""
    values = param_values(params, "region", r"[;\s]+")
    raw = params.get("region") or ""
    if not values and any(str(item).strip() for item in (raw if isinstance(raw, list | tuple) else [raw])):
        raise TableError(f"region {str(raw)[:40]!r}: expected chromosome:start-end (for example 20:1000000-2000000)")
    if len(values) > 50:
        raise TableError(f"region: at most 50 regions, found {len(values)}")
    return tuple(parse_region(value) for value in values)


def _chrom_names(name: str) -> list[str]:
    bare = name[3:] if name.lower().startswith("chr") else name
    names = [bare, f"chr{bare}"]
    if bare.upper() in ("M", "MT"):
        names += ["M", "MT", "chrM", "chrMT"]
    return names


def where_clause(filt: VariantFilter, *, entries: bool) -> tuple[str, list[Any]]:
    """SQL conditions and their parameters; ``entries``: the entry-level ones too."""
    conditions: list[str] = []
    params: list[Any] = []
    if filt.regions:
        parts = []
        for region in filt.regions:
            part = "chrom IN (SELECT unnest(?))"
            params.append(_chrom_names(region.chrom))
            if region.start:
                part += " AND pos >= ?"
                params.append(region.start)
            if region.end:
                part += " AND pos <= ?"
                params.append(region.end)
            parts.append(f"({part})")
        conditions.append("(" + " OR ".join(parts) + ")")
    if filt.variant_classes:
        conditions.append("variant_class IN (SELECT unnest(?))")
        params.append(list(filt.variant_classes))
    if filt.in_dbsnp is not None:
        conditions.append("in_dbsnp" if filt.in_dbsnp else "NOT in_dbsnp")
    if filt.annotated is not None:  # (a record without CSQ is one row with no consequence)
        conditions.append("Consequence <> ''" if filt.annotated else "Consequence = ''")
    if filt.most_severe:  # (what the variant's most severe entry is, as the summary charts count)
        conditions.append("worst AND (rank IN (SELECT unnest(?)) OR impact_rank IN (SELECT unnest(?)))")
        params += [_ranks(filt.most_severe), [IMPACTS.index(value) for value in filt.most_severe if value in IMPACTS]]
    if filt.values:  # (a source's values are the same in every entry of a variant: a variant-level filter)
        sql, values = value_conditions(filt.values)
        conditions += sql
        params += values
    if filt.sample_filter.active:  # (compound het pairs within what the rest of the filter keeps)
        rest = replace(filt, sample_filter=replace(filt.sample_filter, inheritance="", families=()))
        sql, values = sample_conditions(filt.sample_filter, rest=partial(where_clause, rest, entries=True))
        conditions += sql
        params += values
    if entries:
        if filt.consequences:
            conditions.append("list_has_any(string_split(Consequence, '&'), ?)")
            params.append(list(filt.consequences))
        if filt.impacts:
            conditions.append("IMPACT IN (SELECT unnest(?))")
            params.append(list(filt.impacts))
        if filt.genes:
            conditions.append("(upper(SYMBOL) IN (SELECT unnest(?)) OR Gene IN (SELECT unnest(?)))")
            params += [[gene.upper() for gene in filt.genes], list(filt.genes)]
        if filt.biotypes:
            conditions.append("BIOTYPE IN (SELECT unnest(?))")
            params.append(list(filt.biotypes))
        if filt.text:
            if _RS.match(filt.text):  # an rs id: the whole id among the known ones
                conditions.append("(list_contains(string_split(id, ';'), ?) OR "
                                  "list_contains(string_split(Existing_variation, '&'), ?))")  # fmt: skip
                params += [filt.text, filt.text]
            else:
                conditions.append("(contains(lower(HGVSc), ?) OR contains(lower(HGVSp), ?) OR contains(lower(id), ?))")
                params += [filt.text.lower()] * 3
    return (" AND ".join(conditions) or "TRUE"), params


CHART_GROUPS = {"coding": CODING, "non_coding": frozenset(TERMS) - CODING}


def _ranks(values: tuple[str, ...]) -> list[int]:
    """The consequence ranks that ``most_severe`` values name (terms, and the coding groups)."""
    terms = {value for value in values if value in TERMS}
    for value in values:
        terms |= CHART_GROUPS.get(value, set())
    unannotated = [NOT_ANNOTATED_RANK] if "non_coding" in values else []  # (as the coding chart counts them)
    return sorted(TERMS[term][0] for term in terms) + unannotated


MAX_OFFSET = 10**9  # (rows into a list: a cursor past it is not one this service gave)


@dataclass(frozen=True)
class Cursor:
    """Where a page starts: ``offset`` rows in (shown as "51-100"; the paging of sorts other than
    position) and, in position order, after (or, going back, before) a variant."""

    offset: int = 0
    after: int | None = None
    before: int | None = None

    def __str__(self) -> str:
        if self.after is not None:
            return f"a{self.after}.{self.offset}"
        if self.before is not None:
            return f"b{self.before}.{self.offset}"
        return str(self.offset)

    @classmethod
    def parse(cls, text: str) -> Cursor:
        match = re.fullmatch(r"(?:(?P<kind>[ab])(?P<v>\d+)\.)?(?P<offset>\d+)", text.strip())
        if not match:
            raise TableError(
                f"cursor {text[:40]!r}: not a cursor this service gave (use next_cursor as given)",
                code="invalid_cursor",
            )
        offset, kind = int(match["offset"]), match["kind"]
        if offset > MAX_OFFSET or len(match["v"] or "") > 18:  # (beyond any table; past SQL's integers)
            raise TableError(f"cursor {text[:40]!r}: not a cursor this service gave", code="invalid_cursor")
        if kind is None:
            return cls(offset)
        v = int(match["v"])
        return cls(offset, after=v) if kind == "a" else cls(offset, before=v)
