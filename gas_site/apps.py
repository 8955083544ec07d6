from django.apps import AppConfig


class GasSiteConfig(AppConfig):
    name = "gas_site"
    verbose_name = "GAS plumbing"
