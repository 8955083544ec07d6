"""What every API router shares: token authentication, the one error body and its statuses, the one
page envelope of lists, and the filters' documentation."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from django.conf import settings
from django.http import HttpRequest
from ninja import Field, Schema
from ninja.security import HttpBearer

from accounts.models import User
from gas_site import ratelimit
from jobs.services import tokens


class ApiRequest(HttpRequest):
    """A request the API authenticated: ``auth`` is the token's user."""

    auth: User


class TokenAuth(HttpBearer):
    """Bearer tokens, with guesses throttled per client address and requests per user."""

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        address = ratelimit.client_address(request)
        failures: dict[str, Any] = {
            "scope": "token-failures", "key": address, "window_seconds": 60,
            "limit": settings.GAS_TOKEN_FAILURES_PER_MINUTE, "what": "failed sign-ins with a token",
        }  # fmt: skip
        ratelimit.check(**failures)
        user = tokens.api_token_authenticate(token)
        if user is None:
            ratelimit.hit(**failures)
            return None
        ratelimit.hit(
            scope="api", key=str(user.pk), limit=settings.GAS_API_RATE_PER_MINUTE, window_seconds=60,
            what="API requests",
        )  # fmt: skip
        request.user = user
        return user


class ErrorOut(Schema):
    """Every error the API answers: a stable ``code`` to act on and a ``detail`` in words (a request
    that does not fit the schema also lists its ``errors``, as pydantic reports them)."""

    code: str
    detail: str
    errors: list[dict[str, Any]] | None = None


ItemT = TypeVar("ItemT")


class Page(Schema, Generic[ItemT]):
    """The one envelope of every list: how many match, where the next page starts (null: the last
    page; pass it back as ``cursor``), and this page's items."""

    count: int
    next_cursor: str | None
    items: list[ItemT]


ERRORS = {status: ErrorOut for status in (400, 401, 404, 409, 413, 422, 429, 503)}


def errors(*statuses: int) -> dict[int, type[ErrorOut]]:
    """The error answers an operation declares, for its ``response`` map."""
    return {status: ERRORS[status] for status in statuses}


def page(items: list[Any], *, count: int, next_cursor: str | None = None, **aliases: list[Any]) -> dict[str, Any]:
    """The one envelope of every list: how many match, where the next page starts (None: the last
    page), and this page's items (``aliases``: the same list under a former key, for one release)."""
    return {"count": count, "next_cursor": next_cursor, "items": items, **{key: items for key in aliases}}


class ResultsQuery(Schema):
    """The filters, sort and paging of a request for a job's results, as declared in the schema (each
    list: comma-separated values, or the parameter repeated)."""

    consequence: list[str] = []
    impact: list[str] = []
    gene: list[str] = []
    biotype: list[str] = []
    region: list[str] = []
    variant_class: list[str] = Field([], alias="class")
    dbsnp: str = ""
    annotated: str = ""
    q: str = ""
    show: str = ""
    most_severe: list[str] = []
    where: list[str] = []
    sample: list[str] = []
    zygosity: list[str] = []
    min_dp: str = ""
    min_gq: str = ""
    min_vaf: str = ""
    genotype: list[str] = []
    carrier_any: list[str] = []
    carrier_all: list[str] = []
    carrier_none: list[str] = []
    max_carriers: str = ""
    inheritance: str = ""
    proband: str = ""
    somatic: str = ""
    tumour: str = ""
    normal: str = ""
    min_tumour_vaf: str = ""
    max_normal_vaf: str = ""
    min_normal_dp: str = ""
    sort: str = ""
    limit: str = ""
    cursor: str = ""

    def params(self) -> dict[str, Any]:
        """As parse_filter and the selectors take them: only what was given, under the URL's names."""
        return {key: value for key, value in self.model_dump(by_alias=True).items() if value not in ("", [])}


FILTER_DOC = (
    "Filters combine (each takes a comma-separated list, any of which matches): `consequence` (VEP terms), "
    "`impact` (HIGH, MODERATE, LOW, MODIFIER), `gene` (symbols or ids), `biotype`, "
    "`region` (chr:start-end, several separated by spaces or ;), "
    "`class` (SNV, insertion, deletion, MNV, SV), `dbsnp` (yes/no), `annotated` (yes/no: no for the records "
    "written without CSQ, such as those on contigs the reference lacks), `q` (an rs id, or text in HGVSc/HGVSp), "
    "`show` (variant: each variant once by its most severe matching entry; all: every matching entry), "
    "`most_severe` (the variant's most severe entry has this term, impact, or is coding / non_coding: the "
    "summary's charts' bars). "
    "Sources' values: `where=FIELD OP VALUE` (repeatable, AND-ed; OP one of = != < <= > >= ~), typed by the "
    "source's header (numbers compare as numbers; = and != take several values, any of them; ~ contains), "
    "`|missing` at the end also keeps variants without a value; `max_af` the largest frequency, "
    "`<ClinVar>_stars` the review status as stars. "
    "Samples: `sample` (repeatable) names samples, whose genotypes each row carries (`samples`; none named: all "
    "of up to 16, else the first 8); `zygosity` (het, hom_alt, alt = het or hom_alt, hom_ref, missing; relative "
    "to the row's ALT), `min_dp`, `min_gq`, `min_vaf` apply to each named sample; `genotype=NAME:het,hom_alt` one "
    "sample's zygosity; `carrier_any`, `carrier_all`, `carrier_none` (samples carrying the ALT; none: each called "
    "hom_ref); `max_carriers` (in at most N samples); `inheritance` (de_novo, recessive, compound_het, x_linked: "
    "from the job's pedigree, for each affected individual with both parents, or `proband`; a missing parental "
    "genotype never counts as not carrying); `somatic=yes` with `tumour`, `normal` (default: the job's normal "
    "sample), `min_tumour_vaf` (0.05), `max_normal_vaf` (0.02), `min_normal_dp` (10)."
)
PAGE_DOC = (
    " Every list answers `{count, next_cursor, items}`: pass `next_cursor` back as `cursor` for the next "
    "page (null: the last one). A bad `limit`, `cursor` or filter is a 400 with `code` and `detail`."
)
