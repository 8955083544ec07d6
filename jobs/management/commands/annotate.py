"""Annotate a VCF or BCF file, or a file of variant notations, from the command line, with the same
code path the worker uses."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from jobs.annotation.errors import AnnotationError
from jobs.annotation.flags import FLAG_OPTIONS
from jobs.annotation.notations import FORMATS
from jobs.services.local_files import annotate_local_file, default_output
from jobs.services.uploads import UploadRejected
from jobs.sources.registry import SourceError


class Command(BaseCommand):
    help = (
        "Annotate INPUT (VCF, VCF.gz or BCF, or notations one per line: HGVS, SPDI, regions, rs ids) with "
        "consequences, HGVS and dbSNP ids."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("input", type=Path)
        parser.add_argument(
            "--format", dest="input_format", choices=("vcf", "bcf", *FORMATS), default="",
            help="What INPUT holds (default: detected). hgvs: 20:g.36030940G>A, ENST…:c.68-7T>A; spdi: "
            "NC_000020.10:36030939:G:A; region: 20:36030940-36030940/A; ensembl: '20 36030940 36030940 G/A +'; "
            "id: rs6025 (through the reference's dbSNP). Notations that cannot be resolved are listed.",
        )  # fmt: skip
        parser.add_argument("-o", "--output", type=Path, help="Output VCF (.vcf or .vcf.gz; default INPUT.annot.vcf).")
        parser.add_argument(
            "--reference", help="Installed reference bundle (default: the one the file's header fits, as for a job)."
        )
        parser.add_argument("--processes", type=int, default=1, help="Worker processes (default 1).")
        parser.add_argument("--quiet", action="store_true", help="No progress on stderr.")
        parser.add_argument(
            "--no-id-column", action="store_true",
            help="Leave the ID column as it is (dbSNP ids then go to CSQ Existing_variation only).",
        )  # fmt: skip
        parser.add_argument(
            "--custom", action="append", default=[], metavar="SPEC",
            help="A tabix-indexed VCF matched allele-exactly, in VEP's --custom syntax: "
            "file=F,short_name=S,format=vcf|bed,type=exact|overlap,coords=0,fields=A%%B (repeatable).",
        )  # fmt: skip
        picking = parser.add_mutually_exclusive_group()
        for mode, what in (
            ("pick", "keep one entry per variant"), ("flag_pick", "flag one entry per variant PICK=1"),
            ("pick_allele", "keep one entry per allele"), ("flag_pick_allele", "flag one entry per allele"),
            ("per_gene", "keep one entry per gene"),
        ):  # fmt: skip
            picking.add_argument(
                f"--{mode}", dest="pick", action="store_const", const=mode, default="",
                help=f"As VEP's --{mode}: {what}, in VEP's pick order.",
            )  # fmt: skip
        for flag, columns in FLAG_OPTIONS.items():
            parser.add_argument(
                f"--{flag}", dest="flags", action="append_const", const=flag, default=[],
                help=f"As VEP's --{flag}: add {', '.join(columns)}.",
            )  # fmt: skip
        parser.add_argument(
            "--source", action="append", default=[], metavar="NAME",
            help="A registered annotation source (manage.py source list) for the reference (repeatable).",
        )  # fmt: skip

    def handle(
        self,
        *args: Any,
        input: Path,
        output: Path | None,
        reference: str | None,
        quiet: bool,
        processes: int,
        no_id_column: bool,
        custom: list[str],
        source: list[str],
        pick: str,
        flags: list[str],
        input_format: str,
        **options: Any,
    ) -> None:
        if not input.is_file():
            raise CommandError(f"{input}: no such file")
        if output is not None and not output.parent.is_dir():
            raise CommandError(f"{output}: the folder {output.parent} does not exist")
        shown = [-1]

        def progress(fraction: float) -> None:
            percent = int(fraction * 100)
            if not quiet and percent != shown[0]:
                shown[0] = percent
                sys.stderr.write(f"\r{percent:3d}%")
                sys.stderr.flush()

        try:
            done = annotate_local_file(
                input_path=input, output_path=output or default_output(input), reference_name=reference,
                source_names=source, custom_specs=custom, processes=processes, fill_id=not no_id_column, pick=pick,
                flags=flags, progress=progress, input_format="" if input_format in ("vcf", "bcf") else input_format,
            )  # fmt: skip
        except (AnnotationError, SourceError, UploadRejected, OSError) as exc:
            raise CommandError(str(exc)) from exc
        if not quiet:
            sys.stderr.write("\n")
        result, stats = done.result, done.result.stats
        for warning in done.warnings:
            self.stderr.write(f"warning: {warning}")
        self.stdout.write(
            f"{result.output}: {stats.records} records, {stats.alleles} alleles in {stats.seconds:.2f} s; "
            f"log {result.log.name}, summary {result.summary.name}"
        )
