"""The variant table: a job's annotations as a columnar file beside its VCF, for the variant browser,
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
browser shows it rather than hiding it. No Django here.

- ``schema``: the columns, ranks and classes;
- ``writer``: the table from an annotated VCF;
- ``filters``: URL parameters to filters and SQL, and the paging cursors;
- ``queries``: pages, counts, genes, summary and the exports' rows;
- ``exports``: the exports streamed (BGZF blocks, a filtered VCF).
"""

from jobs.variants.exports import bgzf_stream, filtered_records
from jobs.variants.filters import Cursor, Region, VariantFilter, parse_filter, parse_region
from jobs.variants.queries import GENE_SORTS, SORTS, VariantTable
from jobs.variants.schema import (
    IMPACTS,
    PAGE_FIELDS,
    VARIANT_CLASSES,
    TableError,
    term_of_rank,
    variant_class,
)
from jobs.variants.writer import write_table

__all__ = [
    "GENE_SORTS", "IMPACTS", "PAGE_FIELDS", "SORTS", "VARIANT_CLASSES", "Cursor", "Region", "TableError",
    "VariantFilter", "VariantTable", "bgzf_stream", "filtered_records", "parse_filter", "parse_region",
    "term_of_rank", "variant_class", "write_table",
]  # fmt: skip
