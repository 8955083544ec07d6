from django.apps import AppConfig


class ArchiveConfig(AppConfig):
    name = "archive"
    verbose_name = "Cold storage"

    def ready(self) -> None:
        from archive import receivers  # noqa: F401 - connects the signal receivers
