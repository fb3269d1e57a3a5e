"""Curators' admin for jobs and generated images. Thin: writes go through
services (job_cancel, job_requeue, image review); rows without a service are plain ModelForm
saves (full_clean runs). Each module registers its models."""

from . import images, jobs, records  # noqa: F401 - registration on import
