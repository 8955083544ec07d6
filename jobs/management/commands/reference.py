"""Reference bundles: ``reference install NAME`` (from the catalogue), ``reference import NAME ...``
(from files at hand), ``reference list``, ``reference available`` and ``reference remove NAME``."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from jobs.annotation.errors import AnnotationError
from jobs.annotation.reference import ImportReport, list_references
from jobs.references import catalogue
from jobs.references.bundles import bundle_disk_size, reference_import, reference_remove, source_label
from jobs.references.fetch import human_size


class Command(BaseCommand):
    help = "Install (from the catalogue), import, list or remove reference bundles."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        ins = sub.add_parser("install", help="Download, check and install a catalogue reference (reference available).")
        ins.add_argument("name", help="A catalogue name, e.g. ensembl-grch38.")
        ins.add_argument(
            "--mirror", default=None,
            help="A site of the providers' layout to fetch from instead (default: GAS_REFERENCE_MIRROR).",
        )  # fmt: skip
        ins.add_argument("--with-dbsnp", action="store_true", help="Also fetch the provider's dbSNP VCF (large).")
        ins.add_argument("--keep-downloads", action="store_true", help="Keep the downloaded files after building.")
        imp = sub.add_parser("import", help="Build a bundle from a GTF/GFF3, a FASTA and optionally dbSNP.")
        imp.add_argument("name", help="Bundle name, e.g. GRCh37-gencode19.")
        imp.add_argument("--build", required=True, help="Genome build, e.g. GRCh37.")
        model = imp.add_mutually_exclusive_group(required=True)
        model.add_argument("--gtf", type=Path, help="Ensembl/GENCODE/RefSeq GTF (plain or gzipped).")
        model.add_argument("--gff3", type=Path, help="Ensembl/GENCODE/NCBI RefSeq/MANE GFF3 (plain or gzipped).")
        imp.add_argument("--fasta", type=Path, required=True, help="Genome FASTA (plain, gzip or bgzip).")
        imp.add_argument("--dbsnp", type=Path, help="dbSNP sites VCF (bgzipped, or plain to be compressed).")
        imp.add_argument("--assembly-report", type=Path, help="NCBI assembly report: other names of each contig.")
        imp.add_argument("--source-name", help="Name shown in CSQ's SOURCE field (default: the gene model file name).")
        imp.add_argument("--release", default="", help="The gene model's release, shown on job pages.")
        imp.add_argument("--provider", default="", help="Who made the gene model (Ensembl, GENCODE, NCBI RefSeq...).")
        sub.add_parser("list", help="List installed bundles.")
        sub.add_parser("available", help="List the catalogue: the references `install` knows.")
        rem = sub.add_parser("remove", help="Remove an installed bundle.")
        rem.add_argument("name")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        root = Path(settings.GAS_REFERENCE_DIR)
        if action == "list":
            self._list(root)
        elif action == "available":
            installed = {bundle["name"] for bundle in list_references(root)}
            for entry in catalogue.CATALOGUE.values():
                sizes = ", ".join(f"{f.role} {f.size}" for f in entry.files)
                mark = " (installed)" if entry.name in installed else ""
                self.stdout.write(
                    f"{entry.name}{mark}\t{entry.build}\t{entry.provider} {entry.release}\t{sizes}\t{entry.licence}"
                )
        elif action == "remove":
            try:
                reference_remove(name=options["name"])
            except AnnotationError as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(f"Removed {options['name']}.")
            if options["name"] == settings.GAS_DEFAULT_REFERENCE:
                self.stderr.write(f"{options['name']} was GAS_DEFAULT_REFERENCE: set it to an installed reference.")
        elif action == "install":
            if not logging.getLogger().handlers:  # (progress lines and checks go to the log)
                logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
            mirror = settings.GAS_REFERENCE_MIRROR if options["mirror"] is None else options["mirror"]
            try:
                report = catalogue.install(
                    name=options["name"], root=root, mirror=mirror, with_dbsnp=options["with_dbsnp"],
                    keep_downloads=options["keep_downloads"],
                )  # fmt: skip
            except (catalogue.CatalogueError, AnnotationError, OSError) as exc:
                raise CommandError(str(exc)) from exc
            self._installed(report)
        else:
            try:
                report = reference_import(
                    name=options["name"], build=options["build"], gene_model=options["gtf"] or options["gff3"],
                    fasta=options["fasta"], dbsnp=options["dbsnp"], source_name=options["source_name"],
                    assembly_report=options["assembly_report"],
                    release=options["release"], provider=options["provider"],
                )  # fmt: skip
            except AnnotationError as exc:
                raise CommandError(str(exc)) from exc
            self._installed(report)

    def _list(self, root: Path) -> None:
        bundles = list_references(root)
        if not bundles:
            self.stdout.write(f"No reference installed in {root}.")
        for bundle in bundles:
            source = source_label(bundle)
            self.stdout.write(
                f"{bundle['name']}\t{bundle['build']}\t{source or bundle['source_name']}\t"
                f"transcripts={bundle['transcript_count']}\tgenes={bundle['gene_count']}\t"
                f"contigs={len(bundle.get('annotated_contigs', []))}\t"
                f"disk={human_size(bundle_disk_size(bundle['name']))}\tchecksum={bundle['checksum'][:16]}"
            )

    def _installed(self, report: ImportReport) -> None:
        dropped = f" ({report.dropped} transcripts on contigs missing from the FASTA were dropped)"
        self.stdout.write(
            f"Installed {report.name}: {report.transcripts} transcripts of {report.genes} genes on "
            f"{report.contigs} contigs in {report.seconds:.1f} s" + (dropped if report.dropped else "")
        )
