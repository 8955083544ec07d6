"""The GAS annotation engine: VEP-compatible consequences, HGVS and dbSNP ids for VCF files (and
variants given as HGVS, SPDI, regions or rs ids, resolved into VCF by ``notations``).

Pure Python with pysam for FASTA/tabix access and no Django import, so it runs the same in
the worker, in ``manage.py annotate`` and in benchmarks. The rules follow Ensembl VEP 115
(docs/vep-rules.md in the shared folder, summarised in each module).
Imports: the standard library and pysam; nothing of Django or of the rest of GAS.
"""

from pathlib import Path

ENGINE_VERSION = "0.2.0"  # 0.2: breakends, <INS> spans, notations as input


def _refuse_stale_compiled_modules() -> None:
    """``make install`` compiles these modules with mypyc; a compiled module older than its source
    would silently run old code, so stop with instructions instead."""
    here = Path(__file__).parent
    for compiled in here.glob("*.so"):
        source = here / (compiled.name.split(".")[0] + ".py")
        if source.exists() and source.stat().st_mtime > compiled.stat().st_mtime:
            raise ImportError(
                f"{source} changed after it was compiled to {compiled.name}: run `make install` to compile "
                f"it again, or delete jobs/annotation/*.so to run the engine as plain Python."
            )


_refuse_stale_compiled_modules()
