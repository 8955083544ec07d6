"""Job services: the one place where jobs are checked, created, run, finished and deleted, tokens issued.
Imports: jobs.references, jobs.sources, jobs.results, the engine, models, gas_site plumbing; never an interface.

- ``uploads``: what an upload must pass before it becomes a job; safe names;
- ``notation_inputs``: variants pasted or uploaded as notations (HGVS, SPDI, regions, rs ids);
- ``direct_uploads``: browser uploads straight to S3 (AWS mode);
- ``lifecycle``: create, queue, claim, fail, finish, rerun, delete, the owner's mail;
- ``running``: one job on an annotator; ``shards``: a large one split over the annotators (split,
  shards, gather); ``completion``: the end both share (files stored, the job completed with its
  follow-ups) and the warnings a finished job carries;
- ``options``: pick modes and transcript flags; ``tokens``: API tokens;
- ``selectors``: the owner's jobs; ``housekeeping``: the reconciler and the storage sweeps.

Views, the API, admin actions, management commands and workers are thin interfaces to these.
"""
