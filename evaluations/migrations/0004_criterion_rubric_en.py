import re

from django.db import migrations, models

HANGUL = re.compile(r"[\uac00-\ud7a3]")


def split_bilingual_rubrics(apps, schema_editor):
    """Rubrics written as a Korean line followed by its English line move the English line to
    ``rubric_en``, so each page shows the rubric in its own language."""
    Criterion = apps.get_model("evaluations", "Criterion")
    for criterion in Criterion.objects.filter(rubric_en="").exclude(rubric=""):
        lines = criterion.rubric.splitlines()
        english = [line for line in lines if line.strip() and not HANGUL.search(line)]
        korean = [line for line in lines if HANGUL.search(line)]
        if korean and english and lines[-len(english) :] == english:
            criterion.rubric = "\n".join(lines[: -len(english)]).strip()
            criterion.rubric_en = "\n".join(english).strip()
            criterion.save(update_fields=["rubric", "rubric_en"])


class Migration(migrations.Migration):
    dependencies = [
        ("evaluations", "0003_panel_keeps_and_appeal_grounds"),
    ]

    operations = [
        migrations.AddField(
            model_name="criterion",
            name="rubric_en",
            field=models.TextField(blank=True, verbose_name="English rubric"),
        ),
        migrations.RunPython(split_bilingual_rubrics, migrations.RunPython.noop),
    ]
