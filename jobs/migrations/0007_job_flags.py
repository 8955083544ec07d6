from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0006_job_pick"),
    ]

    operations = [
        migrations.AddField(
            model_name="job",
            name="flags",
            field=models.JSONField(blank=True, default=list),
        ),
    ]
