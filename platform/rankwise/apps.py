from django.apps import AppConfig


class RankwiseConfig(AppConfig):
    name = "rankwise"
    verbose_name = "Rankwise site"

    def ready(self) -> None:
        from . import celery_tasks  # noqa: F401  (registers the site's tasks)
