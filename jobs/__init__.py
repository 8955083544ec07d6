"""Annotation jobs: uploads, the job lifecycle, the engine, references, sources, results; their pages and API.

Layers, each importing only those below it (checked by import-linter, pyproject.toml):
1. interfaces: ``views``, ``api/`` (a router per resource), ``admin``, ``forms``, ``middleware``,
   ``management/commands`` (workers and ops commands): argument parsing, then one service call;
2. ``services/``: the job lifecycle, upload checks, tokens, the reconciler and sweeps;
3. ``sources/`` (registered sources, users' regions, a job's specs) | ``results/`` (the variant
   table, the browser's selectors, exports, downloads): independent of each other;
4. ``references/``: bundles on disk, the catalogue and its downloads, choosing one per job;
5. ``annotation/`` (the engine: no Django, compiled by mypyc as one group), ``models``,
   ``storage`` (the inputs and results stores), ``scratch``, ``signals``.
"""
