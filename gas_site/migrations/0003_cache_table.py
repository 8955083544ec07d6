"""The database cache's table (rate limit counters), made by Django's own createcachetable."""

from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("gas_site", "0002_outboxentry")]
    operations = [migrations.RunPython(create_cache_table, migrations.RunPython.noop)]
