from django.urls import path

from . import views
from .events import training_events

urlpatterns = [
    path("trainings/", views.TrainingListCreateView.as_view(), name="training-list"),
    path(
        "trainings/<uuid:training_id>/", views.TrainingDetailView.as_view(), name="training-detail"
    ),
    path(
        "trainings/<uuid:training_id>/cancel/",
        views.TrainingCancelView.as_view(),
        name="training-cancel",
    ),
    path("trainings/<uuid:training_id>/events/", training_events, name="training-events"),
]
