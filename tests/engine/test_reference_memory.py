"""A loaded bundle holds a bounded number of transcripts: least recently used contigs are let go
(issue 12: a worker that has annotated every chromosome stays under 1 GB)."""

from __future__ import annotations

import random
from pathlib import Path

from jobs.annotation.engine import annotate_vcf
from jobs.annotation.reference import Reference, import_reference
from tests.engine.conftest import write_vcf

CONTIGS = ("1", "2", "3")


def _bundle(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    rng = random.Random(7)
    genome = {name: "".join(rng.choice("ACGT") for _ in range(12_000)) for name in CONTIGS}
    fasta = tmp_path / "genome.fa"
    fasta.write_text("".join(f">{name}\n{bases}\n" for name, bases in genome.items()))
    lines = []
    for name in CONTIGS:
        for n in range(4):  # four transcripts per contig
            start = 1000 + 2000 * n
            tid = f"ENST{name}{n}"
            attrs = f'gene_id "ENSG{name}{n}"; transcript_id "{tid}"; gene_name "G{name}{n}"; gene_type "lncRNA";'
            lines.append(f"{name}\tHAVANA\tgene\t{start}\t{start + 999}\t.\t+\t.\t{attrs}")
            kind = 'transcript_type "lncRNA";'
            lines.append(f"{name}\tHAVANA\ttranscript\t{start}\t{start + 999}\t.\t+\t.\t{attrs} {kind}")
            lines.append(f"{name}\tHAVANA\texon\t{start}\t{start + 999}\t.\t+\t.\t{attrs}")
    model = tmp_path / "model.gtf"
    model.write_text("\n".join(lines) + "\n")
    import_reference(name="three", build="GRCh38", gene_model=model, fasta=fasta, destination=tmp_path / "three")
    return tmp_path / "three", genome


def test_least_recently_used_contigs_are_let_go_and_loaded_again_the_same(tmp_path):
    bundle, genome = _bundle(tmp_path)
    records = []
    for name in (*CONTIGS, "1"):  # (back to the first contig: loaded again)
        for pos in (1500, 3500, 5500):
            ref = genome[name][pos - 1]
            records.append((name, pos, ref, "A" if ref != "A" else "C"))
    header = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    source = write_vcf(tmp_path / "in.vcf", records, header=header)

    bounded = Reference(bundle, max_transcripts=8)
    held = []
    for contig in (*CONTIGS, "1"):  # (as the engine asks, contig by contig)
        bounded.index(contig)
        held.append(bounded.loaded_contigs())
    assert held == [["1"], ["1", "2"], ["2", "3"], ["3", "1"]]  # (8 transcripts: two contigs of four)
    small = annotate_vcf(source, tmp_path / "bounded.vcf", Reference(bundle, max_transcripts=8))
    unbounded = Reference(bundle)
    full = annotate_vcf(source, tmp_path / "unbounded.vcf", unbounded)
    assert unbounded.loaded_contigs() == ["2", "3", "1"]
    assert small.output.read_text() == full.output.read_text()
    assert small.stats.records == 12


def test_the_contig_in_use_is_kept_even_past_the_bound(tmp_path):
    bundle, _ = _bundle(tmp_path)
    reference = Reference(bundle, max_transcripts=1)
    assert len(reference.index("1").transcripts) == 4
    reference.index("2")
    assert reference.loaded_contigs() == ["2"]
