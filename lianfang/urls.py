from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from lianfang.api import api

admin.site.site_header = "联防 · 指挥部管理后台"
admin.site.site_title = "联防管理后台"
admin.site.index_title = "数据管理"

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(template_name="accounts/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("", include("lianfang.control.urls")),
    path("", include("lianfang.checkpoints.urls")),
    path("", include("lianfang.checkins.urls")),
    path("", include("lianfang.rosters.urls")),
    path("", include("lianfang.masstesting.urls")),
    path("", include("lianfang.core.urls")),
]
