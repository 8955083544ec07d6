"""The reference catalogue (issue 12, item 1): `reference install NAME` from a local mirror in the
providers' layout (small real slices of GRCh37 chr20, laid out and named as Ensembl's and NCBI's
FTP sites), checked against the providers' checksum listings, resumed after a broken transfer,
built out of sight, then listed, used to annotate and removed."""

from __future__ import annotations

# ruff: noqa: E501 - gene-model lines are built whole, as NCBI writes them
import gzip
import hashlib
import subprocess
from pathlib import Path

import pysam
import pytest
from django.core.management import CommandError, call_command

from jobs.annotation.engine import annotate_vcf
from jobs.annotation.reference import Reference, list_references
from jobs.references.catalogue import CATALOGUE, CatalogueError, install
from jobs.references.fetch import expected_checksum, file_checksum, mirrored
from tests.conftest import DEMO
from tests.engine.conftest import csq_entries, write_vcf
from tests.mirror import Mirror

DATA = Path(__file__).resolve().parents[2] / "data"
SLICE = 400_000  # the first 400 kb of chr20: 15 genes
ENSEMBL = "pub/grch37/release-87"
NCBI = "genomes/all/GCF/000/001/405/GCF_000001405.25_GRCh37.p13"
NCBI_NAME = "GCF_000001405.25_GRCh37.p13"


def _fasta(path: Path, name: str) -> None:
    sequence = pysam.FastaFile(str(DEMO / "GRCh37.chr20.fa.gz")).fetch("20", 0, SLICE)
    lines = [sequence[i : i + 60] for i in range(0, len(sequence), 60)]
    with gzip.open(path, "wt") as handle:
        handle.write(f">{name} dna:chromosome chromosome:GRCh37:20:1:{SLICE}:1 REF\n" + "\n".join(lines) + "\n")


def _ncbi_gff3() -> str:
    """TRIB3 and SOX12 of the Ensembl slice, written as NCBI writes its GFF3."""
    lines = [
        "##gff-version 3",
        "#!annotation-source NCBI Homo sapiens Annotation Release 105",
        f"NC_000020.10\tRefSeq\tregion\t1\t{SLICE}\t.\t+\t.\tID=NC_000020.10:1..{SLICE};Dbxref=taxon:9606;"
        "Name=20;chromosome=20;gbkey=Src;genome=chromosome;mol_type=genomic DNA",
    ]
    genes = {"TRIB3": "57761", "SOX12": "6666"}
    accession = 0
    with gzip.open(DATA / "GRCh37.gencode19.chr20_400kb.gff3.gz", "rt") as handle:
        rows = [line.rstrip("\n").split("\t") for line in handle if not line.startswith("#")]
    for symbol, gene_id in genes.items():
        gene = next(row for row in rows if row[2] == "gene" and f"ID=gene:{symbol};" in row[8])
        lines.append("\t".join(["NC_000020.10", "BestRefSeq", "gene", *gene[3:8],
                                f"ID=gene-{symbol};Dbxref=GeneID:{gene_id},HGNC:HGNC:{gene_id};Name={symbol};"
                                f"gbkey=Gene;gene={symbol};gene_biotype=protein_coding"]))  # fmt: skip
        for row in rows:
            if row[2] != "mRNA" or f"Parent=gene:{symbol}" not in row[8] or "biotype=protein_coding" not in row[8]:
                continue
            accession += 1
            nm = f"NM_{accession:06d}.1"
            ensembl = row[8].split("ID=transcript:")[1].split(";")[0]
            tag = ";tag=MANE Select" if f"gene-{symbol};" in lines[-1] else ""  # (each gene's first)
            lines.append("\t".join(["NC_000020.10", "BestRefSeq", "mRNA", *row[3:8],
                                    f"ID=rna-{nm};Parent=gene-{symbol};Dbxref=Ensembl:{ensembl},GeneID:{gene_id},"
                                    f"GenBank:{nm};Name={nm};gbkey=mRNA;gene={symbol};transcript_id={nm}{tag}"]))  # fmt: skip
            for child in rows:
                if child[8].endswith(f"Parent=transcript:{ensembl}") and child[2] in ("exon", "CDS"):
                    extra = f";protein_id=NP_{accession:06d}.1" if child[2] == "CDS" else ""
                    lines.append("\t".join(["NC_000020.10", "BestRefSeq", *child[2:8],
                                            f"ID={child[2].lower()}-{nm};Parent=rna-{nm};gene={symbol}{extra}"]))  # fmt: skip
    return "\n".join(lines) + "\n"


def _bsd_sum(path: Path) -> str:
    checksum, blocks = subprocess.run(
        ["sum", "-r", str(path)], capture_output=True, text=True, check=True
    ).stdout.split()[:2]
    return f"{checksum} {blocks}"


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


@pytest.fixture
def mirror_root(tmp_path) -> Path:
    root = tmp_path / "mirror"
    gff3 = root / ENSEMBL / "gff3/homo_sapiens"
    dna = root / ENSEMBL / "fasta/homo_sapiens/dna"
    ncbi = root / NCBI
    for folder in (gff3, dna, ncbi):
        folder.mkdir(parents=True)
    (gff3 / "Homo_sapiens.GRCh37.87.gff3.gz").write_bytes((DATA / "GRCh37.gencode19.chr20_400kb.gff3.gz").read_bytes())
    _fasta(dna / "Homo_sapiens.GRCh37.dna.primary_assembly.fa.gz", "20")
    for folder in (gff3, dna):  # (Ensembl's CHECKSUMS: BSD sum and 1 KB blocks, as `sum -r` prints)
        listing = [f"{_bsd_sum(p)} {p.name}" for p in sorted(folder.iterdir())]
        (folder / "CHECKSUMS").write_text("\n".join(listing) + "\n")
    with gzip.open(ncbi / f"{NCBI_NAME}_genomic.gff.gz", "wt") as handle:
        handle.write(_ncbi_gff3())
    _fasta(ncbi / f"{NCBI_NAME}_genomic.fna.gz", "NC_000020.10")
    (ncbi / f"{NCBI_NAME}_assembly_report.txt").write_text(
        "# Assembly name:  GRCh37.p13\n"
        "# Sequence-Name\tSequence-Role\tAssigned-Molecule\tAssigned-Molecule-Location/Type\tGenBank-Accn\t"
        "Relationship\tRefSeq-Accn\tAssembly-Unit\tSequence-Length\tUCSC-style-name\n"
        f"20\tassembled-molecule\t20\tChromosome\tCM000682.1\t=\tNC_000020.10\tPrimary Assembly\t{SLICE}\tchr20\n"
    )
    listing = [f"{_md5(p)}  ./{p.name}" for p in sorted(ncbi.iterdir())]
    (ncbi / "md5checksums.txt").write_text("\n".join(listing) + "\n")
    return root


def test_the_catalogue_names_official_files_with_checksum_listings():
    assert {"ensembl-grch38", "gencode-grch38-basic", "gencode-grch38-comprehensive", "refseq-grch38",
            "mane-grch38", "ensembl-grch37", "gencode-grch37"} <= set(CATALOGUE)  # fmt: skip
    for entry in CATALOGUE.values():
        assert entry.file("gene_model") and entry.file("fasta") and entry.licence
        for file in entry.files:
            assert file.url.startswith("https://") and file.checksums.startswith("https://") and file.size
    assert CATALOGUE["ensembl-grch38"].file("gene_model").url == (
        "https://ftp.ensembl.org/pub/release-115/gff3/homo_sapiens/Homo_sapiens.GRCh38.115.gff3.gz"
    )
    assert mirrored("https://ftp.ensembl.org/pub/x/y.gz", "http://m:1/") == "http://m:1/pub/x/y.gz"


def test_checksum_listings_as_the_providers_write_them(tmp_path):
    path = tmp_path / "f.gz"
    path.write_bytes(b"GAS" * 1000)
    assert expected_checksum(f"{_md5(path)}  ./f.gz\n00  ./g.gz\n", "f.gz", "md5") == file_checksum(path, "md5")
    bsd = file_checksum(path, "sum")
    assert expected_checksum(f"{bsd} f.gz\n1 1 g.gz\n", "f.gz", "sum") == bsd
    assert expected_checksum(f"MD5(f.gz)= {_md5(path)}\n", "f.gz", "md5") == _md5(path)
    assert expected_checksum("00 00 g.gz\n", "f.gz", "sum") is None


@pytest.mark.slow
def test_install_two_entries_from_a_mirror_then_list_annotate_and_remove(mirror_root, tmp_path, settings, capsys):
    references = tmp_path / "references"
    settings.GAS_REFERENCE_DIR = references
    with Mirror(mirror_root) as mirror:
        fasta_path = f"/{ENSEMBL}/fasta/homo_sapiens/dna/Homo_sapiens.GRCh37.dna.primary_assembly.fa.gz"
        mirror.break_once.add(fasta_path)
        call_command("reference", "install", "ensembl-grch37", "--mirror", mirror.url)
        fasta_requests = [wanted for path, wanted in mirror.requests if path == fasta_path]
        assert fasta_requests[0] == "" and fasta_requests[1].startswith("bytes=") and fasta_requests[1] != "bytes=0-"
        install(name="refseq-grch37", root=references, mirror=mirror.url)
        listings = [path for path, _ in mirror.requests if path.endswith("/md5checksums.txt")]
        assert len(listings) == 1  # (one listing for NCBI's three files, fetched once)
    assert not (references / ".downloads" / "ensembl-grch37").exists()  # (downloads go once built)
    bundles = {bundle["name"]: bundle for bundle in list_references(references)}
    assert bundles["ensembl-grch37"]["provider"] == "Ensembl" and bundles["ensembl-grch37"]["release"] == "87"
    assert bundles["refseq-grch37"]["provider"] == "NCBI RefSeq"
    capsys.readouterr()
    call_command("reference", "list")
    listed = capsys.readouterr().out
    assert "ensembl-grch37\tGRCh37\tEnsembl 87\ttranscripts=32" in listed and "refseq-grch37\tGRCh37" in listed

    # TRIB3's first coding exon, annotated with each
    ensembl, refseq = Reference(references / "ensembl-grch37"), Reference(references / "refseq-grch37")
    assert refseq.resolve_contig("20") == refseq.resolve_contig("chr20") == "NC_000020.10"
    pos = 361_500
    ref = ensembl.sequence("20", pos, pos)
    alt = "A" if ref != "A" else "G"
    header = f"##fileformat=VCFv4.2\n##contig=<ID=20,length={SLICE}>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    source = write_vcf(tmp_path / "in.vcf", [("20", pos, ref, alt)], header=header)
    by_ensembl = csq_entries(annotate_vcf(source, tmp_path / "e.vcf", ensembl).output)
    by_refseq = csq_entries(annotate_vcf(source, tmp_path / "r.vcf", refseq, flags=("mane",)).output)
    assert {entry[3] for entry in by_ensembl} >= {"TRIB3"} and all(
        e[6].startswith("TRIB3-") for e in by_ensembl if e[3]
    )
    features = {entry[6]: entry for entry in by_refseq}
    assert set(features) == {"NM_000001.1", "NM_000002.1", "NM_000003.1"} and {e[4] for e in by_refseq} == {"57761"}
    assert [features[nm][23] for nm in sorted(features)] == ["MANE_Select", "", ""]  # (MANE follows HGNC_ID)
    assert features["NM_000001.1"][24] == "TRIB3-T1"  # (MANE_SELECT: the Ensembl counterpart NCBI names)

    call_command("reference", "remove", "refseq-grch37")
    assert [bundle["name"] for bundle in list_references(references)] == ["ensembl-grch37"]
    with pytest.raises(CommandError, match="no reference 'refseq-grch37' is installed"):
        call_command("reference", "remove", "refseq-grch37")


def test_a_checksum_mismatch_is_refused_and_nothing_installed(mirror_root, tmp_path):
    listing = mirror_root / NCBI / "md5checksums.txt"
    listing.write_text(listing.read_text().replace(_md5(mirror_root / NCBI / f"{NCBI_NAME}_genomic.gff.gz"), "0" * 32))
    with Mirror(mirror_root) as mirror, pytest.raises(CatalogueError) as caught:
        install(name="refseq-grch37", root=tmp_path, mirror=mirror.url)
    assert str(caught.value).startswith(
        f"{NCBI_NAME}_genomic.gff.gz: checksum mismatch: md5checksums.txt gives {'0' * 32} (md5), the download has "
    )
    assert "run the install again" in str(caught.value)
    assert list_references(tmp_path) == [] and not (tmp_path / "refseq-grch37").exists()
    assert not (tmp_path / ".downloads" / "refseq-grch37" / f"{NCBI_NAME}_genomic.gff.gz").exists()


def test_an_unknown_name_or_a_missing_file_says_what_is_wrong(mirror_root, tmp_path):
    with pytest.raises(CatalogueError, match="'grch99' is not in the catalogue: expected one of ensembl-grch38"):
        install(name="grch99", root=tmp_path)
    (mirror_root / NCBI / f"{NCBI_NAME}_genomic.fna.gz").unlink()
    with Mirror(mirror_root) as mirror, pytest.raises(CatalogueError, match=r"_genomic\.fna\.gz: HTTP 404"):
        install(name="refseq-grch37", root=tmp_path, mirror=mirror.url, retries=0)
