from __future__ import annotations

from django.urls import path

from lianfang.masstesting import views

urlpatterns = [
    path("testing/", views.round_list, name="mt_rounds"),
    path("testing/advice/", views.advice, name="mt_advice"),
    path("testing/handover/", views.handover, name="mt_handover"),
    path("testing/<int:pk>/", views.round_detail, name="mt_round"),
    path("testing/<int:pk>/sites/<int:site_id>/sample/", views.sample_page, name="mt_sample"),
    path("testing/<int:pk>/home/", views.home_list, name="mt_home"),
    path("testing/<int:pk>/home/<int:request_id>/sample/", views.home_sample, name="mt_home_sample"),
    path("testing/<int:pk>/exemptions/", views.exemptions, name="mt_exemptions"),
    path("testing/<int:pk>/results/", views.results_page, name="mt_results"),
    path("testing/<int:pk>/results/<int:job_id>/", views.import_job, name="mt_import"),
    path("testing/<int:pk>/results/<int:job_id>/errors.xlsx", views.import_errors, name="mt_import_errors"),
    path("testing/<int:pk>/results/template.xlsx", views.results_template, name="mt_results_template"),
    path("testing/<int:pk>/coverage/", views.coverage_page, name="mt_coverage"),
    path("testing/<int:pk>/coverage/report.xlsx", views.coverage_export, name="mt_report"),
]
