"""Variants pasted or uploaded as notations (HGVS, SPDI, regions, rs ids; one per line) instead of a
VCF: what such an input must pass before it becomes a job (text, one notation GAS reads per line,
within the plan's size), the reference it goes to, and its conversion to VCF on the annotator, whose
unresolved lines become the job's warnings."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, cast

from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile
from django.template.defaultfilters import filesizeformat

from jobs.annotation.errors import AnnotationError
from jobs.annotation.gene_models import open_text
from jobs.annotation.notations import NotationResult, detect_format, looks_like_notations, notations_to_vcf
from jobs.annotation.reference import Reference
from jobs.references.bundles import load_reference
from jobs.services.uploads import UploadRejected

PASTED_NAME = "pasted_variants.txt"
MAX_PASTED = 1_000_000  # characters pasted (the request's form data is bounded at 2 MB); more goes as a .txt file
MAX_LINE = 1000  # characters of one notation line
EXAMPLES = "20:g.36030940G>A, ENST00000380152.3:c.68-7T>A, NC_000020.10:36030939:G:A, 20:36030940-36030940/A, rs6025"


def is_notation_input(handle: IO[bytes]) -> bool:
    """Whether an upload holds notations rather than VCF or BCF (its first line says)."""
    head = handle.read(1 << 16)
    handle.seek(0)
    return looks_like_notations(head)


def pasted_upload(text: str) -> UploadedFile:
    """Pasted notations as an upload, to go the way of a file."""
    if len(text) > MAX_PASTED:
        raise UploadRejected(
            f"{len(text):,} characters pasted: up to {MAX_PASTED:,} go in the box; upload more as a .txt file",
            code="too_large",
        )
    return SimpleUploadedFile(PASTED_NAME, text.encode("utf-8"), content_type="text/plain")


def notation_reference(reference_name: str | None) -> Reference:
    """The reference named, else the default one (notations do not say their build)."""
    try:
        return load_reference(reference_name or None)
    except AnnotationError as exc:
        raise UploadRejected(f"{exc}; choose an installed reference for the notations") from exc


def check_notations(handle: IO[bytes], *, name: str, reference_name: str | None, max_bytes: int) -> Reference:
    """The reference notations go to, after checking every line is text, short, and a notation GAS
    reads (whether it can be resolved is found out on the annotator), within ``max_bytes``."""
    reference = notation_reference(reference_name)
    count = 0
    for number, text in _lines(handle, name=name, max_bytes=max_bytes):
        if not text or text.startswith("#"):
            continue
        if detect_format(text) is None:
            shown = text if len(text) <= 60 else text[:57] + "..."
            raise UploadRejected(
                f"{name}, line {number}: {shown!r} is not a variant notation GAS reads; "
                f"one per line, such as {EXAMPLES}"
            )
        count += 1
    if not count:
        raise UploadRejected(f"{name}: no variants in it; give one notation per line, such as {EXAMPLES}")
    return reference


def _lines(handle: IO[bytes], *, name: str, max_bytes: int) -> Iterator[tuple[int, str]]:
    """Each line's number and stripped text, read within ``max_bytes`` (after decompression)."""
    handle.seek(0)
    magic = handle.read(2)
    handle.seek(0)
    stream: IO[bytes] = cast(IO[bytes], gzip.GzipFile(fileobj=handle)) if magic == b"\x1f\x8b" else handle
    consumed = 0
    try:
        for number, raw in enumerate(iter(lambda: stream.readline(MAX_LINE + 2), b""), 1):
            consumed += len(raw)
            if consumed > max_bytes:
                raise UploadRejected(f"{name}: more than {filesizeformat(max_bytes)} of notations, the plan's limit")
            if len(raw.rstrip(b"\r\n")) > MAX_LINE:
                raise UploadRejected(f"{name}, line {number}: longer than {MAX_LINE} characters")
            try:
                yield number, raw.decode("utf-8").strip()
            except UnicodeDecodeError:
                raise UploadRejected(f"{name}, line {number}: not text (bytes that are not UTF-8)") from None
    except (EOFError, gzip.BadGzipFile, OSError, zlib.error) as exc:
        raise UploadRejected(f"{name}: the gzip data is damaged or truncated ({exc}).") from None
    finally:
        handle.seek(0)


def resolve_notation_file(
    *, source: Path, destination: Path, reference: Reference, name: str, fmt: str | None = None
) -> NotationResult:
    """Write the VCF of a file of notations; fails (AnnotationError) only when none resolves."""
    with open_text(source) as handle:
        result = notations_to_vcf(handle, destination, reference, fmt=fmt)
    if not result.records:
        shown = "; ".join(result.problems[:3]) or "the file holds none"
        raise AnnotationError(f"{name}: none of the {result.notations} notations could be resolved: {shown}")
    return result


def notation_warnings(result: NotationResult) -> list[str]:
    """What a job of notations did not annotate, for its page, mail and API."""
    if not result.unresolved:
        return []
    shown = "; ".join(result.problems[:10])
    more = f" (and {result.unresolved - 10} more)" if result.unresolved > 10 else ""
    return [
        f"{result.unresolved} of {result.notations} notations could not be resolved and are not in the results: "
        f"{shown}{more}"
    ]
