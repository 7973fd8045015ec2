from __future__ import annotations

from django.urls import path

from lianfang.control import views

urlpatterns = [
    path("cases/", views.case_board, name="case_board"),
    path("cases/new", views.case_new, name="case_new"),
    path("cases/home/", views.home_watch, name="home_watch"),
    path("cases/limits/", views.stage_limits, name="stage_limits"),
    path("cases/assist/", views.assist_lists, name="assist_lists"),
    path("cases/assist/template.xlsx", views.assist_template, name="assist_template"),
    path("cases/assist/<int:pk>/", views.assist_detail, name="assist_detail"),
    path("cases/<int:pk>/", views.case_detail, name="case_detail"),
    path("cases/<int:pk>/advance", views.case_advance, name="case_advance"),
    path("cases/<int:pk>/reveal", views.case_reveal, name="case_reveal"),
    path("cases/<int:pk>/receive", views.case_receive, name="case_receive"),
    path("cases/<int:pk>/close", views.case_close, name="case_close"),
    path("cases/<int:pk>/relink", views.case_relink, name="case_relink"),
    path("cases/<int:pk>/transfer", views.case_transfer, name="case_transfer"),
    path("transfers/", views.transfer_list, name="transfer_list"),
    path("transfers/<int:pk>/status", views.transfer_status, name="transfer_status"),
    path("isolation/", views.isolation_sites, name="isolation_sites"),
    path("protocols/", views.protocol_list, name="protocol_list"),
    path("protocols/replan", views.protocol_replan, name="protocol_replan"),
    path("protocols/risk-areas/", views.risk_areas, name="risk_areas"),
    path("protocols/<int:pk>/", views.protocol_detail, name="protocol_detail"),
    path("protocols/<int:pk>/copy", views.protocol_copy, name="protocol_copy"),
    path("protocols/<int:pk>/edit", views.protocol_edit, name="protocol_edit"),
    path("protocols/<int:pk>/publish", views.protocol_publish, name="protocol_publish"),
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/sops/", views.sop_list, name="sop_list"),
    path("inbox/<int:pk>/", views.inbox_item, name="inbox_item"),
]
