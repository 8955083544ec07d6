"""The references GAS knows how to install (``manage.py reference install NAME``): each the
providers' official files, the checksum listing each is checked against after download, its
size and licence.

Installing downloads into ``GAS_REFERENCE_DIR/.downloads/NAME`` (resumable, see jobs.references.fetch),
checks every file against the provider's CHECKSUMS / MD5SUMS / md5checksums.txt, then builds the
bundle in a temporary folder that is moved into place only when complete (import_reference), so
an interrupted install never leaves a bundle that looks installed. ``mirror`` (or
GAS_REFERENCE_MIRROR) replaces the providers' hosts with one site of the same layout."""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from jobs.annotation.reference import ImportReport, import_reference
from jobs.references.fetch import DownloadError, download, expected_checksum, fetch_text, file_checksum, mirrored

logger = logging.getLogger(__name__)

ENSEMBL = "https://ftp.ensembl.org/pub"
GENCODE = "https://ftp.ebi.ac.uk/pub/databases/gencode/Gencode_human"
NCBI = "https://ftp.ncbi.nlm.nih.gov"
ENSEMBL_LICENCE = "Ensembl: no restrictions on use (EMBL-EBI terms of use)"
GENCODE_LICENCE = "GENCODE: freely available, no restrictions (EMBL-EBI terms of use)"
NCBI_LICENCE = "NCBI: public domain (US Government work), no restrictions"


class CatalogueError(Exception):
    pass


@dataclass(frozen=True)
class CatalogueFile:
    role: str  # gene_model, fasta, assembly_report or dbsnp
    url: str
    checksums: str  # the provider's listing with this file's checksum
    kind: str  # its algorithm: "sum" (Ensembl's CHECKSUMS) or "md5"
    size: str  # roughly, as the provider lists it

    @property
    def file_name(self) -> str:
        return self.url.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class CatalogueEntry:
    name: str
    build: str
    provider: str
    release: str
    licence: str
    files: tuple[CatalogueFile, ...]

    def file(self, role: str) -> CatalogueFile | None:
        return next((f for f in self.files if f.role == role), None)


def _ensembl(release: int, *, grch37: bool = False) -> CatalogueEntry:
    root = f"{ENSEMBL}/grch37/release-{release}" if grch37 else f"{ENSEMBL}/release-{release}"
    build = "GRCh37" if grch37 else "GRCh38"
    model = f"{root}/gff3/homo_sapiens/Homo_sapiens.{build}.{release}.gff3.gz"
    fasta = f"{root}/fasta/homo_sapiens/dna/Homo_sapiens.{build}.dna.primary_assembly.fa.gz"
    dbsnp = f"{root}/variation/vcf/homo_sapiens/homo_sapiens.vcf.gz"
    return CatalogueEntry(
        name=f"ensembl-{build.lower()}", build=build, provider="Ensembl", release=str(release),
        licence=ENSEMBL_LICENCE,
        files=(
            CatalogueFile("gene_model", model, model.rsplit("/", 1)[0] + "/CHECKSUMS", "sum", "50 MB"),
            CatalogueFile("fasta", fasta, fasta.rsplit("/", 1)[0] + "/CHECKSUMS", "sum", "0.9 GB"),
            CatalogueFile("dbsnp", dbsnp, dbsnp.rsplit("/", 1)[0] + "/CHECKSUMS", "sum", "20 GB"),
        ),
    )  # fmt: skip


def _gencode(release: int, kind: str) -> CatalogueEntry:
    root = f"{GENCODE}/release_{release}"
    infix = ".basic" if kind == "basic" else ""
    model = f"{root}/gencode.v{release}{infix}.annotation.gff3.gz"
    fasta = f"{root}/GRCh38.primary_assembly.genome.fa.gz"
    return CatalogueEntry(
        name=f"gencode-grch38-{kind}", build="GRCh38", provider=f"GENCODE ({kind})", release=str(release),
        licence=GENCODE_LICENCE,
        files=(
            CatalogueFile("gene_model", model, f"{root}/MD5SUMS", "md5", "30 MB" if kind == "basic" else "60 MB"),
            CatalogueFile("fasta", fasta, f"{root}/MD5SUMS", "md5", "0.8 GB"),
        ),
    )  # fmt: skip


def _gencode19() -> CatalogueEntry:
    root = f"{GENCODE}/release_19"
    return CatalogueEntry(
        name="gencode-grch37", build="GRCh37", provider="GENCODE", release="19", licence=GENCODE_LICENCE,
        files=(
            CatalogueFile("gene_model", f"{root}/gencode.v19.annotation.gtf.gz", f"{root}/MD5SUMS", "md5", "40 MB"),
            CatalogueFile("fasta", f"{root}/GRCh37.p13.genome.fa.gz", f"{root}/MD5SUMS", "md5", "0.9 GB"),
        ),
    )  # fmt: skip


def _refseq(accession: str, build: str, release: str) -> CatalogueEntry:
    number = accession.split("_")[1].split(".")[0]
    root = f"{NCBI}/genomes/all/GCF/{number[:3]}/{number[3:6]}/{number[6:9]}/{accession}"
    checksums = f"{root}/md5checksums.txt"
    dbsnp_id = accession.split("_GRCh")[0]
    dbsnp = f"{NCBI}/snp/latest_release/VCF/{dbsnp_id}.gz"
    return CatalogueEntry(
        name=f"refseq-{build.lower()}", build=build, provider="NCBI RefSeq", release=release, licence=NCBI_LICENCE,
        files=(
            CatalogueFile("gene_model", f"{root}/{accession}_genomic.gff.gz", checksums, "md5", "60 MB"),
            CatalogueFile("fasta", f"{root}/{accession}_genomic.fna.gz", checksums, "md5", "1.0 GB"),
            CatalogueFile("assembly_report", f"{root}/{accession}_assembly_report.txt", checksums, "md5", "70 KB"),
            CatalogueFile("dbsnp", dbsnp, f"{dbsnp}.md5", "md5", "25 GB"),
        ),
    )  # fmt: skip


def _mane(version: str) -> CatalogueEntry:
    root = f"{NCBI}/refseq/MANE/MANE_human/release_{version}"
    grch38 = _refseq("GCF_000001405.40_GRCh38.p14", "GRCh38", "")
    return CatalogueEntry(
        name="mane-grch38", build="GRCh38", provider="MANE Select (Ensembl and NCBI)", release=version,
        licence=NCBI_LICENCE,
        files=(
            CatalogueFile(
                "gene_model", f"{root}/MANE.GRCh38.v{version}.ensembl_genomic.gff.gz", f"{root}/md5checksums.txt",
                "md5", "10 MB",
            ),
            *(f for f in grch38.files if f.role in ("fasta", "assembly_report")),
        ),
    )  # fmt: skip


CATALOGUE: dict[str, CatalogueEntry] = {
    entry.name: entry
    for entry in (
        _ensembl(115),
        _gencode(49, "basic"),
        _gencode(49, "comprehensive"),
        _refseq("GCF_000001405.40_GRCh38.p14", "GRCh38", "GCF_000001405.40 (current annotation)"),
        _mane("1.4"),
        _ensembl(87, grch37=True),
        _gencode19(),
        _refseq("GCF_000001405.25_GRCh37.p13", "GRCh37", "GCF_000001405.25 (annotation release 105)"),
    )
}


def catalogue_entry(name: str) -> CatalogueEntry:
    entry = CATALOGUE.get(name)
    if entry is None:
        raise CatalogueError(f"{name!r} is not in the catalogue: expected one of {', '.join(CATALOGUE)}")
    return entry


def entries_for_build(build: str) -> list[CatalogueEntry]:
    return [entry for entry in CATALOGUE.values() if entry.build.lower() == build.lower()]


def _verified(file: CatalogueFile, path: Path, mirror: str, listings: dict[str, str]) -> None:
    """Check a download against its provider's listing (each listing fetched once per install);
    a mismatch removes it (the next run downloads it again) and says so."""
    url = mirrored(file.checksums, mirror)
    if url not in listings:
        listings[url] = fetch_text(url)
    listing = listings[url]
    expected = expected_checksum(listing, file.file_name, file.kind)
    if expected is None:
        raise CatalogueError(f"{file.file_name}: not listed in {url}")
    found = file_checksum(path, file.kind)
    if found != expected:
        path.unlink()
        raise CatalogueError(
            f"{file.file_name}: checksum mismatch: {file.checksums.rsplit('/', 1)[-1]} gives {expected} "
            f"({file.kind}), the download has {found}. The file was removed: run the install again."
        )
    logger.info("%s: %s checksum %s as listed", file.file_name, file.kind, found)


def install(
    *,
    name: str,
    root: Path,
    mirror: str = "",
    with_dbsnp: bool = False,
    keep_downloads: bool = False,
    retries: int = 5,
) -> ImportReport:
    """Download, check and build catalogue entry ``name`` as the bundle ``root/name``."""
    entry = catalogue_entry(name)
    downloads = root / ".downloads" / entry.name
    downloads.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    listings: dict[str, str] = {}
    try:
        for file in entry.files:
            if file.role == "dbsnp" and not with_dbsnp:
                continue
            url = mirrored(file.url, mirror)
            logger.info("downloading %s (about %s)", url, file.size)
            target = download(url, downloads / file.file_name, retries=retries)
            _verified(file, target, mirror, listings)
            paths[file.role] = target
    except DownloadError as exc:
        raise CatalogueError(str(exc)) from None
    report = import_reference(
        name=entry.name, build=entry.build, gene_model=paths["gene_model"], fasta=paths["fasta"],
        destination=root / entry.name, dbsnp=paths.get("dbsnp"), assembly_report=paths.get("assembly_report"),
        source_name=paths["gene_model"].name, release=entry.release, provider=entry.provider,
    )  # fmt: skip
    if not keep_downloads:
        shutil.rmtree(downloads, ignore_errors=True)
    return report
