"""Run peer annotators on the same input and gene model: bcftools csq and snpEff (Debian packages).

Both are driven from the reference bundle's own source files so every tool sees the same
gene model (GENCODE 19 GTF) and genome. Used by benchmarks/annotate.py and by the
concordance test.
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

SNPEFF_JAR = Path("/usr/share/java/snpeff.jar")


@dataclass
class Run:
    seconds: float
    peak_mb: float
    cpu_seconds: float = 0.0  # (user + system: steadier than wall time on a shared machine)


def measure(command: list[str], *, stdout: Path | None = None, env: dict[str, str] | None = None) -> Run:
    """Run ``command`` in a fresh wrapper process; wall and CPU time and the peak RSS of the command alone."""
    wrapper = (
        "import resource, subprocess, sys, time, json;"
        "out = open(sys.argv[1], 'wb') if sys.argv[1] != '-' else subprocess.DEVNULL;"
        "t = time.perf_counter(); rc = subprocess.call(sys.argv[2:], stdout=out);"
        "d = time.perf_counter() - t;"
        "u = resource.getrusage(resource.RUSAGE_CHILDREN);"
        "print(json.dumps([rc, d, u.ru_maxrss, u.ru_utime + u.ru_stime]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", wrapper, str(stdout) if stdout else "-", *command],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    if result.returncode != 0 or not result.stdout.strip():
        raise RuntimeError(f"{command[0]} failed: {result.stderr[-2000:]}")
    rc, seconds, peak_kb, cpu = json.loads(result.stdout.strip().splitlines()[-1])
    if rc != 0:
        raise RuntimeError(f"{' '.join(command)} exited {rc}: {result.stderr[-2000:]}")
    return Run(seconds=seconds, peak_mb=peak_kb / 1024, cpu_seconds=cpu)


def _gtf_attributes(text: str) -> dict[str, str]:
    out = {}
    for part in text.strip().split(";"):
        key, _, value = part.strip().partition(" ")
        if key:
            out.setdefault(key, value.strip('"'))
    return out


def gtf_to_gff3(gtf: Path, gff3: Path) -> Path:
    """Ensembl-style GFF3 for bcftools csq (genes, transcripts, exons, CDS and UTRs) from a GTF."""
    genes: dict[str, list[str]] = {}
    transcripts: dict[str, dict] = {}
    with gzip.open(gtf, "rt") as handle:
        for line in handle:
            if line.startswith("#"):
                continue
            cols = line.rstrip("\n").split("\t")
            attrs = _gtf_attributes(cols[8])
            if cols[2] == "gene":
                genes[attrs["gene_id"]] = cols
            elif cols[2] == "transcript":
                transcripts[attrs["transcript_id"]] = {"cols": cols, "attrs": attrs, "exons": [], "cds": []}
            elif cols[2] in ("exon", "CDS") and attrs.get("transcript_id") in transcripts:
                key = "exons" if cols[2] == "exon" else "cds"
                transcripts[attrs["transcript_id"]][key].append((int(cols[3]), int(cols[4]), cols[7]))
    by_gene: dict[str, list[str]] = defaultdict(list)
    for tid, t in transcripts.items():
        by_gene[t["attrs"]["gene_id"]].append(tid)
    lines = ["##gff-version 3"]
    for gene_id, cols in genes.items():
        gattrs = _gtf_attributes(cols[8])
        biotype = gattrs.get("gene_biotype") or gattrs.get("gene_type") or "protein_coding"
        lines.append(
            "\t".join(
                [
                    *cols[:2],
                    "gene",
                    *cols[3:8],
                    f"ID=gene:{gene_id};Name={gattrs.get('gene_name', gene_id)};biotype={biotype}",
                ]
            )
        )
        for tid in by_gene.get(gene_id, []):
            t = transcripts[tid]
            tb = t["attrs"].get("transcript_biotype", "protein_coding")
            tcols = t["cols"]
            lines.append(
                "\t".join(
                    [*tcols[:2], "transcript", *tcols[3:8], f"ID=transcript:{tid};Parent=gene:{gene_id};biotype={tb}"]
                )
            )
            for start, end, _ in sorted(t["exons"]):
                lines.append(
                    "\t".join(
                        [
                            tcols[0],
                            tcols[1],
                            "exon",
                            str(start),
                            str(end),
                            ".",
                            tcols[6],
                            ".",
                            f"Parent=transcript:{tid}",
                        ]
                    )
                )
            if t["cds"]:
                cds_lo = min(s for s, _, _ in t["cds"])
                cds_hi = max(e for _, e, _ in t["cds"])
                for start, end, phase in sorted(t["cds"]):
                    lines.append(
                        "\t".join(
                            [
                                tcols[0],
                                tcols[1],
                                "CDS",
                                str(start),
                                str(end),
                                ".",
                                tcols[6],
                                phase,
                                f"Parent=transcript:{tid}",
                            ]
                        )
                    )
                for start, end, _ in sorted(t["exons"]):
                    for lo, hi, side in ((start, min(end, cds_lo - 1), "left"), (max(start, cds_hi + 1), end, "right")):
                        if lo <= hi:
                            five = (side == "left") == (tcols[6] == "+")
                            kind = "five_prime_UTR" if five else "three_prime_UTR"
                            lines.append(
                                "\t".join(
                                    [
                                        tcols[0],
                                        tcols[1],
                                        kind,
                                        str(lo),
                                        str(hi),
                                        ".",
                                        tcols[6],
                                        ".",
                                        f"Parent=transcript:{tid}",
                                    ]
                                )
                            )
    gff3.write_text("\n".join(lines) + "\n")
    return gff3


def bcftools_csq(vcf: Path, fasta: Path, gff3: Path, out: Path) -> Run:
    return measure(["bcftools", "csq", "-f", str(fasta), "-g", str(gff3), "-o", str(out), "--force", str(vcf)])


def snpeff_database(workdir: Path, gtf: Path, fasta: Path, genome: str = "gas_demo") -> Path:
    """Build (once) a snpEff database from the GTF and FASTA; returns the config path."""
    config = workdir / "snpEff.config"
    data = workdir / "data"
    if (data / genome / "snpEffectPredictor.bin").exists():
        return config
    (data / genome).mkdir(parents=True, exist_ok=True)
    # snpEff 5.1 silently drops most transcripts of a gzipped genes.gtf: give it plain text
    for source, target in ((gtf, "genes.gtf"), (fasta, "sequences.fa")):
        with gzip.open(source, "rb") as src, open(data / genome / target, "wb") as dst:
            shutil.copyfileobj(src, dst)
    config.write_text(f"data.dir = {data}\n{genome}.genome : GAS demo\n{genome}.codonTable : Standard\n")
    subprocess.run(
        ["java", "-Xmx4g", "-jar", str(SNPEFF_JAR), "build", "-gtf22", "-noCheckCds", "-noCheckProtein",
         "-c", str(config), genome],
        check=True, capture_output=True, cwd=workdir,
    )  # fmt: skip
    return config


def snpeff(vcf: Path, config: Path, out: Path, genome: str = "gas_demo") -> Run:
    return measure(
        ["java", "-Xmx4g", "-jar", str(SNPEFF_JAR), "ann", "-noStats", "-c", str(config), genome, str(vcf)], stdout=out
    )


def available() -> dict[str, bool]:
    return {
        "bcftools": shutil.which("bcftools") is not None,
        "snpeff": SNPEFF_JAR.exists() and shutil.which("java") is not None,
    }
