"""Training runs are rows of background work (work.models.Work): they gain the cancel deadline
every kind has (empty for every existing run) and its back-off help text."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('training', '0002_lora_in_catalog'),
    ]

    operations = [
        migrations.AddField(
            model_name='trainingrun',
            name='cancel_at',
            field=models.DateTimeField(blank=True, help_text='From cancel_after: the job is cancelled if unfinished.', null=True),
        ),
        migrations.AlterField(
            model_name='trainingrun',
            name='retry_at',
            field=models.DateTimeField(blank=True, help_text='A transient failure put it back; not before this time.', null=True),
        ),
    ]
