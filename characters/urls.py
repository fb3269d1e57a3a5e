"""API routes of characters (characters and their references), included under
/api/v1/ by illuplatform/urls.py."""

from django.urls import path

from . import api

urlpatterns = [
    path("characters/", api.CharacterListCreateView.as_view(), name="character-list"),
    path(
        "characters/<uuid:character_id>/",
        api.CharacterDetailView.as_view(),
        name="character-detail",
    ),
    path(
        "characters/<uuid:character_id>/references/",
        api.ReferenceCreateView.as_view(),
        name="reference-list",
    ),
    path(
        "characters/<uuid:character_id>/references/<uuid:reference_id>/",
        api.ReferenceDetailView.as_view(),
        name="reference-detail",
    ),
]
