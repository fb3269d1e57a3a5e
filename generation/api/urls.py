"""API routes of generation (jobs, uploads, images), included under /api/v1/ by
illuplatform/urls.py."""

from django.urls import path

from . import images, uploads, views
from .events import job_events
from .waiting import prefer_wait

urlpatterns = [
    path("jobs/", prefer_wait(views.JobListCreateView.as_view()), name="job-list"),
    path("jobs/bulk-delete/", views.JobBulkDeleteView.as_view(), name="job-bulk-delete"),
    path("jobs/<uuid:job_id>/", views.JobDetailView.as_view(), name="job-detail"),
    path("jobs/<uuid:job_id>/cancel/", views.JobCancelView.as_view(), name="job-cancel"),
    path("jobs/<uuid:job_id>/retry/", views.JobRetryView.as_view(), name="job-retry"),
    path("jobs/<uuid:job_id>/events/", job_events, name="job-events"),
    path("uploads/", uploads.UploadCreateView.as_view(), name="upload-list"),
    path("uploads/<uuid:upload_id>/", uploads.UploadDetailView.as_view(), name="upload-detail"),
    path("images/", images.ImageListView.as_view(), name="image-list"),
    path("images/<uuid:image_id>/", images.ImageDetailView.as_view(), name="image-detail"),
]
