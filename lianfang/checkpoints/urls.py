from __future__ import annotations

from django.urls import path

from lianfang.checkpoints import views

urlpatterns = [
    path("gates/", views.gate_list, name="gate_list"),
    path("gates/roads/", views.road_import, name="road_import"),
    path("gates/plan/", views.plan_new, name="plan_new"),
    path("gates/plan/<int:pk>/", views.plan_detail, name="plan_detail"),
    path("gates/plan/<int:pk>/map.json", views.plan_geojson, name="plan_geojson"),
    path("gates/plan/<int:pk>/apply", views.plan_apply, name="plan_apply"),
    path("gates/<int:pk>/lanes", views.gate_lanes, name="gate_lanes"),
    path("gates/<int:pk>/scan", views.scan_page, name="scan_page"),
    path("gates/sw.js", views.service_worker, name="gate_sw"),
    path("gates/manifest.webmanifest", views.manifest, name="gate_manifest"),
    path("gates/assessments/", views.assessment_queue, name="assessment_queue"),
    path("gates/board/", views.gate_board, name="gate_board"),
    path("gates/passes/<str:code>/", views.pass_print, name="pass_print"),
]
