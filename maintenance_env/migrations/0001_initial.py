"""The admin's ``Maintenance`` entry: an unmanaged model, so no table is created; the
migration gives it a content type and the ``change_maintenance`` permission."""

from __future__ import annotations

from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="Maintenance",
            fields=[
                (
                    "id",
                    models.AutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
            ],
            options={
                "verbose_name": "maintenance",
                "verbose_name_plural": "maintenance",
                "managed": False,
                "default_permissions": ("change",),
            },
        ),
    ]
