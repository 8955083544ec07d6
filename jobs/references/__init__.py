"""Reference bundles for this installation: on disk, the catalogue and its resumable, checked downloads,
and choosing the one a VCF is for. Imports: the engine (jobs.annotation) and settings; nothing above.

- ``bundles``: where bundles live, loading them (bounded per process), what the forms show of them;
- ``matching``: the reference a VCF header fits, by contig lengths and its ##reference line;
- ``catalogue``: the references ``manage.py reference install`` knows; ``fetch``: the downloads.
"""
