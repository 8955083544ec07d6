"""The GAS annotation engine: VEP-compatible consequences, HGVS and dbSNP ids for VCF files.

Pure Python with pysam for FASTA/tabix access and no Django import, so it runs the same in
the worker, in ``manage.py annotate`` and in benchmarks. The rules follow Ensembl VEP 115
(docs/vep-rules.md in the shared folder, summarised in each module).
"""

ENGINE_VERSION = "0.1.0"
