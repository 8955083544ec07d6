"""Annotating a file on this machine (``manage.py annotate``): the checks a job's upload gets (its
header, build and first REF alleles; the reference it fits; for notations, each line), the sources it
names, then the engine, and the warnings a job of it would carry."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from jobs.annotation.custom import CustomSpec
from jobs.annotation.engine import AnnotationResult, annotate_vcf
from jobs.annotation.notations import FORMATS
from jobs.annotation.reference import Reference
from jobs.services.completion import job_warnings, nothing_annotated_message
from jobs.services.notation_inputs import (
    check_notations,
    is_notation_input,
    notation_warnings,
    resolve_notation_file,
)
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


@dataclass(frozen=True)
class _Options:
    """How to annotate: the output, the sources, the engine's options."""

    output_path: Path
    source_names: Sequence[str]
    custom_specs: Sequence[str]
    processes: int
    fill_id: bool
    pick: str
    flags: Sequence[str]
    progress: Callable[[float], None] | None


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
    input_format: str = "",
) -> LocalAnnotation:
    """Check and annotate ``input_path`` (VCF, VCF.gz or BCF, or notations: ``input_format`` one of
    jobs.annotation.notations.FORMATS, or detected) into ``output_path``. Raises UploadRejected,
    SourceError, AnnotationError or OSError, each in words for the user."""
    options = _Options(output_path, source_names, custom_specs, max(1, processes), fill_id, pick, flags, progress)
    with open(input_path, "rb") as handle:
        notations = input_format in FORMATS or (not input_format and is_notation_input(handle))
        if notations:
            reference = check_notations(handle, name=input_path.name, reference_name=reference_name, max_bytes=1 << 62)
    if notations:
        with tempfile.TemporaryDirectory(prefix="gas-notations-") as scratch:
            converted = Path(scratch) / "notations.vcf"
            resolved = resolve_notation_file(
                source=input_path, destination=converted, reference=reference, name=input_path.name,
                fmt=input_format or None,
            )  # fmt: skip
            done = _annotate(converted, reference, options)
        done.warnings += notation_warnings(resolved)
        return done
    with open(input_path, "rb") as handle, vcf_text(handle, name=input_path.name, path=str(input_path)) as text:
        reference = checked_input(
            text=text, name=input_path.name, reference_name=reference_name, max_bytes=1 << 62, read_through=False
        )
    return _annotate(input_path, reference, options)


def _annotate(input_path: Path, reference: Reference, options: _Options) -> LocalAnnotation:
    customs = (
        registered_specs(reference_name=reference.name, names=options.source_names) if options.source_names else []
    )
    customs += [CustomSpec.parse(spec) for spec in options.custom_specs]
    result = annotate_vcf(
        input_path, options.output_path, reference, progress=options.progress, processes=options.processes,
        fill_id=options.fill_id, customs=customs, pick=options.pick, flags=tuple(options.flags),
    )  # fmt: skip
    nothing = nothing_annotated_message(result.stats, reference=reference)
    warnings = [nothing] if nothing else job_warnings(result.stats, build=reference.build)
    return LocalAnnotation(result=result, reference=reference, warnings=warnings)
