from django.contrib import admin
from django.urls import include, path

from accounts import views as account_views
from jobs import result_views
from jobs import views as job_views
from jobs.api import api

admin.site.site_header = admin.site.site_title = "GAS staff console"
admin.site.enable_nav_sidebar = False  # (the job list's columns need the width at 1280 px)

urlpatterns = [
    path("", account_views.home, name="home"),
    path("profile", account_views.profile, name="profile"),
    path("subscribe", account_views.subscribe, name="subscribe"),
    path("unsubscribe", account_views.unsubscribe, name="unsubscribe"),
    path("annotate", job_views.annotate, name="annotate"),
    path("annotate/complete", job_views.annotate_complete, name="annotate_complete"),
    path("annotations", job_views.job_list, name="job_list"),
    path("annotations/status", job_views.job_statuses, name="job_statuses"),
    path("annotations/<uuid:job_id>", job_views.job_detail, name="job_detail"),
    path("annotations/<uuid:job_id>/log", job_views.job_log, name="job_log"),
    path("annotations/<uuid:job_id>/variants", result_views.job_variants, name="job_variants"),
    path("annotations/<uuid:job_id>/variants/<int:v>", result_views.job_variant, name="job_variant"),
    path("annotations/<uuid:job_id>/pedigree", job_views.job_pedigree, name="job_pedigree"),
    path("annotations/<uuid:job_id>/variants/count", result_views.job_variant_count, name="job_variant_count"),
    path("annotations/<uuid:job_id>/genes", result_views.job_genes, name="job_genes"),
    path("annotations/<uuid:job_id>/export/<str:fmt>", result_views.job_export, name="job_export"),
    path("annotations/<uuid:job_id>/download/<str:kind>", job_views.job_download, name="job_download"),
    path("annotations/<uuid:job_id>/delete", job_views.job_delete, name="job_delete"),
    path("filters", result_views.filter_set_create, name="filter_set_create"),
    path("filters/import", result_views.filter_set_import, name="filter_set_import"),
    path("filters/<int:set_id>.json", result_views.filter_set_export, name="filter_set_export"),
    path("filters/<int:set_id>/delete", result_views.filter_set_delete, name="filter_set_delete"),
    path("filters/shared/<str:token>", result_views.filter_set_shared, name="filter_set_shared"),
    path("profile/tokens", job_views.token_create, name="token_create"),
    path("profile/regions", job_views.region_create, name="region_create"),
    path("profile/regions/<int:region_set_id>/delete", job_views.region_delete, name="region_delete"),
    path("profile/tokens/<int:token_id>/revoke", job_views.token_revoke, name="token_revoke"),
    path("api/v1/", api.urls),
    path("accounts/link", account_views.account_link, name="account_link"),
    path("profile/identities/<int:account_id>/remove", account_views.identity_remove, name="identity_remove"),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
]
