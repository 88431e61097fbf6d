from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("reports", "0004_reportflag_add_photo_missing")]

    operations = [
        migrations.AddField(
            model_name="report",
            name="place_name",
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.AddField(
            model_name="report",
            name="language",
            field=models.CharField(blank=True, max_length=10),
        ),
    ]
