from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("districts", "0005_district_parts_restorable")]

    operations = [
        TrigramExtension(),
        migrations.AddIndex(
            model_name="address",
            index=GinIndex(
                fields=["street"], opclasses=["gin_trgm_ops"], name="address_street_trgm_idx"
            ),
        ),
    ]
