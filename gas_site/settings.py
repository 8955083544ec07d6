"""GAS settings: one file, driven by environment variables (and an optional ``.env``).

Every variable is documented in README.md. The embedded default (no variables set) runs
everything on one machine: SQLite, local files, a database-backed queue, a local cold
store and mail written to files under ``GAS_DATA_DIR``.
"""

from __future__ import annotations

import re
import zoneinfo
from pathlib import Path

import dj_database_url
from dotenv import load_dotenv

from gas_site.env import (
    ImproperlyConfiguredEnv,
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_secret,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent

# A .env file beside manage.py fills in variables that the real environment does not set.
load_dotenv(BASE_DIR / ".env", override=False)

GAS_ENV = env_choice("GAS_ENV", "development", ("development", "production"))
PRODUCTION = GAS_ENV == "production"

DEBUG = env_bool("DJANGO_DEBUG", False)
if PRODUCTION and DEBUG:
    raise ImproperlyConfiguredEnv("DJANGO_DEBUG must be off when GAS_ENV=production.")

_DEV_SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production-5b8f0c7e2d"
SECRET_KEY = env_secret("DJANGO_SECRET_KEY", None if PRODUCTION else _DEV_SECRET_KEY, required=PRODUCTION)
if PRODUCTION and (SECRET_KEY == _DEV_SECRET_KEY or len(SECRET_KEY) < 50):
    raise ImproperlyConfiguredEnv("DJANGO_SECRET_KEY must be a random string of at least 50 characters in production.")

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

GAS_DATA_DIR = Path(env_str("GAS_DATA_DIR", str(BASE_DIR / "var"))).resolve()
# A public base URL for links in e-mails sent by workers (which have no request).
GAS_SITE_URL = env_str("GAS_SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    # Globus and any other OpenID provider are apps of this one provider (see SOCIALACCOUNT_PROVIDERS);
    # each appears on the sign-in page only once its client id is configured below.
    "allauth.socialaccount.providers.openid_connect",
    "crispy_forms",
    "crispy_bootstrap5",
    "ninja",
    "bootstrap",  # django-bootstrap-static: Bootstrap's CSS and JS, served by the app
    "gas_site",
    "accounts",
    "jobs",
    "archive",
]

MIDDLEWARE = [
    "gas_site.health.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "jobs.middleware.UploadLimitMiddleware",
]

ROOT_URLCONF = "gas_site.urls"
WSGI_APPLICATION = "gas_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
# SQLite is shared by the web server and four workers: WAL journal, IMMEDIATE transactions
# and a busy timeout keep "database is locked" away under load.
_SQLITE_OPTIONS = {
    "transaction_mode": "IMMEDIATE",
    "timeout": 30,
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
}
_database_url = env_secret("DATABASE_URL")
if not _database_url:
    GAS_DATA_DIR.mkdir(parents=True, exist_ok=True)
    _database_url = f"sqlite:///{GAS_DATA_DIR / 'gas.sqlite3'}"
try:
    _default_db = dj_database_url.parse(_database_url, conn_max_age=0)
except ValueError as exc:
    raise ImproperlyConfiguredEnv(f"DATABASE_URL is not a database URL Django understands: {exc}") from None
if _default_db["ENGINE"] == "django.db.backends.sqlite3":
    _default_db["OPTIONS"] = {**_SQLITE_OPTIONS, **_default_db.get("OPTIONS", {})}
    # Tests use a file too (not the in-memory default), so several threads and processes
    # share one test database with the same locking as in production.
    _default_db["TEST"] = {"NAME": str(Path(_default_db["NAME"]).with_name("test-gas.sqlite3"))}
else:
    _default_db["CONN_HEALTH_CHECKS"] = True
DATABASES = {"default": _default_db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Accounts -------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_LOGOUT_REDIRECT_URL = "home"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = env_choice("GAS_EMAIL_VERIFICATION", "optional", ("none", "optional", "mandatory"))
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[GAS] "  # (as the job mails; allauth's default is the request's host:port)
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if PRODUCTION else "http"
SOCIALACCOUNT_ADAPTER = "accounts.adapters.SocialAccountAdapter"
SOCIALACCOUNT_LOGIN_ON_GET = False
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_STORE_TOKENS = False
# Sign-in providers: each an app of the OpenID Connect provider whose callback verifies the ID token
# (accounts.oidc). Globus Auth is one (its callback /accounts/oidc/globus/login/callback/), any other
# OpenID provider (Keycloak, Okta, a campus IdP) the other (/accounts/oidc/oidc/login/callback/).
_SIGN_IN_APPS: list[dict] = []
GLOBUS_CLIENT_ID = env_str("GLOBUS_CLIENT_ID")
if GLOBUS_CLIENT_ID:
    _SIGN_IN_APPS.append(
        {
            "provider_id": "globus",
            "name": "Globus",
            "client_id": GLOBUS_CLIENT_ID,
            "secret": env_secret("GLOBUS_CLIENT_SECRET", required=True),
            # Globus releases the address of an identity its user signed in with and has no email_verified claim.
            "settings": {"server_url": env_str("GLOBUS_SERVER_URL", "https://auth.globus.org"), "email_verified": True},
        }
    )
OIDC_SERVER_URL = env_str("OIDC_SERVER_URL")
if OIDC_SERVER_URL:
    _SIGN_IN_APPS.append(
        {
            "provider_id": "oidc",
            "name": env_str("OIDC_PROVIDER_NAME", "OpenID Connect"),
            "client_id": env_str("OIDC_CLIENT_ID", required=True),
            "secret": env_secret("OIDC_CLIENT_SECRET", required=True),
            "settings": {"server_url": OIDC_SERVER_URL},
        }
    )
SOCIALACCOUNT_PROVIDERS: dict[str, dict] = {
    "openid_connect": {
        "provider_class": "accounts.oidc.provider.VerifiedOpenIDConnectProvider",
        "APPS": _SIGN_IN_APPS,
        "SCOPE": ["openid", "email", "profile"],
        "OAUTH_PKCE_ENABLED": True,
    }
}

# --- Plans and limits -----------------------------------------------------------------
GAS_FREE_RETENTION_SECONDS = env_int("GAS_FREE_RETENTION_SECONDS", 300, minimum=0)
# Decompressed bytes of an upload read through at upload time (damaged gzip, limits); past them the worker checks.
GAS_UPLOAD_SCAN_BYTES = env_int("GAS_UPLOAD_SCAN_BYTES", 512 * 1024 * 1024, minimum=1)
GAS_FREE_MAX_UPLOAD_BYTES = env_int("GAS_FREE_MAX_UPLOAD_BYTES", 153_600, minimum=1)
GAS_PREMIUM_MAX_UPLOAD_BYTES = env_int("GAS_PREMIUM_MAX_UPLOAD_BYTES", 1024**3, minimum=1)
# What the upgrade page says premium costs (GAS takes no payment itself: accounts/billing.py is the seam).
GAS_PREMIUM_PRICE = env_str("GAS_PREMIUM_PRICE", "no charge (this site takes no payments)")
# Uploads are streamed to disk by Django above this size rather than held in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# --- Rate limits (per minute; 0 turns one off) ----------------------------------------
# Counted in a cache every web process shares: the database cache by default.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "shared": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "gas_cache"},
}
GAS_RATELIMIT_CACHE = "shared"
GAS_API_RATE_PER_MINUTE = env_int("GAS_API_RATE_PER_MINUTE", 300, minimum=0)  # requests per token user
GAS_TOKEN_FAILURES_PER_MINUTE = env_int("GAS_TOKEN_FAILURES_PER_MINUTE", 10, minimum=0)  # bad tokens per address

# --- Annotation ------------------------------------------------------------------------
GAS_REFERENCE_DIR = Path(env_str("GAS_REFERENCE_DIR", str(GAS_DATA_DIR / "references"))).resolve()
GAS_DEFAULT_REFERENCE = env_str("GAS_DEFAULT_REFERENCE", "demo")
# `reference install` fetches from this site instead of the providers' (same layout), if set.
GAS_REFERENCE_MIRROR = env_str("GAS_REFERENCE_MIRROR", "")
GAS_SOURCE_MIRROR = env_str("GAS_SOURCE_MIRROR", "")
# Reference bundles a worker keeps loaded at once (least recently used ones are let go).
GAS_LOADED_REFERENCES = env_int("GAS_LOADED_REFERENCES", 3, minimum=1, maximum=32)
# Variant tables (the browser's) fetched from a remote results store are kept here, up to this size.
GAS_TABLE_CACHE_DIR = Path(env_str("GAS_TABLE_CACHE_DIR", str(GAS_DATA_DIR / "cache" / "tables"))).resolve()
GAS_TABLE_CACHE_BYTES = env_int("GAS_TABLE_CACHE_BYTES", 2 * 1024**3, minimum=0)
# exports one web process streams at once (each holds a thread of it: gas_site/gunicorn_conf.py)
GAS_EXPORTS_PER_PROCESS = env_int("GAS_EXPORTS_PER_PROCESS", 4, minimum=1)
# the text all exports of one web process produce per second, together (0: no limit)
GAS_EXPORT_BYTES_PER_SECOND = env_int("GAS_EXPORT_BYTES_PER_SECOND", 24 * 1024 * 1024, minimum=0)
# Transcripts each loaded bundle holds at most (least recently used contigs are let go): about 5.5 kB
# each, so the default (100,000) keeps a worker on a whole-genome model near 650 MB.
GAS_LOADED_TRANSCRIPTS = env_int("GAS_LOADED_TRANSCRIPTS", 100_000, minimum=1000)
# Registered annotation sources (manage.py source add) keep their files here, on every worker.
GAS_SOURCE_DIR = Path(env_str("GAS_SOURCE_DIR", str(GAS_DATA_DIR / "sources"))).resolve()
# A user's own BED regions (a gene panel): the largest file and the most lines one may hold.
GAS_MAX_REGIONS_BYTES = env_int("GAS_MAX_REGIONS_BYTES", 10 * 1024 * 1024, minimum=1)
GAS_MAX_REGIONS = env_int("GAS_MAX_REGIONS", 200_000, minimum=1)
# a region file after decompression: bytes, lines of any kind, a line's bytes, a name's characters,
# and regions overlapping one base (the most one variant reports)
GAS_MAX_REGIONS_DECOMPRESSED_BYTES = env_int("GAS_MAX_REGIONS_DECOMPRESSED_BYTES", 64 * 1024 * 1024, minimum=1)
GAS_MAX_REGIONS_LINES = env_int("GAS_MAX_REGIONS_LINES", 250_000, minimum=1)
GAS_MAX_REGIONS_LINE_BYTES = env_int("GAS_MAX_REGIONS_LINE_BYTES", 64 * 1024, minimum=64)
GAS_MAX_REGION_NAME = env_int("GAS_MAX_REGION_NAME", 255, minimum=1)
GAS_MAX_REGIONS_PER_POSITION = env_int("GAS_MAX_REGIONS_PER_POSITION", 64, minimum=1)
# Worker processes one annotation job uses (the reading and writing process comes on top).
GAS_ANNOTATION_PROCESSES = env_int("GAS_ANNOTATION_PROCESSES", 1, minimum=1, maximum=64)
# A job of at least one and a half times this many data lines is split into shards of this many
# lines (the last holds up to one and a half), annotated by any annotators and joined by the last
# (jobs.services.shards); a multiple of 1000 (the output's BGZF groups), or 0: never split. At most
# GAS_SHARDS_IN_FLIGHT of one job's shards are queued at a time, so other jobs' requests come
# between them (set it to about the number of annotators).
GAS_SHARD_RECORDS = env_int("GAS_SHARD_RECORDS", 500_000, minimum=0)
if GAS_SHARD_RECORDS % 1000:
    raise ImproperlyConfiguredEnv(f"GAS_SHARD_RECORDS: {GAS_SHARD_RECORDS} is not a multiple of 1000 (or 0)")
GAS_SHARDS_IN_FLIGHT = env_int("GAS_SHARDS_IN_FLIGHT", 4, minimum=1, maximum=1000)
# dbSNP ids go to CSQ Existing_variation; with this on, into the VCF ID column as well.
GAS_FILL_ID_COLUMN = env_bool("GAS_FILL_ID_COLUMN", True)
# FORMAT fields the genotype table keeps beside GT, DP, GQ and AD (each a FORMAT key, e.g. PL,AF)
GAS_SAMPLE_FORMAT_FIELDS = env_list("GAS_SAMPLE_FORMAT_FIELDS", [])
if _bad_keys := [key for key in GAS_SAMPLE_FORMAT_FIELDS if not re.fullmatch(r"[A-Za-z_][0-9A-Za-z_.]*", key)]:
    raise ImproperlyConfiguredEnv(f"GAS_SAMPLE_FORMAT_FIELDS: {', '.join(_bad_keys)} is not a FORMAT key")
GAS_JOB_MAX_ATTEMPTS = env_int("GAS_JOB_MAX_ATTEMPTS", 3, minimum=1, maximum=20)
# A RUNNING job whose worker has not written a heartbeat for this long is retried: its heartbeat
# comes every third of this, the job queue's visibility timeout is twice this, and the annotators'
# reconciler requeues such a job at once (so a killed job runs again within about this long).
GAS_JOB_STALE_SECONDS = env_int("GAS_JOB_STALE_SECONDS", 30, minimum=6, maximum=3600)
# How often the annotators sweep scratch folders and unreferenced files, and the archive worker
# unreferenced cold copies (each also sweeps when it starts).
GAS_SWEEP_SECONDS = env_int("GAS_SWEEP_SECONDS", 3600, minimum=1)
# What one job may do, by plan: decompressed input bytes and records; and wall-clock time per attempt.
GAS_FREE_MAX_INPUT_BYTES = env_int("GAS_FREE_MAX_INPUT_BYTES", 256 * 1024**2, minimum=1)
GAS_PREMIUM_MAX_INPUT_BYTES = env_int("GAS_PREMIUM_MAX_INPUT_BYTES", 256 * 1024**3, minimum=1)
GAS_FREE_MAX_RECORDS = env_int("GAS_FREE_MAX_RECORDS", 1_000_000, minimum=1)
GAS_PREMIUM_MAX_RECORDS = env_int("GAS_PREMIUM_MAX_RECORDS", 100_000_000, minimum=1)
GAS_JOB_MAX_SECONDS = env_int("GAS_JOB_MAX_SECONDS", 6 * 3600, minimum=10, maximum=7 * 24 * 3600)

# --- Files (Django STORAGES) ----------------------------------------------------------
GAS_STORAGE = env_choice("GAS_STORAGE", "local", ("local", "s3"))
AWS_ENDPOINT_URL = env_str("AWS_ENDPOINT_URL") or None
AWS_DEFAULT_REGION = env_str("AWS_DEFAULT_REGION", "us-east-1")
GAS_SIGNED_URL_SECONDS = env_int("GAS_SIGNED_URL_SECONDS", 300, minimum=30, maximum=3600)
# With S3 storage, browsers upload straight to the inputs bucket with a presigned POST.
GAS_DIRECT_UPLOADS = env_bool("GAS_DIRECT_UPLOADS", GAS_STORAGE == "s3")
GAS_UPLOAD_URL_SECONDS = env_int("GAS_UPLOAD_URL_SECONDS", 600, minimum=60, maximum=3600)


def _s3_storage(bucket_variable: str) -> dict:
    return {
        "BACKEND": "gas_site.storage.GasS3Storage",
        "OPTIONS": {
            "bucket_name": env_str(bucket_variable, required=True),
            "region_name": AWS_DEFAULT_REGION,
            "endpoint_url": AWS_ENDPOINT_URL,
            "default_acl": None,
            "file_overwrite": False,
            "querystring_auth": True,
            "querystring_expire": GAS_SIGNED_URL_SECONDS,
            "signature_version": "s3v4",
            "object_parameters": {"ServerSideEncryption": "AES256"},
        },
    }


def _local_storage(subdirectory: str) -> dict:
    return {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(GAS_DATA_DIR / subdirectory), "base_url": None},
    }


STORAGES = {
    "default": _local_storage("media"),
    "inputs": _s3_storage("GAS_INPUTS_BUCKET") if GAS_STORAGE == "s3" else _local_storage("inputs"),
    "results": _s3_storage("GAS_RESULTS_BUCKET") if GAS_STORAGE == "s3" else _local_storage("results"),
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
STATIC_URL = "static/"
STATIC_ROOT = GAS_DATA_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_MANIFEST_STRICT = False

# --- Queues ---------------------------------------------------------------------------
# One alias per logical queue, each a {"BACKEND", "NAME", "OPTIONS"} entry (see gas_site/queues).
GAS_QUEUE = env_choice("GAS_QUEUE", "database", ("database", "sqs"))
GAS_QUEUE_PREFIX = env_str("GAS_QUEUE_PREFIX", "gas-")
GAS_QUEUE_MAX_RECEIVES = env_int("GAS_QUEUE_MAX_RECEIVES", 5, minimum=1, maximum=1000)
_QUEUE_BACKENDS = {
    "database": "gas_site.queues.database.DatabaseQueue",
    "sqs": "gas_site.queues.sqs.SQSQueue",
}
# The deadline of one message for the cold-storage workers (the annotator's: GAS_JOB_MAX_SECONDS + 15 min)
GAS_WORKER_MAX_CONSUME_SECONDS = env_int("GAS_WORKER_MAX_CONSUME_SECONDS", 1800, minimum=10, maximum=43_200)
# A cold-storage message whose worker died comes back after this (a live worker extends it).
GAS_COLD_QUEUE_VISIBILITY_SECONDS = env_int("GAS_COLD_QUEUE_VISIBILITY_SECONDS", 120, minimum=6, maximum=43_200)
_QUEUE_VISIBILITY = {
    "jobs": 2 * GAS_JOB_STALE_SECONDS,
    **dict.fromkeys(("archive", "restore", "thaw"), GAS_COLD_QUEUE_VISIBILITY_SECONDS),
}
_QUEUE_NAMES = {
    "jobs": "job-requests",
    "archive": "archive-requests",
    "restore": "restore-requests",
    "thaw": "thaw-requests",
}
GAS_QUEUES = {
    alias: {
        "BACKEND": _QUEUE_BACKENDS[GAS_QUEUE],
        "NAME": GAS_QUEUE_PREFIX + queue_name,
        "OPTIONS": {
            "visibility_timeout": _QUEUE_VISIBILITY[alias],
            "max_receives": GAS_QUEUE_MAX_RECEIVES,
            **(
                {
                    "region_name": AWS_DEFAULT_REGION,
                    "endpoint_url": AWS_ENDPOINT_URL,
                    "create_if_missing": not PRODUCTION,
                }
                if GAS_QUEUE == "sqs"
                else {}
            ),
        },
    }
    for alias, queue_name in _QUEUE_NAMES.items()
}

# --- Cold storage ---------------------------------------------------------------------
GAS_COLD_STORAGE_KIND = env_choice("GAS_COLD_STORAGE", "local", ("local", "s3-glacier"))
GAS_LOCAL_THAW_SECONDS = env_int("GAS_LOCAL_THAW_SECONDS", 60, minimum=0)
# How soon a pending restore is checked again (doubling each time, at most 900 s).
GAS_THAW_POLL_SECONDS = env_int("GAS_THAW_POLL_SECONDS", 60, minimum=1, maximum=900)
if GAS_COLD_STORAGE_KIND == "s3-glacier":
    GAS_COLD_STORAGE = {
        "default": {
            "BACKEND": "gas_site.coldstorage.s3glacier.S3GlacierColdStorage",
            "OPTIONS": {
                "bucket_name": env_str("GAS_ARCHIVE_BUCKET", required=True),
                "storage_class": env_choice(
                    "GAS_GLACIER_STORAGE_CLASS", "GLACIER", ("glacier", "deep_archive")
                ).upper(),
                "restore_days": env_int("GAS_GLACIER_RESTORE_DAYS", 1, minimum=1),
                "region_name": AWS_DEFAULT_REGION,
                "endpoint_url": AWS_ENDPOINT_URL,
            },
        }
    }
else:
    GAS_COLD_STORAGE = {
        "default": {
            "BACKEND": "gas_site.coldstorage.local.LocalColdStorage",
            "OPTIONS": {
                "location": str(GAS_DATA_DIR / "cold"),
                "thaw_seconds": GAS_LOCAL_THAW_SECONDS,
            },
        }
    }

# --- Mail -----------------------------------------------------------------------------
GAS_EMAIL = env_choice("GAS_EMAIL", "file", ("file", "console", "smtp", "ses"))
DEFAULT_FROM_EMAIL = env_str("GAS_FROM_EMAIL", "GAS <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_SUBJECT_PREFIX = "[GAS] "
if GAS_EMAIL == "file":
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(GAS_DATA_DIR / "mail")
elif GAS_EMAIL == "console":
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
elif GAS_EMAIL == "smtp":
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = env_str("EMAIL_HOST", required=True)
    EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1, maximum=65535)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
    EMAIL_HOST_PASSWORD = env_secret("EMAIL_HOST_PASSWORD")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
    EMAIL_TIMEOUT = 30
else:
    EMAIL_BACKEND = "django_ses.SESBackend"
    AWS_SES_REGION_NAME = AWS_DEFAULT_REGION
    AWS_SES_REGION_ENDPOINT_URL = AWS_ENDPOINT_URL or f"https://email.{AWS_DEFAULT_REGION}.amazonaws.com"
    USE_SES_V2 = True
    AWS_SES_AUTO_THROTTLE = None  # GAS sends a mail per job, far below any SES rate limit

# --- Forms, i18n, logging -------------------------------------------------------------
CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"
LANGUAGE_CODE = "en-us"
FORMAT_MODULE_PATH = ["gas_site.formats"]  # (one date-time format, with the time zone)
TIME_ZONE = env_str("GAS_TIME_ZONE", "UTC")
try:
    zoneinfo.ZoneInfo(TIME_ZONE)
except (zoneinfo.ZoneInfoNotFoundError, ValueError):
    raise ImproperlyConfiguredEnv(
        f"Environment variable GAS_TIME_ZONE={TIME_ZONE!r} is not an IANA time zone name (such as Europe/London)."
    ) from None
LOG_LEVEL = env_choice("GAS_LOG_LEVEL", "info", ("debug", "info", "warning", "error", "critical")).upper()
USE_I18N = True
USE_TZ = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"}},
    "filters": {"client_errors": {"()": "gas_site.log_filters.ClientErrorsWithoutTraceback"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["client_errors"]}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"botocore": {"level": "WARNING"}, "boto3": {"level": "WARNING"}},
}

# --- Security -------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31_536_000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    # Behind a load balancer that terminates TLS and sets X-Forwarded-Proto.
    if env_bool("DJANGO_BEHIND_PROXY", True):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
