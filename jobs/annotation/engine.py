"""Annotate a VCF file: stream records, add CSQ and dbSNP ids, write the count log and summary."""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pysam

from jobs.annotation import ENGINE_VERSION
from jobs.annotation.breakends import Breakend, breakend_entries, is_breakend, parse_breakend
from jobs.annotation.consequence import annotate_transcript, intergenic_entry
from jobs.annotation.custom import CustomSource, CustomSpec, allele_key, open_source, snv_code
from jobs.annotation.errors import AnnotationError, InputFormatError, LimitExceeded
from jobs.annotation.flags import FLAGS_AFTER, flag_columns, flag_values, insert_after
from jobs.annotation.model import Transcript
from jobs.annotation.pick import PICK_AFTER, PICK_MODES, PickKey, pick_key, picked, with_pick
from jobs.annotation.reference import ContigBases, ContigIndex, DbSnp, Reference
from jobs.annotation.sv import StructuralAllele, annotate_structural, structural_alleles
from jobs.annotation.terms import CSQ_FIELDS, Consequence
from jobs.annotation.vcf import Allele, VcfReader, VcfRecord, parse_data_line, process_alleles

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[float], None]
CHUNK_BYTES = 1 << 16  # input read, annotated and written this much at a time
FAILED_EXAMPLES = 100  # records the engine could not annotate, listed in the summary and log
SV_EXAMPLES = 100  # structural ALTs not annotated, listed with their reason in the summary and log

REGION_OF_TERM = {
    "transcript_ablation": "coding", "stop_gained": "coding", "frameshift_variant": "coding", "stop_lost": "coding",
    "start_lost": "coding", "inframe_insertion": "coding", "inframe_deletion": "coding",
    "missense_variant": "coding", "protein_altering_variant": "coding", "incomplete_terminal_codon_variant": "coding",
    "start_retained_variant": "coding", "stop_retained_variant": "coding", "synonymous_variant": "coding",
    "coding_sequence_variant": "coding",
    "splice_acceptor_variant": "splice site", "splice_donor_variant": "splice site",
    "splice_donor_5th_base_variant": "splice region", "splice_region_variant": "splice region",
    "splice_donor_region_variant": "splice region", "splice_polypyrimidine_tract_variant": "splice region",
    "5_prime_UTR_variant": "UTR", "3_prime_UTR_variant": "UTR", "non_coding_transcript_exon_variant": "non-coding exon",
    "intron_variant": "intron", "NMD_transcript_variant": "intron", "non_coding_transcript_variant": "non-coding",
    "upstream_gene_variant": "upstream/downstream", "downstream_gene_variant": "upstream/downstream",
    "intergenic_variant": "intergenic",
}  # fmt: skip


@dataclass
class AnnotationStats:
    records: int = 0
    alleles: int = 0
    records_without_alt: int = 0
    alleles_skipped: int = 0
    records_in_dbsnp: int = 0
    ref_mismatches: int = 0
    ref_mismatch_examples: list[str] = field(default_factory=list)
    uncovered_contigs: Counter[str] = field(default_factory=Counter)
    records_failed: int = 0  # records the engine could not annotate (an internal error), written unchanged
    sv_not_annotated: int = 0  # structural ALTs the engine cannot annotate (unknown types, too long, unreadable)
    breakends_far: int = 0  # mated breakends with both ends over 5 kb from every transcript: no entry, as VEP
    sv_examples: list[str] = field(default_factory=list)
    custom_matches: Counter[str] = field(default_factory=Counter)  # alleles a custom source matched, by short name
    failed_examples: list[str] = field(default_factory=list)
    most_severe: Counter[str] = field(default_factory=Counter)
    consequence_combinations: dict[str, int] = field(default_factory=dict)  # "a&b" per transcript entry
    impact: Counter[str] = field(default_factory=Counter)
    regions: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    def all_terms(self) -> Counter[str]:
        """How often each term occurs over all transcript entries."""
        counts: Counter[str] = Counter()
        for combination, count in self.consequence_combinations.items():
            for term in combination.split("&"):
                counts[term] += count
        return counts

    def as_parts(self) -> dict[str, Any]:
        """Plain values, to send from a worker process."""
        return {
            "counts": [self.records, self.alleles, self.records_without_alt, self.alleles_skipped,
                       self.records_in_dbsnp, self.ref_mismatches, self.records_failed, self.sv_not_annotated,
                       self.breakends_far],
            "examples": self.ref_mismatch_examples,
            "sv_examples": self.sv_examples,
            "failed": self.failed_examples,
            "counters": [dict(self.uncovered_contigs), dict(self.most_severe), dict(self.impact), dict(self.regions),
                         self.consequence_combinations, dict(self.custom_matches)],
        }  # fmt: skip

    def add_parts(self, parts: dict[str, Any]) -> None:
        counts = parts["counts"]
        self.records += counts[0]
        self.alleles += counts[1]
        self.records_without_alt += counts[2]
        self.alleles_skipped += counts[3]
        self.records_in_dbsnp += counts[4]
        self.ref_mismatches += counts[5]
        self.records_failed += counts[6]
        self.sv_not_annotated += counts[7]
        self.breakends_far += counts[8]
        self.sv_examples.extend(parts["sv_examples"][: SV_EXAMPLES - len(self.sv_examples)])
        room = 10 - len(self.ref_mismatch_examples)
        self.ref_mismatch_examples.extend(parts["examples"][:room])
        self.failed_examples.extend(parts["failed"][: FAILED_EXAMPLES - len(self.failed_examples)])
        uncovered, severe, impact, regions, combinations, custom = parts["counters"]
        self.custom_matches.update(custom)
        self.uncovered_contigs.update(uncovered)
        self.most_severe.update(severe)
        self.impact.update(impact)
        self.regions.update(regions)
        for combination, count in combinations.items():
            self.consequence_combinations[combination] = self.consequence_combinations.get(combination, 0) + count

    def as_dict(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "alleles": self.alleles,
            "records_without_alt": self.records_without_alt,
            "alleles_skipped": self.alleles_skipped,
            "records_in_dbsnp": self.records_in_dbsnp,
            "percent_in_dbsnp": round(100.0 * self.records_in_dbsnp / self.records, 2) if self.records else 0.0,
            "ref_mismatches": self.ref_mismatches,
            "ref_mismatch_examples": self.ref_mismatch_examples,
            "uncovered_contigs": dict(self.uncovered_contigs),
            "records_failed": self.records_failed,
            "failed_records": self.failed_examples,
            "structural_not_annotated": self.sv_not_annotated,
            "structural_not_annotated_examples": self.sv_examples,
            "breakends_far_from_transcripts": self.breakends_far,
            "custom_source_matches": dict(self.custom_matches),
            "most_severe_consequence": dict(self.most_severe.most_common()),
            "consequence_terms": dict(self.all_terms().most_common()),
            "impact": dict(self.impact.most_common()),
            "regions": dict(self.regions.most_common()),
            "seconds": round(self.seconds, 3),
            "variants_per_second": round(self.records / self.seconds) if self.seconds else None,
        }


@dataclass(frozen=True)
class JobLimits:
    """What one annotation may do; 0 means no limit. ``plan`` names whose limits they are."""

    max_bytes: int = 0  # decompressed input
    max_records: int = 0  # data lines
    max_seconds: float = 0  # wall clock
    plan: str = ""

    @property
    def label(self) -> str:
        return f"one job on the {self.plan} plan" if self.plan else "one job"


class _LimitWatch:
    """Checks the record and time limits as chunks go by (the reader checks the bytes)."""

    def __init__(self, limits: JobLimits, reader: VcfReader, header_lines: int) -> None:
        self.limits = limits
        self.reader = reader
        self.header_lines = header_lines
        self.deadline = time.monotonic() + limits.max_seconds if limits.max_seconds else 0.0

    def check(self) -> None:
        limits = self.limits
        records = self.reader.line_number - self.header_lines
        if limits.max_records and records > limits.max_records:
            raise LimitExceeded(
                f"{self.reader.name}: more than {limits.max_records:,} records, the limit for {limits.label} "
                f"(reached at line {self.reader.line_number})"
            )
        if self.deadline and time.monotonic() > self.deadline:
            raise LimitExceeded(
                f"{self.reader.name}: the annotation took longer than {limits.max_seconds:,.0f} seconds, the limit "
                f"for {limits.label} (stopped at line {self.reader.line_number})"
            )


@dataclass
class AnnotationResult:
    output: Path
    log: Path
    summary: Path
    stats: AnnotationStats


def csq_header(
    reference: Reference, sources: Sequence[CustomSource] = (), *, pick: str = "", flag_cols: tuple[str, ...] = ()
) -> list[str]:
    custom = [name for source in sources for name in source.csq_fields]
    names = list(CSQ_FIELDS)
    names[FLAGS_AFTER + 1 : FLAGS_AFTER + 1] = flag_cols
    if pick.startswith("flag_"):  # (VEP's place for it: after FLAGS)
        names.insert(PICK_AFTER + 1, "PICK")
    fields = "|".join([*names, *custom, reference.source_name])
    return [
        f'##GAS=<Version="{ENGINE_VERSION}",Reference="{reference.name}",Build="{reference.build}",'
        f'Checksum="{reference.checksum}">',
        "##INFO=<ID=CSQ,Number=.,Type=String,"
        f'Description="Consequence annotations from Ensembl VEP. Format: {fields}">',
        *(line for source in sources for line in source.header_lines()),
        f'##INFO=<ID={reference.source_name},Number=.,Type=String,Description="{reference.source_name}">',
    ]


PREVIOUS_CSQ = "PREVIOUS_CSQ"  # the INFO key under which a CSQ the input already had is kept


def _keep_previous_csq(info: str) -> str:
    """The input's own CSQ (an earlier VEP run, say) renamed PREVIOUS_CSQ: nothing the user brought
    is dropped, and the new CSQ takes its name."""
    return ";".join(f"{PREVIOUS_CSQ}={item[4:]}" if item.startswith("CSQ=") else item for item in info.split(";"))


def _refuse_two_previous_csqs(reader: VcfReader) -> None:
    lines = reader.header_lines
    has_csq = any(line.startswith("##INFO=<ID=CSQ,") for line in lines)
    has_previous = any(line.startswith(f"##INFO=<ID={PREVIOUS_CSQ},") for line in lines)
    if has_csq and has_previous:
        raise InputFormatError(
            reader.name, None,
            f"the file has both CSQ and {PREVIOUS_CSQ}: GAS keeps an input's CSQ as {PREVIOUS_CSQ}, so one of them "
            "would be lost; remove one (for example with bcftools annotate -x INFO/PREVIOUS_CSQ) and submit it again",
        )  # fmt: skip


def _previous_csq_header(line: str) -> str:
    """The input's ##INFO=<ID=CSQ,...> line for PREVIOUS_CSQ, its description marked as kept by GAS."""
    renamed = line.replace("##INFO=<ID=CSQ,", f"##INFO=<ID={PREVIOUS_CSQ},", 1)
    return renamed.replace('Description="', "Description=\"The input's CSQ before GAS annotated it, kept as is. ", 1)


def _check_writable(path: Path) -> None:
    """Fail with a clear error when ``path`` cannot be created (pysam would crash the process)."""
    try:
        with open(path, "wb"):
            pass
    except OSError as exc:
        raise OSError(f"cannot write the output {path}: {exc.strerror or exc}") from exc


_BGZF: Any = pysam.BGZFile  # (pysam's type stubs demand an index argument it does not need)


# A large output is compressed by a helper process on another core, fed through a pipe (htslib's
# BGZF through pysam, as in this process: the same bytes); zlib's Python binding gives up the GIL
# too briefly per 64 kB block for a thread to overlap the annotation.
# (input sizes of about 50,000 records; a smaller output is compressed in this process)
OFFLOAD_MIN_INPUT_BYTES = {"compressed": 256 * 1024, "plain": 2 * 1024 * 1024}
# Frames on the pipe: 4 bytes of length (little-endian), 1 byte "flush after", the bytes.
_COMPRESSOR = (
    "import sys, pysam\n"
    "out = pysam.BGZFile(sys.argv[1], 'wb')\n"
    "read = sys.stdin.buffer.read\n"
    "while len(head := read(5)) == 5:\n"
    "    out.write(read(int.from_bytes(head[:4], 'little')))\n"
    "    if head[4]:\n"
    "        out.flush()\n"
    "out.close()\n"
)

# The output's BGZF blocks are cut at the end of the header and after every this many data lines
# of the input (and where a block fills): the bytes of a group depend only on its lines, so a job
# annotated in shards of whole groups, concatenated, is byte for byte the job annotated at once.
OUTPUT_GROUP_LINES = 1000


class _Writer:
    """The output, written a block of whole lines at a time; bgzip (readable by tabix and bcftools)
    when ``compressed``, by a helper process when ``offload``."""

    def __init__(self, path: Path, *, compressed: bool, offload: bool = False) -> None:
        self.compressed = compressed
        self._helper: subprocess.Popen[bytes] | None = None
        if compressed:
            with contextlib.suppress(OSError):  # (a new file: a helper of an attempt killed before it may
                path.unlink()  # still be finishing the old one, which it then writes to no name)
            _check_writable(path)
        if compressed and offload and sys.executable:
            command = [sys.executable, "-c", _COMPRESSOR, str(path)]  # (this interpreter, fixed code)
            self._helper = subprocess.Popen(command, stdin=subprocess.PIPE)  # noqa: S603
            pipe: Any = self._helper.stdin
            with contextlib.suppress(OSError, AttributeError):  # (Linux: a pipe of 1 MB, not 64 kB)
                fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, 1 << 20)
            self._handle: Any = pipe
        elif compressed:
            self._handle = _BGZF(str(path), "wb")
        else:
            self._handle = open(path, "w", encoding="utf-8", newline="\n")

    def write_block(self, text: str, *, end_group: bool = False) -> None:
        """Whole lines, each ending in a newline; ``end_group``: the block ends a group of lines
        (OUTPUT_GROUP_LINES), whose last BGZF block is written now."""
        try:
            if self._helper is not None:
                data = text.encode()
                self._handle.write(len(data).to_bytes(4, "little") + (b"\x01" if end_group else b"\x00") + data)
            elif self.compressed:
                self._handle.write(text.encode())
                if end_group:
                    self._handle.flush()
            else:
                self._handle.write(text)
        except BrokenPipeError:
            raise OSError(f"the output compressor stopped (exit status {self._stop()})") from None

    def close(self) -> None:
        if self._helper is None:
            self._handle.close()
        elif (status := self._stop()) != 0:
            raise OSError(f"the output compressor failed (exit status {status})")

    def _stop(self) -> int:
        """Close the pipe (the helper then finishes the file) and wait for the helper's exit status."""
        assert self._helper is not None
        with contextlib.suppress(OSError):  # (a broken pipe: the helper's status says why)
            self._handle.close()
        return self._helper.wait()


# the empty block that ends a bgzip file (SAM specification, 4.1.2); BGZF blocks written one file
# after another read as one file, so parts compressed apart are joined without it but for the last
BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")


def write_part(path: Path, text: str, *, compressed: bool) -> None:
    writer = _Writer(path, compressed=compressed)
    writer.write_block(text)
    writer.close()


def read_part(path: Path, *, compressed: bool) -> bytes:
    """A part's bytes, ready to append (a bgzip part without its end-of-file block); the file goes."""
    data = path.read_bytes()
    path.unlink()
    return data[: -len(BGZF_EOF)] if compressed and data.endswith(BGZF_EOF) else data


def annotate_vcf(
    input_path: str | Path,
    output_path: str | Path,
    reference: Reference,
    *,
    log_path: str | Path | None = None,
    summary_path: str | Path | None = None,
    progress: ProgressCallback | None = None,
    input_name: str | None = None,
    processes: int = 1,
    limits: JobLimits | None = None,
    fill_id: bool = True,
    customs: Sequence[CustomSpec] = (),
    pick: str = "",
    flags: tuple[str, ...] = (),
    line_offset: int = 0,
) -> AnnotationResult:
    """Annotate ``input_path`` into ``output_path`` (bgzipped when it ends in .gz).

    With ``processes`` > 1, batches of records are annotated in that many worker processes
    while this one reads, checks and writes; the output is the same, in the same order.

    dbSNP ids of each allele go into its CSQ Existing_variation, and with ``fill_id`` into the ID
    column too (the ids of every ALT, after any the file had). ``pick`` is one of VEP's pick
    options (jobs.annotation.pick), ``flags`` VEP's transcript flags to show (canonical, mane, tsl,
    appris, ccds, protein: jobs.annotation.flags). ``customs`` are sources matched
    as VEP's --custom, allele-exactly or by overlap (jobs.annotation.custom). ``limits`` bound the decompressed
    bytes, records and wall-clock time; past one of them the annotation stops with a LimitExceeded
    naming the limit and the number. ``line_offset``: the input is a shard of a larger file, whose
    data lines come after that many of the file's (jobs.annotation.shards): line numbers, the record
    limit and the output's groups count from the file's start.

    Outputs appear only when complete: they are written under temporary names and renamed
    at the end, so an error (reported as an AnnotationError naming the line) leaves nothing
    that looks finished.
    """
    started = time.monotonic()
    output = Path(output_path)
    log = Path(log_path) if log_path else output.with_name(output_stem(output.name) + ".count.log")
    summary = Path(summary_path) if summary_path else output.with_name(output_stem(output.name) + ".summary.json")
    limits = limits or JobLimits()
    if pick and pick not in PICK_MODES:
        raise AnnotationError(f"pick option {pick!r}: expected one of {', '.join(PICK_MODES)}")
    try:
        flag_cols = tuple(flag_columns(flags))
    except ValueError as exc:
        raise AnnotationError(str(exc)) from None
    sources = [open_source(spec) for spec in customs]
    reader = VcfReader(
        input_path, display_name=input_name, max_bytes=limits.max_bytes, limit_label=limits.label,
        line_offset=line_offset,
    )  # fmt: skip
    stats = AnnotationStats()
    for opened in sources:  # (a source that matched nothing says so: 0)
        stats.custom_matches[opened.spec.short_name] = 0
    partial = output.with_name(f".{output.name}.partial")
    compressed = output.name.endswith(".gz")
    try:
        reader.read_header()
        watch = _LimitWatch(limits, reader, len(reader.header_lines))
        _refuse_two_previous_csqs(reader)
        header_text = _output_header(reader, reference, sources, pick, flag_cols)
        if processes > 1:
            _annotate_in_parallel(
                reader, reference, stats, header_text, partial, compressed, processes, progress, watch, fill_id,
                tuple(customs), pick, flag_cols,
            )  # fmt: skip
        else:
            _annotate_in_order(
                reader, reference, stats, header_text, partial, compressed, progress, watch, fill_id, sources, pick,
                flag_cols,
            )  # fmt: skip
    except BaseException:
        with contextlib.suppress(OSError):  # (a path too long to create is too long to unlink)
            partial.unlink(missing_ok=True)
        raise
    stats.seconds = time.monotonic() - started
    os.replace(partial, output)
    write_reports(stats, reference, input_name=input_name or Path(input_path).name, summary=summary, log=log)
    if progress is not None:
        progress(1.0)
    return AnnotationResult(output=output, log=log, summary=summary, stats=stats)


def write_reports(stats: AnnotationStats, reference: Reference, *, input_name: str, summary: Path, log: Path) -> None:
    """The summary (JSON) and the count log of an annotation's counts."""
    summary_data = {
        "engine_version": ENGINE_VERSION,
        "input": input_name,
        "reference": {"name": reference.name, "build": reference.build, "checksum": reference.checksum},
        **stats.as_dict(),
    }
    summary.write_text(json.dumps(summary_data, indent=2))
    log.write_text(render_count_log(summary_data))


def _output_header(
    reader: VcfReader, reference: Reference, sources: Sequence[CustomSource], pick: str, flag_cols: tuple[str, ...]
) -> str:
    """The input's header with GAS's CSQ description (an earlier CSQ kept as PREVIOUS_CSQ; an
    earlier VEP's ##VEP lines stay: they describe it) and the column line."""
    header = [
        _previous_csq_header(line) if line.startswith("##INFO=<ID=CSQ,") else line
        for line in reader.header_lines[:-1]
        if not line.startswith("##GAS=")
    ]
    return "\n".join(
        [*header, *csq_header(reference, sources, pick=pick, flag_cols=flag_cols), reader.header_lines[-1], ""]
    )


def _annotate_in_order(
    reader: VcfReader, reference: Reference, stats: AnnotationStats, header_text: str, partial: Path,
    compressed: bool, progress: ProgressCallback | None, watch: _LimitWatch, fill_id: bool,
    sources: Sequence[CustomSource], pick: str, flag_cols: tuple[str, ...],
) -> None:
    """One process: read, annotate and write a chunk of records at a time."""
    threshold = OFFLOAD_MIN_INPUT_BYTES["compressed" if reader.compressed else "plain"]
    writer = _Writer(partial, compressed=compressed, offload=reader.bytes_total >= threshold)
    first_data_line = len(reader.header_lines) + 1
    try:
        writer.write_block(header_text, end_group=True)
        for first_line, chunk in reader.data_chunks(CHUNK_BYTES):
            watch.check()
            for start, text, ends_group in group_pieces(first_line, chunk, first_data_line):
                annotated = _annotate_chunk(
                    start, text, reader.column_count, reader.name, reference, stats, fill_id, sources, pick,
                    flag_cols,
                )  # fmt: skip
                writer.write_block(annotated, end_group=ends_group)
            if progress is not None:
                progress(reader.fraction_read())
    finally:
        writer.close()


def group_pieces(first_line: int, text: str, first_data_line: int) -> list[tuple[int, str, bool]]:
    """A chunk of whole lines cut where a group of OUTPUT_GROUP_LINES data lines ends:
    (number of the first line, text, whether it ends a group)."""
    pieces: list[tuple[int, str, bool]] = []
    start = 0
    line = first_line
    while start < len(text):
        until = OUTPUT_GROUP_LINES - (line - first_data_line) % OUTPUT_GROUP_LINES  # lines left in the group
        lines = text.count("\n", start)
        if lines < until:
            pieces.append((line, text[start:], False))
            break
        end = start
        for _ in range(until):
            end = text.index("\n", end) + 1
        pieces.append((line, text[start:end], True))
        start = end
        line += until
    return pieces


def _annotate_chunk(
    first_line: int,
    text: str,
    column_count: int,
    name: str,
    reference: Reference,
    stats: AnnotationStats,
    fill_id: bool,
    sources: Sequence[CustomSource] = (),
    pick: str = "",
    flag_cols: tuple[str, ...] = (),
) -> str:
    """The annotated lines, each ending in a newline, of a chunk of whole data lines."""
    source = reference.source_name
    annotated: list[str] = []
    line_number = first_line
    matched_before = [custom.matched for custom in sources]  # (text() counts its own matches)
    for line in text.split("\n"):
        record = parse_data_line(line, line_number, column_count, name)
        if record is not None:
            try:
                annotated.append(
                    _annotate_record(record, reference, stats, source, name, fill_id, sources, pick, flag_cols)
                )
            except AnnotationError:  # bad input: the job fails with its message
                raise
            except Exception as exc:  # an engine bug, not bad input: this record only, written unchanged
                annotated.append(line)
                _record_failure(stats, record, exc)
        line_number += 1
    for custom, before in zip(sources, matched_before, strict=True):
        stats.custom_matches[custom.spec.short_name] += custom.matched - before
    if not annotated:
        return ""
    annotated.append("")  # (the last line's newline)
    return "\n".join(annotated)


def _record_failure(stats: AnnotationStats, record: VcfRecord, exc: Exception) -> None:
    stats.records_failed += 1
    if len(stats.failed_examples) < FAILED_EXAMPLES:
        stats.failed_examples.append(
            f"line {record.line_number}: {record.chrom}:{record.pos} {record.ref}>{','.join(record.alts)}: "
            f"{type(exc).__name__}: {exc}"
        )
        logger.warning("could not annotate line %d (%s:%d)", record.line_number, record.chrom, record.pos, exc_info=exc)


# -- several processes ------------------------------------------------------------------------
CHUNKS_IN_FLIGHT_PER_PROCESS = 3
_process_reference: list[Reference] = []  # the reference bundle loaded in a worker process
_process_sources: list[CustomSource] = []  # and its custom sources


def _process_start(bundle_path: str, customs: tuple[tuple[str, str, tuple[str, ...], str, str, str], ...]) -> None:
    _process_reference.append(Reference(bundle_path))
    # (specs travel as plain tuples: a compiled frozen dataclass does not unpickle)
    _process_sources.extend(open_source(CustomSpec(*spec)) for spec in customs)


def _annotate_chunk_in_worker(
    first_line: int,
    text: str,
    column_count: int,
    name: str,
    part: str,
    compressed: bool,
    fill_id: bool,
    pick: str,
    flag_cols: tuple[str, ...],
) -> dict[str, Any]:
    """Annotate a chunk into the file ``part``; return the chunk's counts."""
    stats = AnnotationStats()
    annotated = _annotate_chunk(
        first_line, text, column_count, name, _process_reference[0], stats, fill_id, _process_sources, pick,
        flag_cols,
    )  # fmt: skip
    write_part(Path(part), annotated, compressed=compressed)
    return stats.as_parts()


def _annotate_in_parallel(
    reader: VcfReader,
    reference: Reference,
    stats: AnnotationStats,
    header: str,
    output: Path,
    compressed: bool,
    processes: int,
    progress: ProgressCallback | None,
    watch: _LimitWatch,
    fill_id: bool,
    customs: tuple[CustomSpec, ...],
    pick: str,
    flag_cols: tuple[str, ...],
) -> None:
    """This process reads; ``processes`` workers check, parse and annotate chunks of whole lines
    (their errors still name the line) and write each to a part file, compressed when the output
    is, so compression runs in parallel too and no annotated text passes through this process.
    Parts are appended and counted in input order, so the output is the serial one. A bounded
    window of chunks is in flight, so memory and scratch space do not grow with the input;
    "spawn" keeps the workers free of this process's threads and locks.

    (This process annotates nothing itself: compiled code holds the GIL throughout, which would
    starve the pool's result thread and stall the workers.)"""
    import multiprocessing  # (here: a one-process annotation, the common case, starts faster without it)

    context = multiprocessing.get_context("spawn")
    window: deque[tuple[Path, Any]] = deque()
    limit = processes * CHUNKS_IN_FLIGHT_PER_PROCESS
    with (
        tempfile.TemporaryDirectory(prefix=f"{output.name}.", dir=output.parent) as scratch,
        open(output, "wb") as out,
        context.Pool(
            processes,
            initializer=_process_start,
            initargs=(str(reference.path), tuple(c.as_tuple() for c in customs)),
        ) as pool,
    ):
        header_part = Path(scratch) / "header"
        write_part(header_part, header, compressed=compressed)
        out.write(read_part(header_part, compressed=compressed))

        def write_finished(keep: int) -> None:
            while len(window) > keep:
                part, result = window.popleft()
                stats.add_parts(result.get())
                out.write(read_part(part, compressed=compressed))
                if progress is not None:
                    progress(reader.fraction_read())

        for index, (first_line, text) in enumerate(reader.data_chunks(CHUNK_BYTES)):
            watch.check()
            part = Path(scratch) / str(index)
            work = (first_line, text, reader.column_count, reader.name, str(part), compressed, fill_id, pick,
                    flag_cols)  # fmt: skip
            window.append((part, pool.apply_async(_annotate_chunk_in_worker, work)))
            write_finished(limit)
        write_finished(0)
        if compressed:
            out.write(BGZF_EOF)


def _annotate_record(
    record: VcfRecord,
    reference: Reference,
    stats: AnnotationStats,
    source: str,
    name: str,
    fill_id: bool,
    sources: Sequence[CustomSource] = (),
    pick: str = "",
    flag_cols: tuple[str, ...] = (),
) -> str:
    columns = record.columns
    stats.records += 1
    if "CSQ=" in columns[7]:
        columns[7] = _keep_previous_csq(columns[7])
    contig = reference.resolve_contig(record.chrom)
    if contig is None:
        stats.uncovered_contigs[record.chrom] += 1
        return "\t".join(columns)
    _check_within_contig(record, reference, contig, name)
    alts = record.alts
    alleles = process_alleles(record.pos, record.ref, alts)
    structural: list[StructuralAllele | Breakend] = []
    if len(alleles) < len(alts):  # (rare: a record without ALT, or alleles that get no annotation)
        structural = _structural_targets(record, reference, contig, len(alleles), stats)
    ref_upper = record.ref.upper()
    genome = reference.bases(contig)
    _compare_ref(record, genome.get(record.pos, record.pos + len(ref_upper) - 1), ref_upper, stats)
    if reference.dbsnp is not None:
        _existing_variation(record, reference.dbsnp, contig, ref_upper, alleles, stats, fill_id)
    if not alleles and not structural:
        return "\t".join(columns)

    index = reference.index(contig)
    made = _Entries(flag_cols, pick, stats.consequence_combinations)
    entries = made.entries
    targets: list[Allele | StructuralAllele | Breakend] = [*alleles, *structural]
    texts: list[tuple[int, int, str]] = []  # (each allele's entries, first to end, and its sources' values)
    for allele_index, target in enumerate(targets):
        first_entry = len(entries)
        stats.alleles += 1
        made.allele_index = allele_index
        best = _allele_entries(target, index, genome, source, made)
        if best is None:  # (a mated breakend far from every transcript: no entry, as VEP)
            stats.breakends_far += 1
            continue
        stats.most_severe[best.severe] += 1
        stats.impact[best.impact] += 1
        stats.regions[REGION_OF_TERM.get(best.severe, "other")] += 1
        if sources:  # the same values on every entry of the allele, before the last (GTF) field
            texts.append((first_entry, len(entries), _custom_values(target, contig, sources)))
    if texts and pick:  # (picking looks at whole entries: the values go on each first)
        for first_entry, end, text in texts:
            for at in range(first_entry, end):
                entries[at] += text
        texts = []
    if pick:
        entries = _picked_entries(pick, made.keys, made.genes, entries)
    if not entries:
        return "\t".join(columns)
    if texts:  # (each allele's entries joined with its values between them: no entry copied twice)
        csq = "CSQ=" + ",".join((text + ",").join(entries[first_entry:end]) + text
                                for first_entry, end, text in texts if end > first_entry)  # fmt: skip
    else:
        entries[0] = "CSQ=" + entries[0]  # (cheaper than prefixing the joined entries)
        csq = ",".join(entries)
    columns[7] = csq if columns[7] == "." else f"{columns[7]};{csq}"
    return "\t".join(columns)


def _check_within_contig(record: VcfRecord, reference: Reference, contig: str, name: str) -> None:
    length = reference.contig_lengths[contig]
    if record.pos + len(record.ref) - 1 > length:
        raise InputFormatError(
            name, record.line_number,
            f"{record.chrom}:{record.pos} (REF {len(record.ref)} bp) lies past the end of contig {record.chrom}, "
            f"which is {length:,} bp long in {reference.build}: is the file for another genome build?",
        )  # fmt: skip


def _structural_targets(
    record: VcfRecord, reference: Reference, contig: str, sequence_alleles: int, stats: AnnotationStats
) -> list[StructuralAllele | Breakend]:
    """The record's symbolic and breakend ALT alleles that get entries; the others counted (and the
    refused ones shown) as not annotated or skipped."""
    alts = record.alts
    if len(alts) == 1 and alts[0] == ".":
        stats.records_without_alt += 1
    symbolic, refused = structural_alleles(record.pos, alts, record.columns[7])
    structural: list[StructuralAllele | Breakend] = [*symbolic]
    for alt in alts:
        if is_breakend(alt):
            found = parse_breakend(record.pos, record.ref, alt, lambda name: reference.resolve_contig(name) == contig)
            if isinstance(found, str):
                refused.append(found)
            else:
                structural.append(found)
    stats.sv_not_annotated += len(refused)
    for reason in refused[: SV_EXAMPLES - len(stats.sv_examples)]:
        stats.sv_examples.append(f"line {record.line_number}: {record.chrom}:{record.pos} {reason}")
    stats.alleles_skipped += len(alts) - alts.count(".") - sequence_alleles - len(structural) - len(refused)
    return structural


def _compare_ref(record: VcfRecord, genome_ref: str, ref_upper: str, stats: AnnotationStats) -> None:
    if genome_ref != ref_upper and "N" not in ref_upper:
        stats.ref_mismatches += 1
        if len(stats.ref_mismatch_examples) < 10:
            stats.ref_mismatch_examples.append(
                f"line {record.line_number}: {record.chrom}:{record.pos} REF {record.ref} "
                f"but the genome has {genome_ref or '-'}"
            )


def _existing_variation(
    record: VcfRecord, dbsnp: DbSnp, contig: str, ref_upper: str, alleles: list[Allele], stats: AnnotationStats,
    fill_id: bool,
) -> None:
    """As VEP's --check_existing: the known variants with each allele, in its CSQ; with ``fill_id``
    the ids of every ALT in the ID column too, after any the file had."""
    columns = record.columns
    ids: list[str] = []
    for alt_number, alt in enumerate(record.alts, 1):
        found = dbsnp.ids(contig, record.pos, ref_upper, alt.upper())
        if found:
            for allele in alleles:
                if allele.alt_index == alt_number:
                    allele.existing = "&".join(found)
        for rs in found:
            if rs not in ids:
                ids.append(rs)
    if ids:
        stats.records_in_dbsnp += 1
        if fill_id:
            existing = [] if columns[2] == "." else columns[2].split(";")
            columns[2] = ";".join(existing + [rs for rs in ids if rs not in existing])


class _Entries:
    """A record's CSQ entries as they are made, with the flag columns added and, with a pick option,
    each entry's pick key and gene; counts each entry's terms."""

    __slots__ = ("allele_index", "combinations", "entries", "flag_cols", "genes", "keys", "pick")

    def __init__(self, flag_cols: tuple[str, ...], pick: str, combinations: dict[str, int]) -> None:
        self.flag_cols = flag_cols
        self.pick = pick
        self.combinations = combinations
        self.allele_index = 0
        self.entries: list[str] = []
        self.keys: list[PickKey] = []
        self.genes: list[str] = []

    def add(self, transcript: Transcript | None, consequence: Consequence, entry: str) -> None:
        if self.flag_cols:
            entry = insert_after(entry, FLAGS_AFTER, flag_values(transcript, self.flag_cols))
        self.entries.append(entry)
        if self.pick:
            self.keys.append(pick_key(transcript, consequence.rank, self.allele_index))
            self.genes.append("" if transcript is None else transcript.gene_id)
        self.combinations[consequence.text] = self.combinations.get(consequence.text, 0) + 1


def _allele_entries(
    target: Allele | StructuralAllele | Breakend, index: ContigIndex, genome: ContigBases, source: str, made: _Entries
) -> Consequence | None:
    """One allele's entries (a transcript each, else the intergenic one) added to ``made``; its most
    severe consequence returned (None for a mated breakend far from every transcript: no entry)."""
    best: Consequence | None = None
    if isinstance(target, Breakend):
        for transcript in _candidates(target, index):
            for consequence, entry in breakend_entries(target, transcript, source):
                made.add(transcript, consequence, entry)
                if best is None or consequence.rank < best.rank:
                    best = consequence
        if best is None and target.mated:
            return None
    else:
        for transcript in index.near(target.start, target.end):
            if isinstance(target, Allele):
                found, entry = annotate_transcript(target, transcript, genome, source)
            else:
                found, entry = annotate_structural(target, transcript, source)
            if found is not None:
                made.add(transcript, found, entry)
                if best is None or found.rank < best.rank:
                    best = found
    if best is None:
        best, entry = intergenic_entry(target.label, target.existing if isinstance(target, Allele) else "")
        made.add(None, best, entry)
    return best


def _candidates(target: Allele | StructuralAllele | Breakend, index: ContigIndex) -> list[Transcript]:
    """The transcripts within 5 kb of an allele, or of either end of a breakend on this contig."""
    near = index.near(target.start, target.end)
    if isinstance(target, Breakend) and target.mate is not None:
        seen = {transcript.transcript_id for transcript in near}
        near += [t for t in index.near(target.mate, target.mate) if t.transcript_id not in seen]
    return near


def _custom_values(target: Allele | StructuralAllele | Breakend, contig: str, sources: Sequence[CustomSource]) -> str:
    """The custom sources' fields of one allele, as appended to each of its entries (each source
    counts its own matches)."""
    if isinstance(target, Allele):
        key = allele_key(target.start, target.ref, target.alt)  # (once, for every source)
        code = snv_code(key[0], key[1], key[2])
        return "".join(custom.text(contig, target.start, target.end, key, code) for custom in sources)
    return "".join(custom.span_text(contig, target.start, target.end) for custom in sources)


def _picked_entries(pick: str, keys: list[PickKey], genes: list[str], entries: list[str]) -> list[str]:
    chosen = picked(pick, keys, genes)
    if pick.startswith("flag_"):
        return [with_pick(entry, at in chosen) for at, entry in enumerate(entries)]
    # (the others are left out, as VEP's --pick, --pick_allele and --per_gene do)
    return [entry for at, entry in enumerate(entries) if at in chosen]


def output_stem(name: str) -> str:
    """An output's name without its VCF suffix, for the names of its side files: the whole name
    is kept (``x.vcf.out.vcf.gz`` -> ``x.vcf.out``), only a final .vcf, .vcf.gz or .vcf.bgz goes."""
    for suffix in (".vcf.gz", ".vcf.bgz", ".vcf"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def render_count_log(summary: dict[str, Any]) -> str:
    lines = [
        "GAS annotation count log",
        f"engine {summary['engine_version']}; reference {summary['reference']['name']} "
        f"({summary['reference']['build']}, checksum {summary['reference']['checksum'][:12]})",
        f"input: {summary['input']}",
        "",
        f"Total variants (records): {summary['records']}",
        f"Annotated alleles: {summary['alleles']}",
        f"Records in dbSNP: {summary['records_in_dbsnp']} ({summary['percent_in_dbsnp']:.2f}%)",
        f"REF alleles that disagree with the genome: {summary['ref_mismatches']}",
    ]
    lines += [f"  {example}" for example in summary["ref_mismatch_examples"]]
    if summary["records_without_alt"] or summary["alleles_skipped"]:
        lines.append(
            f"Not annotated: {summary['records_without_alt']} records without ALT, "
            f"{summary['alleles_skipped']} '*'/REF-equal alleles"
        )
    for short_name, count in summary.get("custom_source_matches", {}).items():
        lines.append(f"Alleles matched by custom source {short_name}: {count}")
    if summary.get("structural_not_annotated"):
        lines.append(f"Structural ALT alleles not annotated: {summary['structural_not_annotated']}")
        lines += [f"  {example}" for example in summary["structural_not_annotated_examples"]]
    if summary.get("breakends_far_from_transcripts"):
        lines.append(
            f"Breakends with both ends over 5 kb from every transcript (no CSQ, as VEP): "
            f"{summary['breakends_far_from_transcripts']}"
        )
    if summary["records_failed"]:
        lines.append(
            f"WARNING: {summary['records_failed']} records could not be annotated (an internal error; "
            "written unchanged, without CSQ):"
        )
        lines += [f"  {example}" for example in summary["failed_records"]]
        if summary["records_failed"] > len(summary["failed_records"]):
            lines.append(f"  ... and {summary['records_failed'] - len(summary['failed_records'])} more")
    if summary["uncovered_contigs"]:
        lines.append("Contigs not covered by the reference (records passed through unannotated):")
        lines += [f"  {contig}: {count}" for contig, count in summary["uncovered_contigs"].items()]
    lines += ["", "Most severe consequence per allele:"]
    lines += [f"  {term:<40}{count:>10}" for term, count in summary["most_severe_consequence"].items()]
    lines += ["", "By region (most severe consequence):"]
    lines += [f"  {region:<40}{count:>10}" for region, count in summary["regions"].items()]
    lines += ["", "By impact (most severe consequence):"]
    lines += [f"  {impact:<40}{count:>10}" for impact, count in summary["impact"].items()]
    lines += ["", "All consequence terms over all transcripts:"]
    lines += [f"  {term:<40}{count:>10}" for term, count in summary["consequence_terms"].items()]
    rate = summary["variants_per_second"]
    lines += ["", f"Run time: {summary['seconds']:.2f} s" + (f" ({rate} variants/s)" if rate else "")]
    return "\n".join(lines) + "\n"
