"""Register, list and remove annotation sources: ``source add NAME --reference R --file F ...``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.template.defaultfilters import filesizeformat

from jobs.models import AnnotationSource
from jobs.sources.catalogue import CATALOGUE, install
from jobs.sources.demo import register_demo_sources
from jobs.sources.registry import SourceError, source_prepare, source_register, source_remove


class Command(BaseCommand):
    help = "Annotation sources (VEP's --custom): add a tabix-indexed VCF or BED for a reference, list, remove."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="Check a VCF or BED and register it (its file is kept in GAS_SOURCE_DIR).")
        add.add_argument("name", help="Source name, e.g. clinvar (letters, digits, - and _).")
        add.add_argument("--reference", required=True, help="The installed reference bundle it is for.")
        add.add_argument("--file", required=True, type=Path, help="VCF or BED (bgzipped and indexed, or to be).")
        add.add_argument(
            "--type", dest="match_type", choices=["exact", "overlap"], default=None,
            help="exact: the same allele (VCF only; the default for VCF); overlap: every overlapping feature.",
        )  # fmt: skip
        add.add_argument("--fields", default="", help="INFO fields to report, comma-separated (VCF only).")
        add.add_argument("--short-name", default="", help="Names the CSQ fields (default: NAME).")
        add.add_argument("--default", action="store_true", help="Apply to jobs unless the user leaves it out.")
        add.add_argument("--description", default="", help="Shown to users on the upload form.")
        add.add_argument("--replace", action="store_true", help="Register a new version of an existing source.")
        add.add_argument("--if-missing", action="store_true", help="Do nothing when NAME is registered already.")
        sub.add_parser("available", help="The source catalogue: what `source install` can fetch and register.")
        install = sub.add_parser("install", help="Download, check, convert and register a catalogue source.")
        install.add_argument("name", help="A catalogue name (source available), e.g. clinvar-grch37.")
        install.add_argument("--reference", required=True, help="The installed reference bundle it is for.")
        install.add_argument("--mirror", default="", help="A site of the providers' layout (GAS_SOURCE_MIRROR).")
        install.add_argument("--fields", default="", help="Fields to keep, comma-separated (default: the entry's).")
        install.add_argument("--chromosomes", default="", help="Per-chromosome sources (gnomAD): which, e.g. 1,2,X.")
        install.add_argument("--file", type=Path, help="Your own copy (required for SpliceAI and dbNSFP).")
        install.add_argument("--accept-licence", action="store_true", help="Confirm a non-commercial licence fits.")
        install.add_argument("--default", action="store_true", help="Apply to jobs unless the user leaves it out.")
        demo = sub.add_parser("demo", help="Register the demo's sources (dbSNP common, SYNTHETIC ClinVar and gnomAD).")
        demo.add_argument("--reference", default="demo", help="The reference they are for (default: demo).")
        prepare = sub.add_parser("prepare", help="Prepare exact VCF sources registered before GAS prepared them.")
        prepare.add_argument("name", nargs="?", default="", help="One source (default: every one).")
        sub.add_parser("list", help="List registered sources.")
        remove = sub.add_parser("remove", help="Remove a source and its kept file.")
        remove.add_argument("name")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        try:
            if action == "list":
                self._list()
            elif action == "available":
                self._available()
            elif action == "install":
                self._install(options)
            elif action == "demo":
                for source in register_demo_sources(reference_name=options["reference"]):
                    self.stdout.write(f"Registered {source.name} for {source.reference_name}: {source.description}")
            elif action == "prepare":
                done = source_prepare(name=options["name"] or None)
                self.stdout.write(f"Prepared {len(done)} source{'s' if len(done) != 1 else ''}"
                                  + (f": {', '.join(source.name for source in done)}" if done else "."))  # fmt: skip
            elif action == "remove":
                source_remove(name=options["name"])
                self.stdout.write(f"Removed source {options['name']}.")
            else:
                self._add(options)
        except SourceError as exc:
            raise CommandError(str(exc)) from exc

    def _add(self, options: dict[str, Any]) -> None:
        name = options["name"]
        if options["if_missing"] and AnnotationSource.objects.filter(name=name).exists():
            self.stdout.write(f"Source {name} is registered already.")
            return
        path: Path = options["file"]
        match_type = options["match_type"] or ("overlap" if ".bed" in path.name.lower() else "exact")
        source = source_register(
            name=name, reference_name=options["reference"], path=path, match_type=match_type,
            fields=[field.strip() for field in options["fields"].split(",") if field.strip()],
            short_name=options["short_name"], default=options["default"], description=options["description"],
            replace=options["replace"],
        )  # fmt: skip
        csq = ", ".join([source.short_name, *(f"{source.short_name}_{field}" for field in source.fields)])
        self.stdout.write(
            f"Registered {source.name} for {source.reference_name}: {source.format.upper()} matched by "
            f"{source.match_type}, CSQ fields {csq}; {len(source.contigs)} contigs; version {source.version}"
        )

    def _available(self) -> None:
        for entry in CATALOGUE.values():
            restricted = "non-commercial" if entry.non_commercial else "any use"
            how = entry.note or ", ".join(entry.fields)
            self.stdout.write(
                f"{entry.name}\t{entry.build}\t{entry.provider}\t{entry.version}\t{entry.size}\t"
                f"{entry.licence} ({restricted})\t{how}"
            )

    def _install(self, options: dict[str, Any]) -> None:
        source = install(
            name=options["name"], reference_name=options["reference"],
            mirror=options["mirror"] or settings.GAS_SOURCE_MIRROR,
            fields=[field.strip() for field in options["fields"].split(",") if field.strip()],
            chromosomes=[chrom.strip() for chrom in options["chromosomes"].split(",") if chrom.strip()],
            accept_licence=options["accept_licence"], own_file=options["file"],
        )  # fmt: skip
        if options["default"]:
            AnnotationSource.objects.filter(pk=source.pk).update(default=True)
        csq = ", ".join([source.short_name, *(f"{source.short_name}_{field}" for field in source.fields)])
        self.stdout.write(
            f"Installed {source.name} for {source.reference_name}: {source.release}, {source.licence}; CSQ fields "
            f"{csq}; {filesizeformat(source.size)}; version {source.version}"
        )

    def _list(self) -> None:
        sources = AnnotationSource.objects.all()
        if not sources:
            self.stdout.write("No annotation source is registered.")
        for source in sources:
            self.stdout.write(
                f"{source.name}\t{source.reference_name}\t{source.format}/{source.match_type}\t"
                f"short_name={source.short_name}\tfields={','.join(source.fields) or '-'}\t"
                f"{'default' if source.default else 'optional'}\t{source.file_name}\t"
                f"{filesizeformat(source.size)}\tversion {source.version}"
            )
