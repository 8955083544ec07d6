"""What an upload must pass before it becomes a job: size for the plan, a VCF (or BCF) header that
fits a reference, its first REF alleles against the genome, a gzip stream read to its end; and the
safe file names a job's input and results are stored under."""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, cast

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from django.utils.text import get_valid_filename

from accounts.models import User
from gas_site.errors import ServiceError
from jobs.annotation.bcf import BcfError, BcfTextFile, holds_bcf
from jobs.annotation.errors import AnnotationError
from jobs.annotation.reference import Reference
from jobs.references.bundles import load_reference
from jobs.references.matching import contig_fields, declared_length, reference_for_header

logger = logging.getLogger(__name__)

HEADER_READ_LIMIT = 8 * 1024 * 1024  # bytes of (decompressed) header checked before queueing
MAX_NAME_STEM = 100  # characters of a file name kept (file systems allow 255 bytes for a whole name)


class UploadRejected(ServiceError):
    """An upload that cannot become a job (``too_large`` for the plan, ``not_found`` for something it
    names that is not the user's)."""

    code = "invalid_upload"


def upload_limit(user: User) -> int:
    return settings.GAS_PREMIUM_MAX_UPLOAD_BYTES if user.is_premium else settings.GAS_FREE_MAX_UPLOAD_BYTES


def too_large_message(user: User, size: int | None = None) -> str:
    limit = upload_limit(user)
    got = f" ({filesizeformat(size)})" if size else ""
    extra = "" if user.is_premium else " Upgrade to premium for larger files."
    plan = user.get_plan_display()
    return f"The file is too large{got}: your {plan} plan accepts up to {filesizeformat(limit)}.{extra}"


def _header_lines(handle: IO[bytes], name: str) -> Iterator[str]:
    """The header's lines, each read with a bound (never more than HEADER_READ_LIMIT bytes in all,
    whatever the length of one line), decoded one at a time so that errors name the line."""
    magic = handle.read(2)
    handle.seek(0)
    stream: IO[bytes] = cast(IO[bytes], gzip.GzipFile(fileobj=handle)) if magic == b"\x1f\x8b" else handle
    consumed = 0
    number = 0
    try:
        while True:
            raw = stream.readline(HEADER_READ_LIMIT - consumed + 1)
            if not raw:
                return
            number += 1
            consumed += len(raw)
            if consumed > HEADER_READ_LIMIT:
                raise UploadRejected(
                    f"{name}, line {number}: the VCF header is longer than {HEADER_READ_LIMIT // 1024 // 1024} MB "
                    "(the limit checked before a job is queued)."
                )
            try:
                yield raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError:
                raise UploadRejected(
                    f"{name}, line {number}: not text (bytes that are not UTF-8); is it a VCF, or gzip-compressed one?"
                ) from None
    except (EOFError, gzip.BadGzipFile, OSError, zlib.error) as exc:
        raise UploadRejected(f"{name}: the gzip data is damaged or truncated ({exc}).") from None


def choose_reference(*, reference_name: str | None, handle: IO[bytes], name: str) -> Reference:
    """The reference a job names, else the one its header fits (jobs.references.reference_for_header)."""
    try:
        if reference_name:
            return load_reference(reference_name)
        header = []
        for line in _header_lines(handle, name):
            header.append(line)
            if line.startswith("#CHROM"):  # (_header_lines bounds what is read)
                break
        return reference_for_header(header)
    except AnnotationError as exc:
        raise UploadRejected(f"{name}: {exc}") from exc


def header_samples(handle: IO[bytes], *, name: str) -> tuple[list[str], str]:
    """The VCF's sample names (its #CHROM line's, after FORMAT) and the normal sample a caller
    declared (``##normal_sample=``, as Mutect2 writes), read from its header."""
    normal = ""
    for line in _header_lines(handle, name):
        if line.startswith("##normal_sample="):
            normal = line.split("=", 1)[1].strip()
        elif line.startswith("#CHROM"):
            return line.split("\t")[9:], normal
        elif not line.startswith("#"):
            break
    return [], normal


def check_vcf_header(handle: IO[bytes], *, name: str, reference: Reference) -> None:
    """A quick check before anything is queued: a VCF header, and contigs that fit the reference build."""
    lines = _header_lines(handle, name)
    first = next(lines, None)
    if first is None:
        raise UploadRejected(f"{name} is empty.")
    if not first.startswith("##fileformat=VCF"):
        raise UploadRejected(f"{name} is not a VCF: line 1 must be ##fileformat=VCFv4.x, found {first[:40]!r}.")
    for number, line in enumerate(lines, 2):
        if line.startswith("##contig=<"):
            fields = contig_fields(line)
            contig = reference.resolve_contig(fields.get("ID", ""))
            length = declared_length(fields)
            if contig and length is not None and length != reference.contig_lengths[contig]:
                raise UploadRejected(
                    f"{name}, line {number}: contig {fields['ID']} is {length:,} bp long in the file but "
                    f"{reference.contig_lengths[contig]:,} bp in {reference.build}: the file is for another genome "
                    f"build than the reference {reference.name}."
                )
        elif line.startswith("#CHROM"):
            if line.split("\t")[:8] != ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"]:
                raise UploadRejected(
                    f"{name}, line {number}: the column header must be #CHROM POS ID REF ALT QUAL FILTER INFO, "
                    "separated by tabs."
                )
            return
        elif not line.startswith("##"):
            raise UploadRejected(f"{name}, line {number}: expected the #CHROM column header before the data.")
    raise UploadRejected(f"{name}: no #CHROM column header line was found.")


REF_SAMPLE = 200  # data lines whose REF is compared with the genome at upload
REF_SAMPLE_MINIMUM = 20  # fewer compared than this: too few to refuse a file on


def check_vcf_body(
    handle: IO[bytes], *, name: str, reference: Reference, max_bytes: int, read_through: bool = True
) -> None:
    """What can be known of the data before a job is queued: a gzip file is read through to its end
    (a truncated or damaged one is refused now, not when a worker reaches the break), within the
    plan's decompressed limit and GAS_UPLOAD_SCAN_BYTES (a small bomb must not hold a web process
    for long); and a file whose first data lines' REF alleles all disagree with the genome is
    refused (another build, or positions shifted). Read in blocks, not lines."""
    magic = handle.read(2)
    handle.seek(0)
    compressed = magic == b"\x1f\x8b"
    stream: IO[bytes] = cast(IO[bytes], gzip.GzipFile(fileobj=handle)) if compressed else handle
    head = b""
    total = 0
    scan = min(max_bytes + 1, settings.GAS_UPLOAD_SCAN_BYTES)  # (past it, the worker finds any break)
    try:
        while total < scan:
            block = stream.read(min(1 << 20, scan - total))
            if not block:
                break
            total += len(block)
            if total > max_bytes:
                raise UploadRejected(
                    f"{name} holds more than {filesizeformat(max_bytes)} of VCF text once decompressed, the most "
                    "one job of your plan may read.",
                    code="too_large",
                )
            if len(head) < 4 << 20:
                head += block
            elif not compressed or not read_through:
                break  # (a plain file cannot be truncated in a way reading would show)
    except (EOFError, gzip.BadGzipFile, OSError, zlib.error) as exc:
        raise UploadRejected(
            f"{name}: the gzip data is damaged or truncated after {total:,} bytes of VCF text ({exc}); "
            "upload the whole file again."
        ) from None
    _check_sample(head, name=name, reference=reference)


def check_vcf_start(start: bytes, *, name: str, reference: Reference) -> None:
    """The REF check of ``check_vcf_body`` on a file's first bytes only (a direct upload: the web
    server reads just its start from S3), gzip-compressed or not; the worker checks the rest."""
    if start[:2] == b"\x1f\x8b":
        start = zlib.decompressobj(31).decompress(start, 4 << 20)  # (a cut stream is fine here)
    _check_sample(start, name=name, reference=reference)


def _check_sample(head: bytes, *, name: str, reference: Reference) -> None:
    compared = 0
    first: str | None = None
    for number, raw in enumerate(head.split(b"\n")[:-1], 1):
        if raw.startswith(b"#") or not raw.strip():
            continue
        columns = raw.decode("utf-8", "replace").split("\t", 5)
        if len(columns) < 5 or not columns[1].isdigit():
            continue  # (the worker reports a malformed line with its own message)
        contig = reference.resolve_contig(columns[0])
        ref = columns[3].upper()
        if contig is None or not ref or ref.strip("ACGT"):
            continue
        pos = int(columns[1])
        genome = reference.sequence(contig, pos, pos + len(ref) - 1)
        compared += 1
        if genome == ref:
            return
        if first is None:
            first = f"line {number}: {columns[0]}:{pos} REF {columns[3]}, the genome has {genome or 'nothing there'}"
        if compared >= REF_SAMPLE:
            break
    if compared >= REF_SAMPLE_MINIMUM:
        raise UploadRejected(
            f"{name}: none of the REF alleles of its first {compared} data lines agrees with {reference.build} "
            f"(reference {reference.name}; {first}): the file is for another genome build, or its positions are "
            "shifted."
        )


def sha256_and_size(upload: UploadedFile) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    for chunk in upload.chunks():
        digest.update(chunk)
        size += len(chunk)
    upload.seek(0)
    return digest.hexdigest(), size


INPUT_SUFFIXES = (".vcf.gz", ".vcf.bgz", ".vcf", ".bcf", ".txt", ".txt.gz")  # (VCF, BCF, or notations one per line)


def vcf_stem(name: str) -> str:
    """A file name without its VCF, BCF or text suffix (``x.vcf.gz`` -> ``x``)."""
    return name.removesuffix(".gz").removesuffix(".bgz").removesuffix(".vcf").removesuffix(".bcf").removesuffix(".txt")


def input_stem(name: str) -> str:
    """A job's file name without its VCF or BCF suffix (its results are named after it)."""
    return vcf_stem(safe_input_name(name))


def safe_input_name(raw: str | None) -> str:
    """A file name safe for storage keys and scratch paths: no folders, only safe characters, the
    stem cut to MAX_NAME_STEM characters, the VCF suffix kept (``input.vcf`` when nothing is left)."""
    name = get_valid_filename(os.path.basename((raw or "").replace("\\", "/"))) if raw else ""
    suffix = next((s for s in INPUT_SUFFIXES if name.lower().endswith(s)), "")
    stem = name[: len(name) - len(suffix)] if suffix else name
    stem = stem[:MAX_NAME_STEM].rstrip(".") or "input"
    return stem + (name[len(name) - len(suffix) :] if suffix else "")


def checked_input(
    *, text: IO[bytes], name: str, reference_name: str | None, max_bytes: int, read_through: bool = True
) -> Reference:
    """The reference a VCF goes to (named, else the one its header fits), after the checks made
    before a job is queued and before the command line annotates: its header, its build, its
    first REF alleles against the genome and, with ``read_through``, its gzip stream to the end."""
    text.seek(0)
    reference = choose_reference(reference_name=reference_name, handle=text, name=name)
    text.seek(0)
    check_vcf_header(text, name=name, reference=reference)
    text.seek(0)
    check_vcf_body(text, name=name, reference=reference, max_bytes=max_bytes, read_through=read_through)
    return reference


@contextmanager
def vcf_text(handle: IO[bytes], *, name: str, path: str | None = None) -> Iterator[IO[bytes]]:
    """A file's bytes as VCF text: ``handle`` itself, or for a BCF file its records as htslib writes
    them in VCF (read from ``path``, else from a temporary copy, as htslib reads paths)."""
    if not holds_bcf(handle):
        yield handle
        return
    with tempfile.TemporaryDirectory(prefix="gas-bcf-") as scratch:
        if not path:
            path = os.path.join(scratch, "upload.bcf")
            with open(path, "wb") as copy:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    copy.write(block)
            handle.seek(0)
        try:
            text = BcfTextFile(path)
        except BcfError as exc:
            raise UploadRejected(f"{name}: {exc}.") from None
        try:
            yield text  # type: ignore[misc]
        except BcfError as exc:
            raise UploadRejected(f"{name}: {exc}.") from None
        finally:
            text.close()
