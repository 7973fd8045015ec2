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
]
