from django.contrib import admin
from django.urls import include, path

from accounts import views as account_views

urlpatterns = [
    path("", account_views.home, name="home"),
    path("profile", account_views.profile, name="profile"),
    path("subscribe", account_views.subscribe, name="subscribe"),
    path("unsubscribe", account_views.unsubscribe, name="unsubscribe"),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
]
