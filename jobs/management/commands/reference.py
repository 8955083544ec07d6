"""Install and list reference bundles: ``reference import NAME ...`` and ``reference list``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from jobs.annotation.errors import AnnotationError
from jobs.annotation.reference import import_reference, list_references


class Command(BaseCommand):
    help = "Import a reference bundle (gene model + genome + optional dbSNP) or list the installed ones."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        imp = sub.add_parser("import", help="Build a bundle from a GTF/GFF3, a FASTA and optionally dbSNP.")
        imp.add_argument("name", help="Bundle name, e.g. GRCh37-gencode19.")
        imp.add_argument("--build", required=True, help="Genome build, e.g. GRCh37.")
        model = imp.add_mutually_exclusive_group(required=True)
        model.add_argument("--gtf", type=Path, help="GENCODE/Ensembl GTF (plain or gzipped).")
        model.add_argument("--gff3", type=Path, help="Ensembl-style GFF3 (plain or gzipped).")
        imp.add_argument("--fasta", type=Path, required=True, help="Genome FASTA (plain, gzip or bgzip).")
        imp.add_argument("--dbsnp", type=Path, help="dbSNP sites VCF (bgzipped, or plain to be compressed).")
        imp.add_argument("--source-name", help="Name shown in CSQ's SOURCE field (default: the gene model file name).")
        sub.add_parser("list", help="List installed bundles.")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        root = Path(settings.GAS_REFERENCE_DIR)
        if action == "list":
            bundles = list_references(root)
            if not bundles:
                self.stdout.write(f"No reference installed in {root}.")
            for bundle in bundles:
                sources = ", ".join(f"{kind}={info['file']}" for kind, info in bundle["sources"].items())
                contigs = bundle.get("annotated_contigs", [])
                self.stdout.write(
                    f"{bundle['name']}\t{bundle['build']}\tcontigs={','.join(contigs[:25])}"
                    f"{'…' if len(contigs) > 25 else ''}\ttranscripts={bundle['transcript_count']}\t"
                    f"{sources}\tchecksum={bundle['checksum'][:16]}"
                )
            return
        try:
            report = import_reference(
                name=options["name"],
                build=options["build"],
                gene_model=options["gtf"] or options["gff3"],
                fasta=options["fasta"],
                dbsnp=options["dbsnp"],
                destination=root / options["name"],
                source_name=options["source_name"],
            )
        except AnnotationError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Installed {report.name}: {report.transcripts} transcripts of {report.genes} genes on "
            f"{report.contigs} contigs in {report.seconds:.1f} s"
            + (
                f" ({report.dropped} transcripts on contigs missing from the FASTA were dropped)"
                if report.dropped
                else ""
            )
        )
