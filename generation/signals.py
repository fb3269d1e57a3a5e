"""Signals other apps listen to, so they react to jobs without generation knowing them."""

from django.dispatch import Signal

# Sent after commit once a job has ended (succeeded, failed or cancelled), in the process
# that ended it; kwargs: ``job_id`` (str) and ``status``.
job_finished = Signal()
