"""The web login page, told about django-axes' lockout, and the favicon.

A failed login keeps the username in the form and, when few attempts are left before the
(username, address) pair is locked, says so: "1 attempt left before a 15-minute lock". The
lockout itself is answered by :func:`rankwise.http_errors.lockout_response`.
"""

from __future__ import annotations

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.staticfiles import finders
from django.http import FileResponse, Http404
from django.views.decorators.http import require_GET

from .http_errors import lock_minutes, lockout_seconds

WARN_WHEN_LEFT = 2  # warn from this many attempts left down to the last one
FAVICON = "annotation/favicon.svg"


class LoginView(auth_views.LoginView):
    redirect_authenticated_user = True

    def form_invalid(self, form):
        context = self.get_context_data(form=form)
        username = form.data.get("username") or ""
        if settings.AXES_ENABLED and username:
            failures = AxesProxyHandler.get_failures(self.request, {"username": username})
            left = settings.AXES_FAILURE_LIMIT - failures
            if 0 < left <= WARN_WHEN_LEFT:
                context["attempts_left"] = left
                context["lock_minutes"] = lock_minutes(lockout_seconds(self.request))
        return self.render_to_response(context)


@require_GET
def favicon(request):
    """``/favicon.ico``: browsers ask for it whatever the page links; the site's SVG icon."""
    path = finders.find(FAVICON)
    if not path:
        raise Http404("No icon.")
    response = FileResponse(open(path, "rb"), content_type="image/svg+xml")
    response["Cache-Control"] = "public, max-age=86400"
    return response
