from __future__ import annotations

from django.urls import path

from lianfang.core import views

urlpatterns = [
    path("", views.home, name="home"),
    path("people/", views.person_list, name="person_list"),
    path("people/export.xlsx", views.person_export, name="person_export"),
    path("people/<int:pk>/", views.person_detail, name="person_detail"),
    path("people/<int:pk>/reveal", views.person_reveal, name="person_reveal"),
    path("people/<int:pk>/edit", views.person_edit, name="person_edit"),
    path("households/<int:pk>/", views.household_detail, name="household_detail"),
    path("imports/", views.import_upload, name="import_upload"),
    path("imports/template.xlsx", views.import_template, name="import_template"),
    path("imports/<int:pk>/", views.import_job, name="import_job"),
    path("imports/<int:pk>/status.json", views.import_job_json, name="import_job_json"),
    path("imports/<int:pk>/errors.xlsx", views.import_error_report, name="import_error_report"),
    path("map/", views.map_page, name="map"),
    path("audit/", views.audit_list, name="audit_list"),
]
