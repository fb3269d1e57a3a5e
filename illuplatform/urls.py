from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve

from accounts.api import TokenView

from .health import health

api_v1 = (
    [
        path("auth/token/", TokenView.as_view(), name="auth-token"),
        path("", include("generation.api.urls")),
    ],
    "api",
)

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("health/", health, name="health"),
    path("metrics", include("illuplatform.ops.urls")),
]

if settings.STORAGE_BACKEND == "local":
    # Embedded default only: media keys are random uuids. Production serves from S3.
    urlpatterns += [re_path(r"^media/(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT})]

if settings.ILLU_BENCH_BARE_VIEW:
    # bench/api.py's baseline only: a bare view that inserts one row; never on in production.
    urlpatterns += [path("bench/", include("bench.bare_view"))]
