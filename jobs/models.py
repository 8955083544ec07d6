"""Annotation jobs and personal API tokens."""

from __future__ import annotations

import hashlib
import secrets
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class JobStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    RUNNING = "RUNNING", "Running"
    COMPLETED = "COMPLETED", "Completed"
    FAILED = "FAILED", "Failed"


FINISHED_STATUSES = (JobStatus.COMPLETED, JobStatus.FAILED)


NAME_LENGTH = 100  # a job's or a region file's name, as the user gives it


def name_problem(raw: str, *, what: str = "The name") -> str | None:
    """What is wrong with a name a user gives (a job's, a region file's), or None: names are kept
    whole or refused, never cut, and hold no control characters (NUL, line breaks)."""
    if any(ord(char) < 32 or ord(char) == 127 for char in raw):
        return f"{what} holds a control character (such as NUL or a line break); use printable text."
    if len(raw.strip()) > NAME_LENGTH:
        return f"{what} is {len(raw.strip()):,} characters long; at most {NAME_LENGTH} are kept."
    return None


class Job(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="jobs")
    input_name = models.CharField("input file", max_length=255)
    name = models.CharField("job name", max_length=100, blank=True)  # the user's, to tell jobs apart
    input_key = models.CharField("input storage key", max_length=500)
    input_size = models.BigIntegerField(default=0)
    input_sha256 = models.CharField(max_length=64, blank=True)
    reference_name = models.CharField(max_length=100)
    reference_checksum = models.CharField(max_length=64, blank=True)
    engine_version = models.CharField(max_length=32, blank=True)
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.PENDING, db_index=True)
    submitted_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    progress = models.FloatField(default=0.0)
    attempts = models.PositiveSmallIntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    attempt_token = models.CharField(max_length=16, blank=True)  # the current attempt's (see job_claim)
    records = models.PositiveIntegerField(null=True, blank=True)
    alleles = models.PositiveIntegerField(null=True, blank=True)
    records_in_dbsnp = models.PositiveIntegerField(null=True, blank=True)
    consequence_counts = models.JSONField(default=dict, blank=True)
    result_key = models.CharField(max_length=500, blank=True)
    log_key = models.CharField(max_length=500, blank=True)
    summary_key = models.CharField(max_length=500, blank=True)
    # the variant table (jobs.results): derived from the result, so archived with it by
    # deletion and built again from the restored result
    table_key = models.CharField("variant table key", max_length=500, blank=True)
    # the summary charts' counts (from the table, jobs.results.queries.VariantTable.summary): kept
    # here, so that a job whose result is in cold storage still shows them
    charts = models.JSONField(default=dict, blank=True)
    # the input's samples (its VCF header's, in order), known from upload or completion
    samples = models.JSONField(default=list, blank=True)
    # the family: PED lines as dicts (family, individual, father, mother, sex, phenotype), checked against samples
    pedigree = models.JSONField(default=list, blank=True)
    # of a tumour/normal pair: the normal sample (the user's choice, else the header's ##normal_sample)
    normal_sample = models.CharField(max_length=255, blank=True)
    result_size = models.BigIntegerField(null=True, blank=True)
    error_message = models.TextField(blank=True)
    # what a completed job did not annotate, in words (records the engine could not annotate,
    # contigs the reference lacks); the page, the mail and the API show them
    warnings = models.JSONField(default=list, blank=True)
    # the annotation sources chosen at submission (names in the registry), and what ran: each
    # source's version (file, checksum, registration date) and the alleles it matched
    source_names = models.JSONField(default=list, blank=True)
    region_set = models.ForeignKey("RegionSet", null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs")
    sources = models.JSONField("sources applied", default=list, blank=True)
    # VEP's pick options (jobs.annotation.pick): "" (every entry), pick, flag_pick, pick_allele, ...
    pick = models.CharField(max_length=20, blank=True)
    # VEP's transcript flags to show (jobs.annotation.flags): canonical, mane, tsl, appris, ccds, protein
    flags = models.JSONField(default=list, blank=True)
    # a large job split over the annotators (jobs.services.shards): how many shards, how many have
    # finished, how many have been queued (a few at a time, so other jobs' requests come between)
    shards = models.PositiveIntegerField(default=0)
    shards_done = models.PositiveIntegerField(default=0)
    shards_sent = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-submitted_at"]
        indexes = [models.Index(fields=["owner", "-submitted_at"], name="job_owner_recent_idx")]
        # the staff console's job actions, each its own permission (the staff role has them, not change)
        permissions = [
            ("restore_job", "Can force a restore of a job's archived results"),
            ("archive_job", "Can archive a job's results now"),
            ("rerun_job", "Can re-run a failed job"),
        ]

    def __str__(self) -> str:
        return f"{self.input_name} ({self.get_status_display()})"

    @property
    def vep_options(self) -> list[str]:
        """The job's pick and flag options as VEP's command line names them (--flag_pick --mane)."""
        return [f"--{option}" for option in ([self.pick] if self.pick else []) + list(self.flags)]

    @property
    def title(self) -> str:
        """What pages call the job: its name, else its input file."""
        return self.name or self.input_name

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    @property
    def is_active(self) -> bool:
        return not self.is_finished

    @property
    def progress_percent(self) -> int:
        return 100 if self.status == JobStatus.COMPLETED else round(self.progress * 100)

    @property
    def has_warnings(self) -> bool:
        return self.status == JobStatus.COMPLETED and bool(self.warnings)

    @property
    def result_name(self) -> str:
        return self.result_key.rsplit("/", 1)[-1] if self.result_key else ""

    @property
    def shard_progress(self) -> str:
        """A split job's progress in words (empty for a job run whole or finished)."""
        if not self.shards or self.status != JobStatus.RUNNING:
            return ""
        if self.is_gathering:
            return f"all {self.shards} parts annotated; joining them"
        return f"{self.shards_done} of {self.shards} parts annotated"

    @property
    def is_gathering(self) -> bool:
        """A sharded job whose shards have all finished: one annotator joins them."""
        return self.status == JobStatus.RUNNING and self.shards > 0 and self.shards_done >= self.shards


class ShardStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    RUNNING = "RUNNING", "Running"
    DONE = "DONE", "Done"


class JobShard(models.Model):
    """One shard of a large job: a run of its input's data lines, annotated by any annotator,
    claimed like a job (a conditional update with a token of its own, a heartbeat)."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="shard_set")
    index = models.PositiveIntegerField()
    input_key = models.CharField(max_length=500)  # the shard's input, on the results storage
    line_offset = models.BigIntegerField()  # the input's data lines before the shard's
    lines = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=ShardStatus.choices, default=ShardStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    attempt_token = models.CharField(max_length=16, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    result_key = models.CharField(max_length=500, blank=True)  # the annotated shard
    table_key = models.CharField(max_length=500, blank=True)  # its variant table (and genotype table beside)
    stats = models.JSONField(default=dict, blank=True)  # the engine's counts (AnnotationStats.as_parts)
    seconds = models.FloatField(default=0.0)

    class Meta:
        ordering = ["job", "index"]
        constraints = [models.UniqueConstraint(fields=["job", "index"], name="job_shard_unique_index")]
        indexes = [models.Index(fields=["status", "heartbeat_at"], name="job_shard_status_idx")]

    def __str__(self) -> str:
        return f"shard {self.index} of job {self.job_id} ({self.status})"


def _token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(models.Model):
    """A personal API token; only its SHA-256 is stored, the token itself is shown once."""

    PREFIX = "gas_"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    key_hash = models.CharField(max_length=64, unique=True)
    key_start = models.CharField(max_length=12)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_start}…)"

    @classmethod
    def generate(cls) -> tuple[str, str]:
        raw = cls.PREFIX + secrets.token_urlsafe(32)
        return raw, _token_hash(raw)

    @classmethod
    def lookup(cls, raw: str) -> ApiToken | None:
        if not raw.startswith(cls.PREFIX):
            return None
        return cls.objects.select_related("user").filter(key_hash=_token_hash(raw), revoked_at=None).first()


class SourceFormat(models.TextChoices):
    VCF = "vcf", "VCF"
    BED = "bed", "BED"


class MatchType(models.TextChoices):
    EXACT = "exact", "exact (same allele)"
    OVERLAP = "overlap", "overlap (any overlapping feature)"


class AnnotationSource(models.Model):
    """A registered annotation source (jobs.sources): a tabix-indexed VCF or BED kept under
    GAS_SOURCE_DIR, for one reference, applied as VEP's --custom with these settings."""

    name = models.SlugField(max_length=50, unique=True)
    reference_name = models.CharField(max_length=100, db_index=True)
    format = models.CharField(max_length=8, choices=SourceFormat.choices)
    match_type = models.CharField("match", max_length=8, choices=MatchType.choices)
    short_name = models.CharField(max_length=50, help_text="Names its CSQ fields: SHORT and SHORT_FIELD.")
    fields = models.JSONField(default=list, blank=True, help_text="INFO fields reported, in order.")
    field_types = models.JSONField(default=dict, blank=True)  # field -> {"number", "type", "description"}
    default = models.BooleanField(default=False, help_text="Applied to jobs unless the user leaves it out.")
    description = models.CharField(max_length=300, blank=True)
    file_name = models.CharField(max_length=255)  # as registered
    path = models.CharField(max_length=500)  # the kept copy, relative to GAS_SOURCE_DIR
    sha256 = models.CharField(max_length=64)
    size = models.BigIntegerField()
    contigs = models.JSONField(default=list, blank=True)  # the source's contigs the reference has
    registered_at = models.DateTimeField(default=timezone.now)
    # from the source catalogue: the provider's release (or date) and the licence
    release = models.CharField(max_length=100, blank=True)
    licence = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["reference_name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["reference_name", "short_name"], name="source_short_name_per_reference")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.reference_name}, {self.match_type})"

    @property
    def version(self) -> str:
        return f"{self.sha256[:12]} of {self.registered_at:%Y-%m-%d}"


class FilterSet(models.Model):
    """A user's named set of the variant browser's filters: URL parameters, applied to any job."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="filter_sets")
    name = models.CharField(max_length=100)
    params = models.JSONField(default=dict)  # (as the URL and the API take them)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="filter_set_name_per_owner")]

    def __str__(self) -> str:
        return self.name


class RegionSet(models.Model):
    """A user's own regions (a gene panel, target intervals): a BED file reported by overlap."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="region_sets")
    name = models.CharField(max_length=100)
    file_key = models.CharField(max_length=500)  # in the inputs storage
    file_name = models.CharField(max_length=255)
    size = models.BigIntegerField()
    regions = models.PositiveIntegerField()
    contigs = models.JSONField(default=list, blank=True)
    sha256 = models.CharField(max_length=64)
    uploaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-uploaded_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.regions} regions)"
