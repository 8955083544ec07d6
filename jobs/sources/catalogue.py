"""The annotation sources GAS knows how to install (``manage.py source install NAME --reference REF``):
ClinVar, gnomAD, AlphaMissense, REVEL, CADD from their providers' official URLs, and SpliceAI and
dbNSFP, which need a sign-in or forbid redistribution, from the user's own file.

Installing downloads into ``GAS_SOURCE_DIR/.downloads/NAME`` (resumable, jobs.references.fetch),
checks each file against the provider's checksum where one is published (ClinVar's ``.md5``), keeps
only the chosen fields while streaming (a VCF's INFO) or converts a table (TSV, CSV) to a VCF keyed by
CHROM/POS/REF/ALT with typed INFO fields, then registers it under the entry's name through the
registry (which compresses, indexes and checks it, and moves it into place only when complete).
``mirror`` (or GAS_SOURCE_MIRROR) replaces the providers' hosts with a site of the same layout.
A licence that restricts commercial use is refused without ``accept_licence``.
"""

from __future__ import annotations

import csv
import gzip
import io
import logging
import re
import shutil
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from jobs.models import AnnotationSource
from jobs.references.bundles import load_reference
from jobs.references.fetch import DownloadError, download, fetch_text, file_checksum, mirrored
from jobs.sources.registry import SourceError, source_dir, source_register

logger = logging.getLogger(__name__)

NCBI = "https://ftp.ncbi.nlm.nih.gov/pub/clinvar"
GNOMAD = "https://storage.googleapis.com/gcp-public-data--gnomad/release"
ALPHAMISSENSE = "https://storage.googleapis.com/dm_alphamissense"
REVEL = "https://zenodo.org/records/7072866/files"
CADD = "https://krishna.gs.washington.edu/download/CADD/v1.7"
NCBI_LICENCE = "NCBI ClinVar: public domain, no restrictions"
GNOMAD_LICENCE = "gnomAD: ODC Open Database License (no restrictions on use)"
AUTOSOMES = tuple(str(number) for number in range(1, 23))


@dataclass(frozen=True)
class SourceEntry:
    name: str
    build: str
    provider: str
    version: str
    licence: str
    non_commercial: bool  # (the licence restricts commercial use: --accept-licence required)
    kind: str  # vcf, alphamissense, revel, cadd, or own (the user's file)
    short_name: str
    fields: tuple[str, ...]  # kept by default
    urls: tuple[str, ...] = ()  # a "{chrom}" in one: a file per chromosome
    checksum: str = ""  # the provider's md5 file of urls[0] ("" where none is published)
    chromosomes: tuple[str, ...] = ()
    size: str = ""  # on disk after install, roughly
    note: str = ""

    @property
    def per_chromosome(self) -> bool:
        return any("{chrom}" in url for url in self.urls)


def _clinvar(build: str) -> SourceEntry:
    url = f"{NCBI}/vcf_{build}/clinvar.vcf.gz"
    return SourceEntry(
        name=f"clinvar-{build.lower()}", build=build, provider="NCBI ClinVar", version="weekly release (latest)",
        licence=NCBI_LICENCE, non_commercial=False, kind="vcf", short_name="ClinVar",
        fields=("CLNSIG", "CLNREVSTAT", "CLNDN"), urls=(url,), checksum=f"{url}.md5", size="60 MB",
    )  # fmt: skip


def _gnomad(build: str, kind: str) -> SourceEntry:
    if build == "GRCh37":
        version, url = "2.1.1", f"{GNOMAD}/2.1.1/vcf/{kind}/gnomad.{kind}.r2.1.1.sites.{{chrom}}.vcf.bgz"
        fields = ("AF", "AF_popmax", "nhomalt")
    else:
        version, url = "4.1", f"{GNOMAD}/4.1/vcf/{kind}/gnomad.{kind}.v4.1.sites.chr{{chrom}}.vcf.bgz"
        fields = ("AF", "AF_grpmax", "nhomalt")
    return SourceEntry(
        name=f"gnomad-{kind}-{build.lower()}", build=build, provider=f"gnomAD {kind}", version=version,
        licence=GNOMAD_LICENCE, non_commercial=False, kind="vcf", short_name=f"gnomAD{kind[0]}", fields=fields,
        urls=(url,), chromosomes=(*AUTOSOMES, "X") + (("Y",) if kind == "exomes" else ()),
        size="1-3 GB with the default fields (installable per chromosome: --chromosomes)",
    )  # fmt: skip


def _alphamissense(build: str) -> SourceEntry:
    hg = "hg19" if build == "GRCh37" else "hg38"
    return SourceEntry(
        name=f"alphamissense-{build.lower()}", build=build, provider="AlphaMissense (Google DeepMind)",
        version="2023-09", licence="CC BY-NC-SA 4.0 (non-commercial)", non_commercial=True, kind="alphamissense",
        short_name="AlphaMissense", fields=("am_pathogenicity", "am_class"),
        urls=(f"{ALPHAMISSENSE}/AlphaMissense_{hg}.tsv.gz",), size="1.5 GB",
    )  # fmt: skip


def _revel(build: str) -> SourceEntry:
    return SourceEntry(
        name=f"revel-{build.lower()}", build=build, provider="REVEL", version="1.3",
        licence="REVEL: free for non-commercial use", non_commercial=True, kind="revel", short_name="REVEL",
        fields=("REVEL",), urls=(f"{REVEL}/revel-v1.3_all_chromosomes.zip",), size="1.2 GB",
    )  # fmt: skip


def _cadd(build: str) -> SourceEntry:
    return SourceEntry(
        name=f"cadd-{build.lower()}", build=build, provider="CADD (SNVs)", version="1.7",
        licence="CADD: free for non-commercial use (commercial use needs a licence)", non_commercial=True,
        kind="cadd", short_name="CADD", fields=("PHRED", "RawScore"),
        urls=(f"{CADD}/{build}/whole_genome_SNVs.tsv.gz",), size="80 GB",
    )  # fmt: skip


def _own(name: str, build: str, provider: str, licence: str, short_name: str, fields: tuple[str, ...], note: str
         ) -> SourceEntry:  # fmt: skip
    return SourceEntry(
        name=f"{name}-{build.lower()}", build=build, provider=provider, version="your file", licence=licence,
        non_commercial=True, kind="own", short_name=short_name, fields=fields, note=note, size="as your file",
    )  # fmt: skip


CATALOGUE: dict[str, SourceEntry] = {
    entry.name: entry
    for build in ("GRCh37", "GRCh38")
    for entry in (
        _clinvar(build), _gnomad(build, "exomes"), _gnomad(build, "genomes"), _alphamissense(build), _revel(build),
        _cadd(build),
        _own("spliceai", build, "SpliceAI (Illumina)", "Illumina: non-commercial use; download needs a sign-in",
             "SpliceAI", ("SpliceAI",), "sign in at basespace.illumina.com, download the masked SNV/indel VCF, "
                                         "then give it with --file"),
        _own("dbnsfp", build, "dbNSFP", "dbNSFP academic: no redistribution, non-commercial", "dbNSFP",
             ("SIFT_score", "Polyphen2_HDIV_score"), "download dbNSFP yourself (its licence forbids redistribution), "
                                                     "convert or give its VCF with --file"),
    )
}  # fmt: skip


def catalogue_entry(name: str) -> SourceEntry:
    entry = CATALOGUE.get(name)
    if entry is None:
        raise SourceError(f"{name!r} is not in the source catalogue: expected one of {', '.join(CATALOGUE)}")
    return entry


# -- installing -------------------------------------------------------------------------------
def install(
    *, name: str, reference_name: str, mirror: str = "", fields: Sequence[str] = (), accept_licence: bool = False,
    own_file: Path | None = None, chromosomes: Sequence[str] = (), retries: int = 5, keep_downloads: bool = False,
) -> AnnotationSource:  # fmt: skip
    """Download, check, convert and register catalogue entry ``name`` for ``reference_name``."""
    entry = catalogue_entry(name)
    if entry.non_commercial and not accept_licence:
        raise SourceError(
            f"{entry.name}: its licence ({entry.licence}) restricts commercial use; pass --accept-licence to confirm "
            "that your use is allowed"
        )
    reference = load_reference(reference_name)
    if reference.build.lower() != entry.build.lower():
        raise SourceError(f"{entry.name} is for {entry.build}; reference {reference_name} is {reference.build}")
    if entry.kind == "own" and own_file is None:
        raise SourceError(f"{entry.name}: {entry.note}")
    chosen = tuple(fields) or entry.fields
    downloads = source_dir() / ".downloads" / entry.name
    downloads.mkdir(parents=True, exist_ok=True)
    try:
        files = [own_file] if own_file is not None else _fetch(entry, downloads, mirror, chromosomes, retries)
        built = downloads / f"{entry.name}.vcf.gz"
        with gzip.open(built, "wt", compresslevel=1) as out:
            for line in _converted(entry, [Path(path) for path in files], chosen):
                out.write(line)
    except DownloadError as exc:
        raise SourceError(str(exc)) from None
    replace = AnnotationSource.objects.filter(name=entry.name).exists()
    source = source_register(
        name=entry.name, reference_name=reference.name, path=built, match_type="exact", fields=chosen,
        short_name=entry.short_name, description=f"{entry.provider} {entry.version}", replace=replace,
        licence=entry.licence, release=entry.version,
    )  # fmt: skip
    if not keep_downloads:
        shutil.rmtree(downloads, ignore_errors=True)
    return source


def _fetch(entry: SourceEntry, downloads: Path, mirror: str, chromosomes: Sequence[str], retries: int) -> list[Path]:
    wanted = list(chromosomes) or list(entry.chromosomes)
    if unknown := [chrom for chrom in wanted if entry.chromosomes and chrom not in entry.chromosomes]:
        have = ", ".join(entry.chromosomes)
        raise SourceError(f"{entry.name}: no file for chromosome {', '.join(unknown)} (it has {have})")
    urls = list(entry.urls)
    if entry.per_chromosome:
        urls = [url.format(chrom=chrom) for url in entry.urls for chrom in wanted]
    paths = []
    for url in urls:
        source = mirrored(url, mirror)
        logger.info("downloading %s", source)
        path = download(source, downloads / url.rsplit("/", 1)[-1], retries=retries)
        if entry.checksum and url == entry.urls[0]:
            _verified(path, mirrored(entry.checksum, mirror))
        paths.append(path)
    return paths


def listed_md5(listing: str) -> str | None:
    """The hash of an md5 file of one file (md5sum's ``HASH  NAME``, where NAME may be the dated file's)."""
    hashes = [line.split()[0].lower() for line in listing.splitlines() if re.match(r"^[0-9a-fA-F]{32}(\s|$)", line)]
    return hashes[0] if len(hashes) == 1 else None


def _verified(path: Path, checksum_url: str) -> None:
    expected = listed_md5(fetch_text(checksum_url))
    if expected is None:
        raise SourceError(f"{path.name}: {checksum_url.rsplit('/', 1)[-1]} holds no single md5 checksum")
    found = file_checksum(path, "md5")
    if found != expected:
        path.unlink()
        raise SourceError(
            f"{path.name}: checksum mismatch: {checksum_url.rsplit('/', 1)[-1]} gives {expected}, the download has "
            f"{found}. The file was removed: run the install again."
        )
    logger.info("%s: md5 %s as published", path.name, found)


# -- converting -------------------------------------------------------------------------------
def _text(path: Path) -> IO[str]:
    with open(path, "rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rt", encoding="utf-8") if gzipped else open(path, encoding="utf-8")


def _converted(entry: SourceEntry, paths: list[Path], fields: Sequence[str]) -> Iterator[str]:
    if entry.kind in ("vcf", "own"):
        return _vcf_kept(paths, fields)
    converters = {"alphamissense": _alphamissense_rows, "revel": _revel_rows, "cadd": _cadd_rows}
    return _table_vcf(entry, paths, fields, converters[entry.kind])


def _vcf_kept(paths: list[Path], fields: Sequence[str]) -> Iterator[str]:
    """One VCF of the files (per chromosome, in order): the first file's header, the records' first
    eight columns, and of INFO only ``fields`` (each file's other fields dropped while streaming)."""
    kept = set(fields)
    for number, path in enumerate(paths):
        with _text(path) as handle:
            for line in handle:
                if line.startswith("##"):
                    info = re.match(r"##INFO=<ID=([^,>]+)", line)
                    if number == 0 and (info is None or info[1] in kept) and not line.startswith("##FORMAT"):
                        yield line
                elif line.startswith("#"):
                    if number == 0:
                        yield "\t".join(line.rstrip("\n").split("\t")[:8]) + "\n"
                else:
                    columns = line.rstrip("\n").split("\t", 8)
                    items = [item for item in columns[7].split(";") if item.split("=", 1)[0] in kept]
                    columns[7] = ";".join(items) or "."
                    yield "\t".join(columns[:8]) + "\n"


Row = tuple[str, int, str, str, dict[str, str]]
_ORDER = {name: index for index, name in enumerate((*AUTOSOMES, "X", "Y", "MT", "M"))}
TABLE_TYPES = {"am_pathogenicity": "Float", "am_class": "String", "REVEL": "Float", "PHRED": "Float",
               "RawScore": "Float"}  # fmt: skip


def _table_vcf(entry: SourceEntry, paths: list[Path], fields: Sequence[str], rows_of) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A table's rows as a VCF with typed INFO fields, streamed in the provider's order (sorted), except
    REVEL on GRCh38, whose rows follow hg19: sorted in memory one chromosome at a time."""
    if bad := [name for name in fields if name not in TABLE_TYPES]:
        raise SourceError(f"{entry.name}: no field {', '.join(bad)} (it has {', '.join(entry.fields)})")
    yield "##fileformat=VCFv4.2\n"
    yield f"##source={entry.provider} {entry.version}, converted by GAS\n"
    for name in fields:
        yield f'##INFO=<ID={name},Number=A,Type={TABLE_TYPES[name]},Description="{entry.provider} {name}">\n'
    yield "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    rows = (row for path in paths for row in rows_of(path, entry.build))
    if not (entry.kind == "revel" and entry.build == "GRCh38"):
        yield from _lines(rows, fields)
        return
    block: list[Row] = []
    for row in rows:
        if block and row[0] != block[-1][0]:
            yield from _lines(sorted(block, key=lambda row: (row[1], row[2], row[3])), fields)
            block = []
        block.append(row)
    yield from _lines(sorted(block, key=lambda row: (row[1], row[2], row[3])), fields)


def _lines(rows: Iterable[Row], fields: Sequence[str]) -> Iterable[str]:
    for chrom, pos, ref, alt, values in rows:
        info = ";".join(f"{name}={values[name]}" for name in fields if values.get(name, "") not in ("", "."))
        yield f"{chrom}\t{pos}\t.\t{ref}\t{alt}\t.\t.\t{info or '.'}\n"


def _chrom(name: str) -> str:
    return name.removeprefix("chr")


def _alphamissense_rows(path: Path, build: str) -> Iterator[Row]:
    """AlphaMissense_hg19/hg38.tsv.gz: comment lines, then #CHROM POS REF ALT genome uniprot_id
    transcript_id protein_variant am_pathogenicity am_class."""
    with _text(path) as handle:
        names: list[str] = []
        for line in handle:
            if line.startswith("#CHROM"):
                names = line.lstrip("#").rstrip("\n").split("\t")
            elif not line.startswith("#") and names:
                values = dict(zip(names, line.rstrip("\n").split("\t"), strict=False))
                yield _chrom(values["CHROM"]), int(values["POS"]), values["REF"], values["ALT"], values


def _revel_rows(path: Path, build: str) -> Iterator[Row]:
    """REVEL's CSV (in its zip): chr,hg19_pos,grch38_pos,ref,alt,aaref,aaalt,REVEL,Ensembl_transcriptid."""
    column = "hg19_pos" if build == "GRCh37" else "grch38_pos"
    with _zip_or_text(path) as handle:
        for values in csv.DictReader(handle):
            if values[column] not in ("", "."):
                yield _chrom(values["chr"]), int(values[column]), values["ref"], values["alt"], values


def _zip_or_text(path: Path) -> IO[str]:
    if zipfile.is_zipfile(path):
        archive = zipfile.ZipFile(path)
        member = max(archive.infolist(), key=lambda info: info.file_size)  # (the table; a readme beside it)
        raw = archive.open(member)
        return io.TextIOWrapper(gzip.GzipFile(fileobj=raw) if member.filename.endswith(".gz") else raw,
                                encoding="utf-8")  # fmt: skip
    return _text(path)


def _cadd_rows(path: Path, build: str) -> Iterator[Row]:
    """CADD's whole_genome_SNVs.tsv.gz: ## comments, then #Chrom Pos Ref Alt RawScore PHRED."""
    with _text(path) as handle:
        names: list[str] = []
        for line in handle:
            if line.startswith("#Chrom") or line.startswith("#CHROM"):
                names = line.lstrip("#").rstrip("\n").split("\t")
            elif not line.startswith("#") and names:
                values = dict(zip(names, line.rstrip("\n").split("\t"), strict=False))
                yield _chrom(values["Chrom"]), int(values["Pos"]), values["Ref"], values["Alt"], values
