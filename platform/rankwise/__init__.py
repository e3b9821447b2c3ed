"""The Rankwise site: settings, root urls, the Celery app, wsgi/asgi.

This package lives in ``platform/`` but is imported as ``rankwise``: a package importable
as ``platform`` would shadow Python's standard-library module of that name.
"""

from .celery import app as celery_app

__all__ = ["celery_app"]
