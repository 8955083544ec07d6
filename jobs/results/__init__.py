"""A job's results as researchers read them: the variant table, the browser's selectors, exports, downloads.
Imports: jobs.references, the engine, models, jobs.storage; the table modules import no Django.

The variant table is a job's annotations as a columnar file beside its VCF, for the variant browser,
the gene view, the summary and the filtered exports (pages and API alike).

Why Parquet written with pyarrow and queried with DuckDB: the annotated VCF holds one text line per
record with every transcript's entry packed in CSQ, so a filtered page would parse the whole file.
The table holds one row per CSQ entry (variant x transcript), in the VCF's order, with each CSQ
field a column: a query reads only the columns it names, and a range of variants or a region only
the row groups whose statistics can match. DuckDB runs those queries straight on the file (no
import, no server, the same on every storage backend once the file is local), with SQL for the
per-variant "most severe matching entry", the gene roll-up and the exports.

Here a *variant* is one ALT allele of a record (as VEP reports them); a record VEP does not
annotate (a contig the reference lacks, an ALT it skips) is one row with no consequence, so the
browser shows it rather than hiding it.

A VCF with samples also gets a genotype table (``genotypes``): one row per sample and variant,
sorted by sample, with the genotype, zygosity, depths and VAF, written in the same pass.

The tables (no Django): ``schema`` the columns, ranks and classes; ``writer`` the tables from an
annotated VCF; ``genotypes`` the genotype table; ``samples`` pedigrees and a filter's samples
checked; ``filters`` URL parameters to filters and SQL, and the paging cursors (``sample_filters``
their sample part, ``value_filters`` the sources' values, ``where=``); ``queries`` pages, counts,
genes, summary and the exports' rows (``sample_queries`` a page's genotypes, per-sample statistics,
Mendelian checks); ``bgzf`` BGZF blocks and a filtered VCF; ``merge`` a split job's tables joined from
its shards' (``parquet_splice`` Parquet files joined by copying their column chunks).
On the results storage: ``tables`` a job's table, built, stored and cached; ``browser`` the pages'
selectors (``sample_pages`` the samples card and the sample filters' choices); ``exports`` the
streamed exports; ``downloads`` the stored files.
"""
