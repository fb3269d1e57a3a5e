from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts.pages import under_login_lockout
from core import schema  # noqa: F401 - registers the token auth scheme with drf-spectacular
from core.signed_media import serve_signed_media
from ops import health as health_views
from ops.fleet_page import fleet_urls
from ops.rq_dashboard import rq_dashboard_urls

# Each app's API routes; the names (``api:job-list``, ...) are the apps' own.
api_v1 = (
    [
        path("", include("accounts.urls")),
        path("", include("catalog.urls")),
        path("", include("characters.urls")),
        path("", include("generation.api.urls")),
        path("", include("training.api.urls")),
        path("", include("books.api.urls")),
        path("", include("exports.urls")),
        path("", include("usage.urls")),
    ],
    "api",
)

urlpatterns = [
    # The admin's sign-in is a password door too: the same lock-out as /login/ and the API.
    path("admin/login/", under_login_lockout(admin.site.login)),
    path("admin/fleet/", include(fleet_urls())),
    path("admin/", admin.site.urls),
    path("django-rq/", include(rq_dashboard_urls())),
    path("api/v1/", include(api_v1)),
    path("v1/", include(("generation.api.autobio_urls", "autobio"))),
    # The ecosystem's APIs (compat/): OpenAI Images beside the AutoBio endpoints, AUTOMATIC1111.
    path("v1/", include(("compat.openai_images.urls", "openai"))),
    path("sdapi/v1/", include(("compat.a1111.urls", "a1111"))),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # Its set-up script is a request of its own and its page has no inline style or script,
    # under the Content-Security-Policy (templates/api_docs.html).
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="schema", template_name="api_docs.html"),
        name="api-docs",
    ),
    path("health/", health_views.health, name="health"),
    path("health/ready/", health_views.ReadyView.as_view(), name="health-ready"),
    path("health/detailed/", health_views.DetailedView.as_view(), name="health-detailed"),
    path("health/warmup/", health_views.WarmupView.as_view(), name="health-warmup"),
    path("metrics", include("ops.urls")),
    path("", include("illuplatform.page_urls")),
]

# Unknown URLs and crashes under /api/ answer with the JSON error body; elsewhere Django's pages.
handler400 = "core.api_errors.json_bad_request"
handler404 = "core.api_errors.json_not_found"
handler500 = "core.api_errors.json_server_error"

if settings.DEBUG:
    # uvicorn (make run) does not serve static files as runserver does; the admin and the
    # Swagger UI (drf-spectacular-sidecar assets) need them. Production serves collected files.
    from django.contrib.staticfiles.urls import staticfiles_urlpatterns

    urlpatterns += staticfiles_urlpatterns()

# Local storage (the embedded default) only, and only through the signed, expiring URLs its
# storage mints; with S3 the view answers 404 (files are served by presigned S3 URLs).
urlpatterns += [re_path(r"^media/(?P<path>.*)$", serve_signed_media, name="media")]

if settings.ILLU_BENCH_BARE_VIEW:
    # bench/api.py's baseline only: a bare view that inserts one row; never on in production.
    urlpatterns += [path("bench/", include("bench.bare_view"))]
