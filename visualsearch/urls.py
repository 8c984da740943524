"""Root URL configuration: each app brings its pages and its API routes."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve
from drf_spectacular.views import SpectacularSwaggerSplitView

from catalog.api_schema_view import SchemaView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SchemaView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/", include("catalog.api_urls")),
    path("api/", include("visualsearch.api_urls")),
    path("api/", include("dedupe.api_urls")),
    path("", include("visualsearch.search_urls")),
    path("", include("catalog.urls")),
    path("", include("dedupe.urls")),
]

if not getattr(settings, "AWS_STORAGE_BUCKET_NAME", ""):
    # Local filesystem media. Behind a proxy in production, let the proxy serve MEDIA_ROOT.
    urlpatterns.append(
        re_path(r"^media/(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT})
    )

handler404 = "catalog.views.page_not_found"
handler500 = "catalog.views.server_error"
