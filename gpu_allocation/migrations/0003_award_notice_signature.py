from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("gpu_allocation", "0002_run_heartbeat"),
    ]

    operations = [
        migrations.AddField(
            model_name="awardnotice",
            name="signer",
            field=models.CharField(blank=True, max_length=400),
        ),
        migrations.AddField(
            model_name="awardnotice",
            name="signer_fingerprint",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AddField(
            model_name="awardnotice",
            name="timestamped",
            field=models.BooleanField(default=False),
        ),
    ]
