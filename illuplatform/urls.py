from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from accounts import api as accounts_api
from characters import api as characters_api
from generation.api import images, styles, uploads

from . import health as health_views
from . import schema  # noqa: F401 - registers the token auth scheme with drf-spectacular


def serve_media(request, path):
    # MEDIA_ROOT is read per request, not when the URLs load, so it can change (tests do).
    return serve(request, path, document_root=settings.MEDIA_ROOT)


api_v1 = (
    [
        path("auth/token/", accounts_api.TokenView.as_view(), name="auth-token"),
        path("auth/tokens/", accounts_api.TokenListView.as_view(), name="token-list"),
        path(
            "auth/tokens/<uuid:token_id>/",
            accounts_api.TokenRevokeView.as_view(),
            name="token-detail",
        ),
        path("", include("generation.api.urls")),
        path("", include("training.api.urls")),
        path("uploads/", uploads.UploadCreateView.as_view(), name="upload-list"),
        path("uploads/<uuid:upload_id>/", uploads.UploadDetailView.as_view(), name="upload-detail"),
        path("avatars/", accounts_api.AvatarListCreateView.as_view(), name="avatar-list"),
        path(
            "avatars/<uuid:avatar_id>/",
            accounts_api.AvatarDetailView.as_view(),
            name="avatar-detail",
        ),
        path(
            "avatars/<uuid:avatar_id>/primary/",
            accounts_api.AvatarPrimaryView.as_view(),
            name="avatar-primary",
        ),
        path(
            "characters/", characters_api.CharacterListCreateView.as_view(), name="character-list"
        ),
        path(
            "characters/<uuid:character_id>/",
            characters_api.CharacterDetailView.as_view(),
            name="character-detail",
        ),
        path(
            "characters/<uuid:character_id>/references/",
            characters_api.ReferenceCreateView.as_view(),
            name="reference-list",
        ),
        path(
            "characters/<uuid:character_id>/references/<uuid:reference_id>/",
            characters_api.ReferenceDetailView.as_view(),
            name="reference-detail",
        ),
        path("loras/", characters_api.LoraListCreateView.as_view(), name="lora-list"),
        path("loras/<slug:slug>/", characters_api.LoraDetailView.as_view(), name="lora-detail"),
        path("styles/", styles.StyleListView.as_view(), name="style-list"),
        path("styles/<slug:slug>/", styles.StyleDetailView.as_view(), name="style-detail"),
        path("images/", images.ImageListView.as_view(), name="image-list"),
        path("images/<uuid:image_id>/", images.ImageDetailView.as_view(), name="image-detail"),
    ],
    "api",
)

urlpatterns = [
    path("admin/", admin.site.urls),
    path("django-rq/", include("django_rq.urls")),
    path("api/v1/", include(api_v1)),
    path("v1/", include(("generation.api.seed_urls", "seed"))),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("health/", health_views.health, name="health"),
    path("health/ready/", health_views.ReadyView.as_view(), name="health-ready"),
    path("health/detailed/", health_views.DetailedView.as_view(), name="health-detailed"),
    path("health/warmup/", health_views.WarmupView.as_view(), name="health-warmup"),
    path("metrics", include("illuplatform.ops.urls")),
    path("", include("illuplatform.page_urls")),
]

# Unknown URLs and crashes under /api/ answer with the JSON error body; elsewhere Django's pages.
handler400 = "illuplatform.api_errors.json_bad_request"
handler404 = "illuplatform.api_errors.json_not_found"
handler500 = "illuplatform.api_errors.json_server_error"

if settings.DEBUG:
    # uvicorn (make run) does not serve static files as runserver does; the admin and the
    # Swagger UI (drf-spectacular-sidecar assets) need them. Production serves collected files.
    from django.contrib.staticfiles.urls import staticfiles_urlpatterns

    urlpatterns += staticfiles_urlpatterns()

if settings.STORAGE_BACKEND == "local":
    # Embedded default only: media keys are random uuids. Production serves from S3.
    urlpatterns += [re_path(r"^media/(?P<path>.*)$", serve_media)]

if settings.ILLU_BENCH_BARE_VIEW:
    # bench/api.py's baseline only: a bare view that inserts one row; never on in production.
    urlpatterns += [path("bench/", include("bench.bare_view"))]
