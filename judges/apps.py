from django.apps import AppConfig


class JudgesConfig(AppConfig):
    name = "judges"
    verbose_name = "Judges"

    def ready(self) -> None:
        # The "AI judges" section of the quality dashboard (annotation never imports judges).
        from annotation.quality import panels

        from .dashboard import panel

        panels.register(panel)
