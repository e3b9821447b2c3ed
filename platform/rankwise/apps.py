from django.apps import AppConfig


class RankwiseConfig(AppConfig):
    name = "rankwise"
    verbose_name = "Rankwise site"
