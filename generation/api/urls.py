from django.urls import path

from . import views
from .events import job_events
from .waiting import prefer_wait

urlpatterns = [
    path("jobs/", prefer_wait(views.JobListCreateView.as_view()), name="job-list"),
    path("jobs/bulk-delete/", views.JobBulkDeleteView.as_view(), name="job-bulk-delete"),
    path("jobs/<uuid:job_id>/", views.JobDetailView.as_view(), name="job-detail"),
    path("jobs/<uuid:job_id>/cancel/", views.JobCancelView.as_view(), name="job-cancel"),
    path("jobs/<uuid:job_id>/retry/", views.JobRetryView.as_view(), name="job-retry"),
    path("jobs/<uuid:job_id>/events/", job_events, name="job-events"),
]
