"""Settings come from the environment and fail loudly on bad values."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gas_site.env import ImproperlyConfiguredEnv, env_bool, env_choice, env_int, env_list, env_str

ROOT = Path(__file__).resolve().parents[2]


def test_env_int_names_the_variable_on_a_bad_value(monkeypatch):
    monkeypatch.setenv("GAS_X", "12kb")
    with pytest.raises(ImproperlyConfiguredEnv, match=r"GAS_X='12kb' is not a whole number"):
        env_int("GAS_X", 3)
    monkeypatch.setenv("GAS_X", "-1")
    with pytest.raises(ImproperlyConfiguredEnv, match="below 0"):
        env_int("GAS_X", 3, minimum=0)
    monkeypatch.setenv("GAS_X", "7")
    assert env_int("GAS_X", 3) == 7
    monkeypatch.delenv("GAS_X")
    assert env_int("GAS_X", 3) == 3


def test_env_bool_choice_list_and_required(monkeypatch):
    monkeypatch.setenv("GAS_B", "maybe")
    with pytest.raises(ImproperlyConfiguredEnv, match="not a boolean"):
        env_bool("GAS_B", False)
    monkeypatch.setenv("GAS_B", "Yes")
    assert env_bool("GAS_B", False) is True
    monkeypatch.setenv("GAS_C", "sqss")
    with pytest.raises(ImproperlyConfiguredEnv, match="not one of: database, sqs"):
        env_choice("GAS_C", "database", ("database", "sqs"))
    monkeypatch.setenv("GAS_L", " a.org, b.org ,,")
    assert env_list("GAS_L", ["x"]) == ["a.org", "b.org"]
    monkeypatch.delenv("GAS_R", raising=False)
    with pytest.raises(ImproperlyConfiguredEnv, match="GAS_R is required"):
        env_str("GAS_R", required=True)


def _manage(*args: str, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("GAS_", "DJANGO_", "DATABASE_", "OIDC_", "GLOBUS_"))
    }
    clean.update({"GAS_DATA_DIR": str(tmp_path), **env})
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120
    )


PRODUCTION_ENV = {
    "GAS_ENV": "production",
    "DJANGO_SECRET_KEY": "k" * 20 + "-production-secret-for-the-check-only-0123456789",
    "DJANGO_ALLOWED_HOSTS": "gas.example.org",
}


@pytest.mark.slow
def test_check_deploy_is_clean_in_production(tmp_path):
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV, tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.slow
def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "DJANGO_SECRET_KEY"}
    result = _manage("check", env=env, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is required" in result.stderr


@pytest.mark.slow
def test_bad_backend_name_stops_start_up_with_the_variable_named(tmp_path):
    result = _manage("check", env={"GAS_QUEUE": "rabbit"}, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "GAS_QUEUE='rabbit' is not one of: database, sqs" in result.stderr


@pytest.mark.slow
def test_aws_settings_select_the_aws_backends(tmp_path):
    env = {
        "GAS_STORAGE": "s3",
        "GAS_INPUTS_BUCKET": "in-b",
        "GAS_RESULTS_BUCKET": "out-b",
        "GAS_QUEUE": "sqs",
        "GAS_QUEUE_PREFIX": "lab-",
        "GAS_COLD_STORAGE": "s3-glacier",
        "GAS_ARCHIVE_BUCKET": "cold-b",
        "GAS_GLACIER_STORAGE_CLASS": "deep_archive",
        "GAS_EMAIL": "ses",
        "OIDC_SERVER_URL": "https://login.example.org/realms/lab",
        "OIDC_CLIENT_ID": "gas",
        "OIDC_CLIENT_SECRET": "s",
        "OIDC_PROVIDER_NAME": "Lab SSO",
        "GLOBUS_CLIENT_ID": "globus-client",
        "GLOBUS_CLIENT_SECRET": "g",
    }
    code = (
        "from django.conf import settings as s;"
        "print(s.STORAGES['results']['BACKEND'], s.STORAGES['results']['OPTIONS']['bucket_name']);"
        "print(s.GAS_QUEUES['jobs']['BACKEND'], s.GAS_QUEUES['jobs']['NAME']);"
        "print(s.GAS_COLD_STORAGE['default']['OPTIONS']['storage_class'], s.EMAIL_BACKEND);"
        "print([(a['provider_id'], a['name'], a['settings']['server_url'])"
        " for a in s.SOCIALACCOUNT_PROVIDERS['openid_connect']['APPS']])"
    )
    result = _manage("shell", "--no-imports", "-c", code, env=env, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:4] == [
        "gas_site.storage.GasS3Storage out-b",
        "gas_site.queues.sqs.SQSQueue lab-job-requests",
        "DEEP_ARCHIVE django_ses.SESBackend",
        "[('globus', 'Globus', 'https://auth.globus.org'), ('oidc', 'Lab SSO', 'https://login.example.org/realms/lab')]",
    ]


@pytest.mark.django_db
def test_the_suite_runs_on_the_database_that_DATABASE_URL_names():
    from django.db import connection

    expected = "postgresql" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "sqlite"
    assert connection.vendor == expected
    if expected == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode")
            assert cursor.fetchone()[0] == "wal"


def _names_read() -> set[str]:
    """Every environment variable the settings and the web server's configuration read."""
    import ast

    names = set()
    for path in (ROOT / "gas_site" / "settings.py", ROOT / "gas_site" / "gunicorn_conf.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and (node.func.id.startswith("env_") or node.func.id == "_s3_storage")
                and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
            ):  # fmt: skip
                names.add(node.args[0].value)
    return names


def test_the_readme_documents_every_variable_the_settings_read():
    names = _names_read()
    assert {"DJANGO_BEHIND_PROXY", "GAS_TIME_ZONE", "GAS_BIND", "GAS_INPUTS_BUCKET"} <= names  # (the walk finds them)
    readme = (ROOT / "README.md").read_text()
    missing = sorted(name for name in names if f"`{name}`" not in readme)
    assert not missing, f"not in the README's Configuration table: {missing}"


def test_a_secret_comes_from_the_file_its_name_file_variable_names(monkeypatch, tmp_path):
    from gas_site.env import env_secret

    secret = tmp_path / "key"
    secret.write_text("from-a-file\n")
    monkeypatch.delenv("GAS_S", raising=False)
    monkeypatch.setenv("GAS_S_FILE", str(secret))
    assert env_secret("GAS_S", required=True) == "from-a-file"
    monkeypatch.setenv("GAS_S", "also-set")
    with pytest.raises(ImproperlyConfiguredEnv, match="GAS_S and GAS_S_FILE are both set"):
        env_secret("GAS_S")
    monkeypatch.delenv("GAS_S")
    monkeypatch.setenv("GAS_S_FILE", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfiguredEnv, match="GAS_S_FILE: cannot read the file") as refused:
        env_secret("GAS_S")
    assert str(tmp_path) not in str(refused.value)  # (no path in the message)


def test_settings_errors_are_djangos_improperly_configured():
    from django.core.exceptions import ImproperlyConfigured

    assert issubclass(ImproperlyConfiguredEnv, ImproperlyConfigured)


@pytest.mark.parametrize("variable, value, message", [
    ("GAS_LOG_LEVEL", "loud", "GAS_LOG_LEVEL='loud' is not one of"),
    ("GAS_TIME_ZONE", "Mars/Base", "GAS_TIME_ZONE='Mars/Base' is not an IANA time zone"),
])  # fmt: skip
def test_a_bad_log_level_or_time_zone_stops_start_up(variable, value, message):
    env = {**os.environ, variable: value, "DJANGO_SETTINGS_MODULE": "gas_site.settings"}
    env.pop("DATABASE_URL", None)
    done = subprocess.run([sys.executable, "-c", "import django; django.setup()"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode != 0 and message in done.stderr
