"""Named filter sets: a user's variant browser filters kept by name, applied to any job, exported and
imported as JSON (the parameters the URL and the API take), and a few built in."""

from __future__ import annotations

import json
import logging
from typing import Any

from django.core import signing
from django.db import IntegrityError, transaction

from accounts.models import User
from gas_site.errors import ServiceError
from jobs.models import FilterSet
from jobs.results.filters import parse_filter

logger = logging.getLogger(__name__)

# the parameters a set keeps (paging and the page's layout are not filters)
NOT_KEPT = ("cursor", "page", "limit", "columns")
MAX_SETS = 200
MAX_IMPORT_BYTES = 256 * 1024
LOSS_OF_FUNCTION = ("transcript_ablation", "splice_acceptor_variant", "splice_donor_variant", "stop_gained",
                    "frameshift_variant", "stop_lost", "start_lost")  # fmt: skip
BUILT_IN: dict[str, dict[str, Any]] = {
    "HIGH impact": {"impact": "HIGH"},
    "loss of function": {"consequence": ",".join(LOSS_OF_FUNCTION)},
    "rare coding (needs a frequency source)": {"impact": "HIGH,MODERATE", "where": ["max_af<0.01|missing"]},
}


class FilterSetError(ServiceError):
    code = "invalid_filter_set"


def kept_params(params: dict[str, Any]) -> dict[str, Any]:
    """The filter parameters of a request (non-empty, paging left out), checked as the browser checks them."""
    kept = {key: value for key, value in params.items() if key not in NOT_KEPT and value not in ("", [], None)}
    parse_filter(kept)  # (a TableError names a bad one)
    return kept


def filter_set_save(*, owner: User, name: str, params: dict[str, Any]) -> FilterSet:
    """Keep ``params`` as the owner's set ``name`` (replacing one of that name)."""
    name = " ".join(name.split())
    if not name or len(name) > 100:
        raise FilterSetError("A filter set needs a name of 1 to 100 characters.")
    kept = kept_params(params)
    if not kept:
        raise FilterSetError("There is no filter to keep: choose some first.")
    if FilterSet.objects.filter(owner=owner).exclude(name=name).count() >= MAX_SETS:
        raise FilterSetError(f"You have {MAX_SETS} filter sets, the most kept: delete one first.")
    found, _ = FilterSet.objects.update_or_create(owner=owner, name=name, defaults={"params": kept})
    logger.info("user %s: filter set %r saved", owner.pk, name)
    return found


def filter_set_export(filter_set: FilterSet) -> dict[str, Any]:
    return {"name": filter_set.name, "params": filter_set.params}


def filter_set_import(*, owner: User, data: bytes) -> list[FilterSet]:
    """Sets from JSON: one ``{"name": …, "params": {…}}`` or a list of them (each checked)."""
    if len(data) > MAX_IMPORT_BYTES:
        raise FilterSetError(f"The file is larger than {MAX_IMPORT_BYTES // 1024} KB; a filter set is a few lines.")
    try:
        parsed = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise FilterSetError(f"Not JSON ({exc}): expected {{\"name\": ..., \"params\": {{...}}}}.") from None
    items = parsed if isinstance(parsed, list) else [parsed]
    if not items or not all(isinstance(item, dict) and isinstance(item.get("params"), dict) for item in items):
        raise FilterSetError('Expected {"name": ..., "params": {...}} (or a list of them).')
    with transaction.atomic():
        try:
            return [filter_set_save(owner=owner, name=str(item.get("name") or ""), params=item["params"])
                    for item in items]  # fmt: skip
        except IntegrityError:
            raise FilterSetError("Two sets in the file share a name.") from None


SHARE_SALT = "gas.filter-set.share"
MAX_SHARE_TOKEN = 8192


def filter_set_share_token(filter_set: FilterSet) -> str:
    """A link's token that carries the set itself (name and parameters), signed by this site: whoever
    opens it sees only the filters, never the owner's jobs, and can apply them to their own."""
    return signing.dumps({"name": filter_set.name, "params": filter_set.params}, salt=SHARE_SALT, compress=True)


def filter_set_from_token(token: str) -> dict[str, Any]:
    """The set a shared link carries (``name``, ``params``, checked as the browser checks them)."""
    try:
        if len(token) > MAX_SHARE_TOKEN:
            raise signing.BadSignature("too long")
        data = signing.loads(token, salt=SHARE_SALT)
        params = kept_params(dict(data["params"]))
        name = " ".join(str(data["name"]).split())[:100]
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise FilterSetError("This filter set link is damaged or was not made by this site.") from None
    return {"name": name, "params": params}
