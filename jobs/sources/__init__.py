"""Annotation sources: the operator's registered sources, users' own region files, and the specs a job
hands the engine (VEP's --custom). Imports: jobs.references, the engine, models, jobs.storage.

- ``registry``: registering, listing and removing sources; ``regions``: users' BED files;
- ``catalogue``: what ``source install`` fetches; ``demo``: the demo's committed sources;
- ``job_specs``: what a job applies, prepared for the engine when it runs.
"""
