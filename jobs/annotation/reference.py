"""Reference bundles: a gene model, the genome sequence and (optionally) dbSNP, ready to annotate.

A bundle is a directory::

    manifest.json           name, build, contigs, counts, source files, checksum
    transcripts/<contig>.pkl      the contig's transcripts with their spliced sequences
    genome.fa(.fai)         the genome, faidx-indexed (REF checks, HGVS): plain, upper case, one
                            line per contig, as dense input reads all of it
    dbsnp.vcf.gz(.tbi)      optional: dbSNP sites for the ID column

Transcripts are loaded per contig on first use, so a whole-genome bundle loads in a moment
and annotating chr20 never touches the other contigs.
"""

from __future__ import annotations

import gc
import gzip
import json
import logging
import os
import pickle
import select
import shutil
import subprocess
import sys
import tempfile
import time
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import pysam

from jobs.annotation import ENGINE_VERSION
from jobs.annotation.errors import ReferenceError_
from jobs.annotation.fasta import GenomeFile, GenomeReader
from jobs.annotation.gene_models import RawTranscript, read_gene_model
from jobs.annotation.model import Transcript
from jobs.annotation.sequence import revcomp

logger = logging.getLogger(__name__)

FORMAT_VERSION = 2  # 2: the genome is stored plain
FLANK = 5000  # VEP's up/downstream distance
_BLOCK: Final = 1 << 16  # genome bases read at a time
_BIN_SHIFT = 13  # 8 kb bins for the overlap index: few candidates per lookup
_MITO_NAMES = {"MT", "M", "chrM", "chrMT"}


def contig_aliases(name: str) -> list[str]:
    """Names under which a contig may appear in an input file (with or without ``chr``)."""
    if name in _MITO_NAMES:
        return sorted(_MITO_NAMES)
    bare = name[3:] if name.lower().startswith("chr") else name
    return [name, bare, f"chr{bare}"]


def assembly_report_names(path: Path) -> list[list[str]]:
    """The names of each sequence in a NCBI assembly report (``*_assembly_report.txt``): its
    Sequence-Name, GenBank and RefSeq accessions and UCSC-style name (``20``, ``CM000682.2``,
    ``NC_000020.11``, ``chr20``)."""
    rows: list[list[str]] = []
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if line.startswith("#") or not line.strip():
                continue
            columns = line.rstrip("\n").split("\t")
            if len(columns) < 10:
                raise ReferenceError_(
                    f"{path}: not a NCBI assembly report (expected 10 tab-separated columns, found {len(columns)})"
                )
            rows.append([name for name in (columns[0], columns[4], columns[6], columns[9]) if name and name != "na"])
    return rows


def _alias_table(contigs: Iterable[str], extra: list[list[str]]) -> dict[str, str]:
    """Every name a contig may go by: with and without ``chr``, and the other names the assembly
    report gives it."""
    table = {alias: contig for contig in contigs for alias in contig_aliases(contig)}
    for names in extra:
        contig = next((table[name] for name in names if name in table), None)
        if contig is not None:
            for name in names:
                for alias in contig_aliases(name):
                    table.setdefault(alias, contig)
    return table


def bundle_aliases(manifest: dict[str, Any]) -> dict[str, str]:
    """Every name a bundle's contigs answer to: theirs, with and without ``chr``, and the other
    names resolved at import (the manifest's ``aliases``)."""
    table = {alias: contig for contig in manifest["contigs"] for alias in contig_aliases(contig)}
    table.update(manifest.get("aliases", {}))
    return table


def file_sha256(path: Path) -> str:
    import hashlib  # (here: only imports need it, and loading OpenSSL slows every annotation's start)

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _sha256_text(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


def _is_bgzf(path: Path) -> bool:
    with open(path, "rb") as handle:
        header = handle.read(16)
    return len(header) >= 16 and header[:4] == b"\x1f\x8b\x08\x04" and header[12:14] == b"BC"


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as probe:
        return probe.read(2) == b"\x1f\x8b"


def _install_bgzipped(source: Path, target: Path) -> None:
    """Copy ``source`` (plain, gzip or bgzip) to ``target`` as bgzip."""
    if _is_bgzf(source):
        shutil.copyfile(source, target)
        return
    with tempfile.TemporaryDirectory() as scratch:
        plain = Path(scratch) / "plain"
        _install_plain(source, plain)
        pysam.tabix_compress(str(plain), str(target), force=True)


def _install_plain(source: Path, target: Path) -> None:
    """Copy ``source`` (plain, gzip or bgzip) to ``target`` uncompressed."""
    opener: Any = gzip.open if _is_gzip(source) else open
    with opener(source, "rb") as src, open(target, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)


# Transcripts parsed before their contig is written are held (memory) up to this many; beyond,
# the parse waits for the whole genome (a slow disk, or contigs in another order than the model's).
_HELD_TRANSCRIPTS: Final = 40_000
# Contig names are resolved against the contigs written so far up to this many contigs (each new
# one rebuilds the alias table); an assembly of more scaffolds resolves once the genome is written.
_INCREMENTAL_CONTIGS: Final = 2_000


class _GenomeProgress:
    """The genome its own process is writing (``python -m jobs.annotation.fasta``): the contigs
    written so far, read from its JSON lines as they come, then its result."""

    def __init__(self, fasta: Path, genome_path: Path) -> None:
        self.genome_path = genome_path
        self.reader: GenomeReader | None = None
        self.lengths: dict[str, int] = {}
        self.result: GenomeFile | None = None
        self.buffer = b""
        root = Path(__file__).resolve().parents[2]  # (where the jobs package is, for the child's imports)
        environment = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
        }
        self.process = subprocess.Popen(  # noqa: S603 - this interpreter, our module, paths we were given
            [sys.executable, "-m", "jobs.annotation.fasta", str(fasta), str(genome_path)],
            stdout=subprocess.PIPE, env=environment,
        )  # fmt: skip
        assert self.process.stdout is not None
        self.fd = self.process.stdout.fileno()

    def _take(self, line: bytes) -> None:
        message = json.loads(line)
        if "contig" in message:
            if self.reader is None:
                self.reader = GenomeReader(self.genome_path)
            self.reader.add(message["contig"], message["length"], message["offset"])
            self.lengths[message["contig"]] = message["length"]
        elif "done" in message:
            done = message["done"]
            self.result = GenomeFile(
                contigs=done["contigs"], source_sha256=done["source_sha256"], genome_sha256=done["genome_sha256"]
            )
        else:
            raise ReferenceError_(message["error"])

    def _read(self, timeout: float | None) -> None:
        """Take the lines that have arrived (waiting up to ``timeout`` for some; None: until some do)."""
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return
        data = os.read(self.fd, 1 << 16)
        if not data:
            raise ReferenceError_(
                f"the process writing the genome stopped unexpectedly (exit status {self.process.wait()})"
            )
        self.buffer += data
        *lines, self.buffer = self.buffer.split(b"\n")
        for line in lines:
            self._take(line)

    def poll(self) -> bool:
        """Take what has arrived; True if a contig did."""
        before = len(self.lengths)
        if self.result is None:
            self._read(0)
        return len(self.lengths) > before

    def wait(self) -> GenomeFile:
        while self.result is None:
            self._read(None)
        return self.result

    def close(self) -> None:
        if self.reader is not None:
            self.reader.close()
        if self.result is None and self.process.poll() is None:  # (the import failed: stop it)
            self.process.terminate()
        self.process.wait()
        assert self.process.stdout is not None
        self.process.stdout.close()


class _ContigWriter:
    """The bundle's transcripts/<contig>.pkl, from the gene model's transcripts in its order:
    contig names resolved, spliced sequences read from the genome as its contigs are written."""

    def __init__(self, folder: Path, progress: _GenomeProgress, assembly_report: Path | None) -> None:
        self.folder = folder
        self.progress = progress
        self.report = assembly_report_names(Path(assembly_report)) if assembly_report is not None else []
        self.alias_to_contig: dict[str, str] = {}
        self.aliased = 0  # (how many contigs alias_to_contig was built from)
        self.extra_aliases: dict[str, str] = {}
        self.held: list[RawTranscript] = []
        self.counts: dict[str, int] = {}  # transcripts per contig
        self.genes: set[str] = set()
        self.dropped = 0
        self.exceptions = 0
        self.pending: list[tuple[Any, ...]] = []  # the current contig's records, written when it ends
        self.pending_contig = ""

    def _resolve(self, raw: RawTranscript) -> str | None:
        contig = self.alias_to_contig.get(raw.contig)
        if contig is None and raw.contig_alias:
            contig = self.alias_to_contig.get(raw.contig_alias)
            if contig is not None:  # (a NCBI sequence name, known from its region line)
                self.extra_aliases[raw.contig] = contig
        return contig

    def _refresh(self) -> None:
        """The alias table of the contigs written so far; held transcripts placed if they now can be."""
        if len(self.progress.lengths) == self.aliased:
            return
        self.alias_to_contig = _alias_table(self.progress.lengths, self.report)
        self.aliased = len(self.progress.lengths)
        held, self.held = self.held, []
        for raw in held:
            contig = self._resolve(raw)
            if contig is None:
                self.held.append(raw)
            else:
                self._record(raw, contig)

    def add(self, raw: RawTranscript) -> None:
        contig = self._resolve(raw)
        if contig is None and self.progress.result is None:
            if self.progress.poll() and len(self.progress.lengths) <= _INCREMENTAL_CONTIGS:
                self._refresh()
                contig = self._resolve(raw)
            if contig is None:
                self.held.append(raw)
                if len(self.held) >= _HELD_TRANSCRIPTS:
                    self.settle()
                return
        if contig is None:
            self.dropped += 1
            return
        self._record(raw, contig)

    def _record(self, raw: RawTranscript, contig: str) -> None:
        if contig != self.pending_contig:
            _write_records(self.folder, self.pending_contig, self.pending)
            self.pending, self.pending_contig = [], contig
        assert self.progress.reader is not None  # (a contig resolved: one was written)
        length = self.progress.lengths[contig]
        self.pending.append(_transcript_record(raw, contig, self.progress.reader, length))
        self.counts[contig] = self.counts.get(contig, 0) + 1
        self.genes.add(raw.gene_id)
        if raw.exception:
            self.exceptions += 1

    def settle(self) -> GenomeFile:
        """Wait for the whole genome; place the held transcripts (or drop those on no contig of it)."""
        genome = self.progress.wait()
        self._refresh()
        self.dropped += len(self.held)
        self.held = []
        return genome

    def finish(self) -> GenomeFile:
        genome = self.settle()
        _write_records(self.folder, self.pending_contig, self.pending)
        self.pending = []
        return genome


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a gene model is read: its millions of small objects make
    no cycles, and the collector's passes over them cost a third of the import (9.2 -> 6.4 s for a
    whole genome's model); reference counting still frees them."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@dataclass
class ImportReport:
    name: str
    transcripts: int
    genes: int
    contigs: int
    dropped: int
    seconds: float


def _write_transcripts_and_genome(
    staging: Path, genome_path: Path, gene_model: Path, fasta: Path, assembly_report: Path | None
) -> tuple[_ContigWriter, GenomeFile]:
    """The bundle's transcripts, a file per contig, and its genome: the genome is written by a
    process of its own while this one parses the gene model."""
    folder = staging / "transcripts"
    folder.mkdir()
    progress = _GenomeProgress(Path(fasta), genome_path)
    contigs = _ContigWriter(folder, progress, assembly_report)
    try:
        with _cyclic_gc_paused():
            for raw in read_gene_model(gene_model):
                contigs.add(raw)
            genome = contigs.finish()
    finally:
        progress.close()
    return contigs, genome


def _contents(contigs: _ContigWriter, genome: GenomeFile) -> dict[str, Any]:
    """What the manifest says a bundle holds: contigs and their lengths, the annotated ones, the
    other names of each, the transcripts and genes."""
    return {
        "contigs": dict(genome.contigs),
        "annotated_contigs": sorted(contigs.counts),
        "aliases": {
            alias: contig
            for alias, contig in sorted({**contigs.alias_to_contig, **contigs.extra_aliases}.items())
            if alias not in contig_aliases(contig)
        },
        "transcripts_with_exception": contigs.exceptions,
        "transcript_count": sum(contigs.counts.values()),
        "gene_count": len(contigs.genes),
    }


def import_reference(
    *,
    name: str,
    build: str,
    gene_model: Path,
    fasta: Path,
    destination: Path,
    dbsnp: Path | None = None,
    source_name: str | None = None,
    assembly_report: Path | None = None,
    release: str = "",
    provider: str = "",
) -> ImportReport:
    """Build a bundle in ``destination`` (replaced atomically when complete).

    Contig names are resolved here, once: a transcript's sequence name may be the FASTA's, the
    same with or without ``chr``, another name ``assembly_report`` gives it, or the chromosome a
    NCBI region line names; every such name then resolves when annotating."""
    started = time.monotonic()
    inputs = (("gene model", gene_model), ("FASTA", fasta), ("dbSNP", dbsnp), ("assembly report", assembly_report))
    for label, path in inputs:
        if path is not None and not Path(path).is_file():
            raise ReferenceError_(f"{label} file not found: {path}")
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=destination.parent))
    try:
        genome_path = staging / "genome.fa"
        contigs, genome = _write_transcripts_and_genome(staging, genome_path, gene_model, fasta, assembly_report)
        counts, genes = contigs.counts, contigs.genes
        if not counts:
            raise ReferenceError_(
                f"no transcript of {gene_model} lies on a contig of {fasta} "
                "(contig names must match, with or without chr)"
            )

        sources: dict[str, dict[str, str]] = {
            "gene_model": {"file": Path(gene_model).name, "sha256": file_sha256(Path(gene_model))},
            "fasta": {"file": Path(fasta).name, "sha256": genome.source_sha256},
        }
        if dbsnp is not None:
            target = staging / "dbsnp.vcf.gz"
            _install_bgzipped(Path(dbsnp), target)
            pysam.tabix_index(str(target), preset="vcf", force=True)
            sources["dbsnp"] = {"file": Path(dbsnp).name, "sha256": file_sha256(Path(dbsnp))}

        known = {genome_path: genome.genome_sha256}  # (hashed as it was written)
        file_digests = sorted(
            f"{path.relative_to(staging)}:{known.get(path) or file_sha256(path)}"
            for path in staging.rglob("*")
            if path.is_file()
        )
        held = _contents(contigs, genome)
        manifest: dict[str, Any] = {
            "format_version": FORMAT_VERSION,
            "name": name,
            "build": build,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "engine_version": ENGINE_VERSION,
            "source_name": source_name or Path(gene_model).name,
            "contigs": held.pop("contigs"),
            "annotated_contigs": held.pop("annotated_contigs"),
            "provider": provider,
            "release": release,
            **held,  # (the manifest's keys in the order they always had)
            "sources": sources,
            "checksum": _sha256_text("\n".join(file_digests)),
        }
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2))
        if destination.exists():
            shutil.rmtree(destination)
        staging.rename(destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ImportReport(
        name=name,
        transcripts=manifest["transcript_count"],
        genes=len(genes),
        contigs=len(counts),
        dropped=contigs.dropped,
        seconds=time.monotonic() - started,
    )


def _write_records(folder: Path, contig: str, records: list[tuple[Any, ...]]) -> None:
    """Write (or, for a contig met again, extend) a contig's transcripts, in genomic order."""
    if not records:
        return
    path = folder / f"{contig}.pkl"
    if path.is_file():  # (a gene model whose contigs come back: merged)
        with open(path, "rb") as handle:
            records = pickle.load(handle) + records  # noqa: S301 - written just now by this import
    records.sort(key=lambda record: record[5][0][0])
    with open(path, "wb") as handle:  # (plain loads 3x faster)
        pickle.dump(records, handle, protocol=pickle.HIGHEST_PROTOCOL)


def _transcript_record(raw: RawTranscript, contig: str, genome: GenomeReader, length: int) -> tuple[Any, ...]:
    exons = sorted(set(raw.exons))
    coding_start = coding_end = None
    cdna = utr3_mirror = ""
    if raw.cds:
        coding_start = min(start for start, _, _ in raw.cds)
        coding_end = max(end for _, end, _ in raw.cds)
        pieces = [genome.fetch(contig, start - 1, end) for start, end in exons]
        if raw.strand == 1:
            cdna = "".join(pieces)
        else:
            cdna = "".join(revcomp(piece) for piece in reversed(pieces))
            # VEP 115 reads a minus-strand 3'UTR from the region mirrored within the
            # transcript (exon a..b becomes ts+te-b..ts+te-a); its frameshift and
            # extension counts depend on it, so the bundle keeps that sequence too.
            ts, te = exons[0][0], exons[-1][1]
            mirrored = []
            for start, end in reversed(exons):
                lo, hi = ts + te - end, ts + te - start
                lo_clip, hi_clip = max(lo, 1), min(hi, length)
                segment = genome.fetch(contig, lo_clip - 1, hi_clip) if hi_clip >= lo_clip else ""
                mirrored.append(revcomp(segment))
            utr3_mirror = "".join(mirrored)
    record = (
        raw.transcript_id, raw.gene_id, raw.symbol, raw.biotype, raw.strand, exons,
        coding_start, coding_end, cdna, utr3_mirror, raw.protein_id,
    )  # fmt: skip
    # the reference protein too, translated once here rather than at every annotation
    return (*record, _transcript(record, contig).protein, raw.flags)


def _transcript(record: tuple[Any, ...], contig: str) -> Transcript:
    """A transcript from its bundle record (the protein and the flags, the 12th and 13th fields,
    may be missing: bundles built before them)."""
    r = record
    return Transcript(
        transcript_id=r[0], gene_id=r[1], symbol=r[2], biotype=r[3], contig=contig, strand=r[4], exons=r[5],
        coding_start=r[6], coding_end=r[7], cdna=r[8], utr3_mirror=r[9], protein_id=r[10],
        codon_table=2 if contig in _MITO_NAMES else 1, protein=r[11] if len(r) > 11 else None,
        flags=r[12] if len(r) > 12 else (),
    )  # fmt: skip


class DbSnp:
    """dbSNP lookups by (contig, pos, ref, alt), read from a tabix-indexed VCF a window at a time.

    Sorted input reads each window once. Unsorted input would reload windows over and over (25x
    slower measured on 100k shuffled records): once a window has to be loaded a second time, the
    whole contig is read into memory (up to CONTIG_SITES sites; past that, one indexed query per
    position, slower but bounded in memory)."""

    WINDOW = 1 << 20
    WINDOWS_KEPT = 4
    CONTIG_SITES = 1_000_000
    CONTIGS_KEPT = 2

    def __init__(self, path: Path, names: dict[str, list[str]] | None = None) -> None:
        self._names = names or {}  # (each contig's other names: a NCBI dbSNP names them NC_000020.11)
        self._tabix = pysam.TabixFile(str(path))
        self._contigs = set(self._tabix.contigs)
        self._windows: dict[tuple[str, int], dict[tuple[int, str, str], list[str]]] = {}
        self._seen: set[tuple[str, int]] = set()
        self._unsorted = False
        self._whole: dict[str, dict[tuple[int, str, str], list[str]] | None] = {}
        self._point: tuple[str, int] = ("", -1)
        self._point_sites: dict[tuple[int, str, str], list[str]] = {}

    def records_of_ids(self, wanted: set[str]) -> dict[str, list[tuple[str, int, str, list[str]]]]:
        """Every record whose ID column names one of ``wanted`` (lower-case rs ids), as (contig as the
        file names it, POS, REF, ALTs), found by reading the whole file once."""
        found: dict[str, list[tuple[str, int, str, list[str]]]] = {}
        for contig in self._tabix.contigs:
            for line in self._tabix.fetch(contig):
                columns = line.split("\t", 5)
                if len(columns) < 5:
                    continue
                for ident in columns[2].lower().split(";"):
                    if ident in wanted:
                        found.setdefault(ident, []).append(
                            (columns[0], int(columns[1]), columns[3], columns[4].split(","))
                        )
        return found

    def ids(self, contig: str, pos: int, ref: str, alt: str) -> list[str]:
        if self._unsorted:
            return self._unsorted_ids(contig, pos, ref, alt)
        window = (contig, pos // self.WINDOW)
        sites = self._windows.get(window)
        if sites is None:
            if window in self._seen:  # loaded before and dropped: the input is not sorted
                self._unsorted = True
                self._windows.clear()
                return self._unsorted_ids(contig, pos, ref, alt)
            self._seen.add(window)
            if len(self._windows) >= self.WINDOWS_KEPT:
                del self._windows[next(iter(self._windows))]
            start = window[1] * self.WINDOW
            sites = self._windows[window] = self._fetch(contig, start, start + self.WINDOW, 0)
        return sites.get((pos, ref, alt), [])

    def _unsorted_ids(self, contig: str, pos: int, ref: str, alt: str) -> list[str]:
        if contig not in self._whole:
            if len(self._whole) >= self.CONTIGS_KEPT:
                del self._whole[next(iter(self._whole))]
            whole = self._fetch(contig, 0, 1 << 31, self.CONTIG_SITES)
            self._whole[contig] = whole if len(whole) <= self.CONTIG_SITES else None
        sites = self._whole[contig]
        if sites is not None:
            return sites.get((pos, ref, alt), [])
        if self._point != (contig, pos):
            self._point = (contig, pos)
            self._point_sites = self._fetch(contig, pos, pos + 1, 0)
        return self._point_sites.get((pos, ref, alt), [])

    def _fetch(self, contig: str, start: int, stop: int, limit: int) -> dict[tuple[int, str, str], list[str]]:
        """The sites at positions start..stop-1 (reading stops past ``limit`` sites, when not 0)."""
        sites: dict[tuple[int, str, str], list[str]] = {}
        candidates = [*contig_aliases(contig), *self._names.get(contig, [])]
        name = next((alias for alias in candidates if alias in self._contigs), None)
        if name is None:
            return sites
        for line in self._tabix.fetch(name, max(0, start - 1), stop):
            columns = line.split("\t", 5)
            pos, rs, ref = int(columns[1]), columns[2], columns[3]
            if not (start <= pos < stop) or rs == ".":
                continue
            for alt in columns[4].split(","):
                sites.setdefault((pos, ref, alt), []).append(rs)
            if limit and len(sites) > limit:
                break
        return sites


class ContigIndex:
    """Transcripts of one contig, binned for ``ov(s, e, ts-5000, te+5000)`` queries."""

    def __init__(self, transcripts: list[Transcript]) -> None:
        self.transcripts = transcripts
        bins: dict[int, list[Transcript]] = defaultdict(list)
        for transcript in transcripts:
            for bin_number in range(
                (transcript.start - FLANK) >> _BIN_SHIFT, ((transcript.end + FLANK) >> _BIN_SHIFT) + 1
            ):
                bins[bin_number].append(transcript)
        self._bins = dict(bins)
        self._by_id: dict[str, Transcript] | None = None

    def transcript(self, transcript_id: str) -> Transcript | None:
        """The transcript with this id, or None."""
        if self._by_id is None:
            self._by_id = {transcript.transcript_id: transcript for transcript in self.transcripts}
        return self._by_id.get(transcript_id)

    def near(self, lo: int, hi: int) -> list[Transcript]:
        """Transcripts with hi >= ts-5000 and lo <= te+5000 (lo/hi as VEP's a/b)."""
        first, last = min(lo, hi) >> _BIN_SHIFT, max(lo, hi) >> _BIN_SHIFT
        if first == last:
            candidates: Iterable[Transcript] = self._bins.get(first, ())
        else:
            seen: dict[int, Transcript] = {}
            for bin_number in range(first, last + 1):
                for transcript in self._bins.get(bin_number, ()):
                    seen[id(transcript)] = transcript
            candidates = seen.values()
        return [t for t in candidates if hi >= t.start - FLANK and lo <= t.end + FLANK]


# Transcripts a loaded bundle holds at most (the least recently used contigs are let go past it):
# a worker that has annotated every chromosome of a whole-genome model (196k transcripts, 1.15 GB)
# holds about half of it, and a sorted file still loads each contig once.
MAX_TRANSCRIPTS_LOADED = 100_000


class Reference:
    """A loaded bundle. Contigs' transcripts are loaded on first use and kept, up to
    ``max_transcripts`` (least recently used contigs are let go past it; the contig in use never)."""

    def __init__(self, path: str | Path, *, max_transcripts: int = MAX_TRANSCRIPTS_LOADED) -> None:
        self.path = Path(path)
        self.max_transcripts = max_transcripts
        manifest_path = self.path / "manifest.json"
        if not manifest_path.is_file():
            raise ReferenceError_(f"{self.path} is not a GAS reference bundle (no manifest.json)")
        self.manifest: dict[str, Any] = json.loads(manifest_path.read_text())
        if self.manifest.get("format_version") != FORMAT_VERSION:
            raise ReferenceError_(
                f"{self.path} was built by another engine version (format {self.manifest.get('format_version')}); "
                "import it again"
            )
        self.name: str = self.manifest["name"]
        self.build: str = self.manifest["build"]
        self.source_name: str = self.manifest["source_name"]
        self.checksum: str = self.manifest["checksum"]
        self.contig_lengths: dict[str, int] = self.manifest["contigs"]
        self._aliases = bundle_aliases(self.manifest)
        self._fasta: pysam.FastaFile | None = None
        self._bases: dict[str, ContigBases] = {}
        self._indexes: OrderedDict[str, ContigIndex] = OrderedDict()
        self._names: list[tuple[str, str, str, tuple[str, ...]]] | None = None
        dbsnp_path = self.path / "dbsnp.vcf.gz"
        names: dict[str, list[str]] = defaultdict(list)
        for alias, contig in self.manifest.get("aliases", {}).items():
            names[contig].append(alias)
        self.dbsnp = DbSnp(dbsnp_path, dict(names)) if dbsnp_path.is_file() else None

    @property
    def fasta(self) -> pysam.FastaFile:
        if self._fasta is None:
            self._fasta = pysam.FastaFile(str(self.path / "genome.fa"))
        return self._fasta

    def resolve_contig(self, name: str) -> str | None:
        return self._aliases.get(name)

    def index(self, contig: str) -> ContigIndex:
        index = self._indexes.get(contig)
        if index is None:
            index = ContigIndex(self._load_transcripts(contig))
            self._indexes[contig] = index
            held = sum(len(loaded.transcripts) for loaded in self._indexes.values())
            while held > self.max_transcripts and len(self._indexes) > 1:
                _, evicted = self._indexes.popitem(last=False)
                held -= len(evicted.transcripts)
        elif next(reversed(self._indexes)) != contig:
            self._indexes.move_to_end(contig)
        return index

    def loaded_contigs(self) -> list[str]:
        """The contigs whose transcripts are held now, least recently used first."""
        return list(self._indexes)

    def _load_transcripts(self, contig: str) -> list[Transcript]:
        path = self.path / "transcripts" / f"{contig}.pkl"
        if not path.is_file():
            return []
        with open(path, "rb") as handle:
            records = pickle.load(handle)  # noqa: S301 - a bundle this service built itself
        return [_transcript(record, contig) for record in records]

    def transcript_names(self) -> list[tuple[str, str, str, tuple[str, ...]]]:
        """(contig, transcript id, gene symbol, flags) of every transcript of the bundle, read once."""
        if self._names is None:
            names: list[tuple[str, str, str, tuple[str, ...]]] = []
            for contig in self.contig_lengths:
                path = self.path / "transcripts" / f"{contig}.pkl"
                if path.is_file():
                    with open(path, "rb") as handle:
                        records = pickle.load(handle)  # noqa: S301 - a bundle this service built itself
                    names += [(contig, r[0], r[2], r[12] if len(r) > 12 else ()) for r in records]
            self._names = names
        return self._names

    def bases(self, contig: str) -> ContigBases:
        """The genome sequence of ``contig`` (a name this bundle uses), read through a block cache."""
        bases = self._bases.get(contig)
        if bases is None:
            bases = self._bases[contig] = ContigBases(self.fasta, contig, self.contig_lengths[contig])
        return bases

    def sequence(self, contig: str, start: int, end: int) -> str:
        """Genome bases ``start..end`` (1-based, inclusive), clipped to the contig."""
        return self.bases(contig).get(start, end)


class ContigBases:
    """The bases of one contig, read through a 64 kb block cache: annotating sorted input asks
    for nearby bases again and again (REF checks, HGVS shifting and reference alleles)."""

    def __init__(self, fasta: pysam.FastaFile, contig: str, length: int) -> None:
        self.fasta = fasta
        self.contig = contig
        self.length = length
        self.block = ""
        self.block_start = 0
        self.block_end = -1  # inclusive; the empty block holds nothing

    def get(self, start: int, end: int) -> str:
        """Bases ``start..end`` (1-based, inclusive), clipped to the contig (upper case, as stored)."""
        if start < 1:
            start = 1
        if end > self.length:
            end = self.length
        if end < start:
            return ""
        if start >= self.block_start and end <= self.block_end:
            return self.block[start - self.block_start : end - self.block_start + 1]
        if end - start + 1 > _BLOCK // 2:
            return self.fasta.fetch(self.contig, start - 1, end)
        block_start = max(1, start - 1024)
        block_end = min(self.length, block_start + _BLOCK - 1)
        self.block = self.fasta.fetch(self.contig, block_start - 1, block_end)
        self.block_start = block_start
        self.block_end = block_start + len(self.block) - 1
        return self.block[start - block_start : end - block_start + 1]


def list_references(root: Path) -> list[dict[str, Any]]:
    bundles = []
    for manifest in sorted(Path(root).glob("*/manifest.json")):
        if manifest.parent.name.startswith("."):  # (a build in progress, or downloads)
            continue
        try:
            bundles.append(json.loads(manifest.read_text()))
        except ValueError:
            logger.warning("unreadable manifest %s", manifest)
    return bundles
