from django.contrib import admin
from django.urls import include, path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from .auth_api import TokenApi
from .converters import IdConverter
from .health import healthz
from .login import LoginView, favicon

# Before the includes below, which build routes that use it.
register_converter(IdConverter, "id")

handler400 = "rankwise.http_errors.bad_request"
handler403 = "rankwise.http_errors.permission_denied"
handler404 = "rankwise.http_errors.page_not_found"
handler500 = "rankwise.http_errors.server_error"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("favicon.ico", favicon, name="favicon"),
    # The login form with lockout warnings and the username kept after a failure.
    path("login/", LoginView.as_view(), name="login"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/auth/token/", TokenApi.as_view(), name="api-token"),
    path("api/v1/", include("annotation.api_urls")),
    path("api/v1/", include("training.api_urls")),
    path("api/v1/", include("judges.api_urls")),
    path("", include("annotation.urls")),
    path("", include("training.urls")),
    path("", include("judges.ui_urls")),
]
