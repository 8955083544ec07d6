"""The bundle's genome, written in one pass (jobs.annotation.fasta), read back as pysam reads a
FASTA: every shape of input (line widths, case, CRLF, gzip, bgzip, headers cut by a chunk)."""

from __future__ import annotations

import gzip
import hashlib
import random

import pysam
import pytest

from jobs.annotation import fasta
from jobs.annotation.errors import ReferenceError_


def _fasta_text(rng: random.Random) -> tuple[dict[str, str], str]:
    sequences = {
        f"chr{i}": "".join(rng.choice("ACGTacgtNn") for _ in range(rng.randrange(1, 2500)))
        for i in range(rng.randrange(1, 6))
    }
    width = rng.choice([7, 60, 61, 80, 5000])
    text = "".join(
        f">{name} some description\n" + "".join(seq[i : i + width] + "\n" for i in range(0, len(seq), width))
        for name, seq in sequences.items()
    )
    return sequences, text.replace("\n", "\r\n") if rng.random() < 0.3 else text


@pytest.mark.parametrize("compression", ["plain", "gzip", "bgzip"])
@pytest.mark.parametrize("chunk", [5, 64, 1 << 24])
def test_the_genome_reads_back_as_the_source(tmp_path, monkeypatch, compression, chunk):
    monkeypatch.setattr(fasta, "CHUNK", chunk)  # (small chunks cut headers and lines anywhere)
    rng = random.Random(f"{compression}{chunk}")
    for trial in range(8):
        sequences, text = _fasta_text(rng)
        plain = tmp_path / f"source{trial}.fa"
        plain.write_text(text)
        source = plain
        if compression == "gzip":
            source = tmp_path / f"source{trial}.fa.gz"
            source.write_bytes(gzip.compress(text.encode()))
        elif compression == "bgzip":
            source = tmp_path / f"source{trial}.bgz.fa.gz"
            pysam.tabix_compress(str(plain), str(source))
        target = tmp_path / f"genome{trial}.fa"

        genome = fasta.write_genome(source, target)

        assert genome.contigs == {name: len(seq) for name, seq in sequences.items()}
        assert genome.source_sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
        assert genome.genome_sha256 == hashlib.sha256(target.read_bytes()).hexdigest()
        written = pysam.FastaFile(str(target))  # (with the index the pass wrote)
        assert list(written.references) == list(sequences)
        for name, seq in sequences.items():
            assert written.fetch(name) == seq.upper()
            start = rng.randrange(len(seq))
            end = rng.randrange(start, len(seq) + 1)
            assert written.fetch(name, start, end) == seq.upper()[start:end]
        # one upper-case line per contig, as the engine's dense reads expect
        assert target.read_text().splitlines()[1::2] == [seq.upper() for seq in sequences.values()]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"ACGT\n>chr1\nAC\n", "line 1: not a FASTA file (expected a '>' header line first)"),
        (b">chr1\nAC\n>chr2\nGG\n>chr1\nTT\n", "line 5: sequence chr1 appears twice"),
        (b">\nAC\n", "line 1: a '>' header line without a sequence name"),
        (b"", "no sequence in the FASTA file"),
    ],
)
def test_a_bad_fasta_is_refused_naming_the_line(tmp_path, content, message):
    source = tmp_path / "bad.fa"
    source.write_bytes(content)
    with pytest.raises(ReferenceError_, match=r"bad\.fa") as caught:
        fasta.write_genome(source, tmp_path / "genome.fa")
    assert str(caught.value).endswith(message)


def test_a_truncated_gzip_is_refused(tmp_path):
    rng = random.Random(7)
    data = gzip.compress((">chr1\n" + "".join(rng.choice("ACGT") for _ in range(200_000)) + "\n").encode())
    source = tmp_path / "cut.fa.gz"
    source.write_bytes(data[: len(data) // 2])
    with pytest.raises(ReferenceError_, match=r"cut\.fa\.gz: the gzip file is damaged or truncated"):
        fasta.write_genome(source, tmp_path / "genome.fa")


def test_an_import_with_a_bad_fasta_says_so_and_leaves_nothing(tmp_path):
    """The genome is written in a process of its own: its error still reaches the caller."""
    from jobs.annotation.reference import import_reference

    model = tmp_path / "model.gtf"
    model.write_text(
        'chr1\tt\ttranscript\t1\t4\t.\t+\t.\tgene_id "G"; transcript_id "T"; gene_name "A";\n'
        'chr1\tt\texon\t1\t4\t.\t+\t.\tgene_id "G"; transcript_id "T"; gene_name "A";\n'
    )
    bad = tmp_path / "genome.fa"
    bad.write_text(">chr1\nACGT\n>chr1\nACGT\n")
    with pytest.raises(ReferenceError_, match="line 3: sequence chr1 appears twice"):
        import_reference(name="x", build="GRCh37", gene_model=model, fasta=bad, destination=tmp_path / "refs" / "x")
    assert list((tmp_path / "refs").iterdir()) == []


def test_an_import_builds_the_same_bundle_whatever_order_the_genome_comes_in(tmp_path):
    """Transcripts are built as their contigs are written: a model whose contigs come in another
    order than the FASTA's (held until written), or lie on no contig of it (dropped), still gives
    the transcripts and sequences of an in-order import."""
    import pickle

    from jobs.annotation.reference import import_reference

    rng = random.Random(20)
    sequences = {name: "".join(rng.choice("ACGTacgt") for _ in range(3000)) for name in ("c1", "c2", "c3")}
    lines = []
    for number, contig in enumerate(["c3", "c1", "cX", "c2"]):
        for strand in "+-":
            attributes = f'gene_id "G{number}{strand}"; transcript_id "T{number}{strand}"; gene_name "S{number}";'
            lines.append(f"{contig}\tt\tgene\t101\t2000\t.\t{strand}\t.\t{attributes}")
            lines.append(f"{contig}\tt\ttranscript\t101\t2000\t.\t{strand}\t.\t{attributes}")
            lines.append(f"{contig}\tt\texon\t101\t400\t.\t{strand}\t.\t{attributes}")
            lines.append(f"{contig}\tt\texon\t1001\t2000\t.\t{strand}\t.\t{attributes}")
            lines.append(f"{contig}\tt\tCDS\t301\t400\t.\t{strand}\t0\t{attributes}")
            lines.append(f"{contig}\tt\tCDS\t1001\t1500\t.\t{strand}\t2\t{attributes}")
    model = tmp_path / "model.gtf"
    model.write_text("\n".join(lines) + "\n")
    bundles = {}
    for label, order in (("in order", ["c1", "c2", "c3"]), ("reversed", ["c3", "c2", "c1"])):
        genome = tmp_path / f"{label}.fa"
        genome.write_text("".join(f">{name}\n{sequences[name]}\n" for name in order))
        report = import_reference(
            name=label.replace(" ", "-"), build="GRCh37", gene_model=model, fasta=genome,
            destination=tmp_path / "refs" / label.replace(" ", "-"),
        )  # fmt: skip
        assert (report.transcripts, report.dropped, report.contigs) == (6, 2, 3)
        folder = tmp_path / "refs" / label.replace(" ", "-") / "transcripts"
        bundles[label] = {path.name: pickle.loads(path.read_bytes()) for path in sorted(folder.iterdir())}
    assert bundles["in order"] == bundles["reversed"]
    plus = next(record for record in bundles["reversed"]["c1.pkl"] if record[0] == "T1+")
    assert plus[8] == (sequences["c1"][100:400] + sequences["c1"][1000:2000]).upper()  # (the spliced cDNA)
