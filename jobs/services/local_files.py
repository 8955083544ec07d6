"""Annotating a file on this machine (``manage.py annotate``): the checks a job's upload gets (its
header, build and first REF alleles; the reference it fits), the sources it names, then the engine,
and the warnings a job of it would carry."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from jobs.annotation.custom import CustomSpec
from jobs.annotation.engine import AnnotationResult, annotate_vcf
from jobs.annotation.reference import Reference
from jobs.services.running import job_warnings, nothing_annotated_message
from jobs.services.uploads import checked_input, vcf_stem, vcf_text
from jobs.sources.registry import registered_specs


@dataclass
class LocalAnnotation:
    result: AnnotationResult
    reference: Reference
    warnings: list[str]


def default_output(input_path: Path) -> Path:
    """``x.vcf.gz`` -> ``x.annot.vcf`` beside it."""
    return input_path.with_name(f"{vcf_stem(input_path.name)}.annot.vcf")


def annotate_local_file(
    *,
    input_path: Path,
    output_path: Path,
    reference_name: str | None = None,
    source_names: Sequence[str] = (),
    custom_specs: Sequence[str] = (),
    processes: int = 1,
    fill_id: bool = True,
    pick: str = "",
    flags: Sequence[str] = (),
    progress: Callable[[float], None] | None = None,
) -> LocalAnnotation:
    """Check and annotate ``input_path`` (VCF, VCF.gz or BCF) into ``output_path``. Raises
    UploadRejected, SourceError, AnnotationError or OSError, each in words for the user."""
    with open(input_path, "rb") as handle, vcf_text(handle, name=input_path.name, path=str(input_path)) as text:
        reference = checked_input(
            text=text, name=input_path.name, reference_name=reference_name, max_bytes=1 << 62, read_through=False
        )
    customs = registered_specs(reference_name=reference.name, names=source_names) if source_names else []
    customs += [CustomSpec.parse(spec) for spec in custom_specs]
    result = annotate_vcf(
        input_path, output_path, reference, progress=progress, processes=max(1, processes), fill_id=fill_id,
        customs=customs, pick=pick, flags=tuple(flags),
    )  # fmt: skip
    nothing = nothing_annotated_message(result.stats, reference=reference)
    warnings = [nothing] if nothing else job_warnings(result.stats, build=reference.build)
    return LocalAnnotation(result=result, reference=reference, warnings=warnings)
