from __future__ import annotations

from django.urls import path

from lianfang.rosters import views

urlpatterns = [
    path("rosters/", views.home, name="roster_home"),
    path("rosters/new/", views.roster_new, name="roster_new"),
    path("rosters/<int:pk>/", views.roster_detail, name="roster_detail"),
    path("rosters/<int:pk>/progress", views.roster_progress, name="roster_progress"),
    path("rosters/<int:pk>/solve", views.roster_solve, name="roster_solve"),
    path("rosters/<int:pk>/publish", views.roster_publish, name="roster_publish"),
    path("rosters/<int:pk>/end-early", views.roster_end_early, name="roster_end_early"),
    path("rosters/<int:pk>/delete", views.roster_delete, name="roster_delete"),
    path("rosters/<int:pk>/print.pdf", views.roster_pdf, name="roster_pdf"),
    path("rosters/<int:pk>/roster.xlsx", views.roster_xlsx, name="roster_xlsx"),
    path("rosters/<int:pk>/roster.ics", views.roster_ics, name="roster_ics"),
    path("rosters/<int:pk>/staff/<int:staff_pk>/", views.roster_person, name="roster_person"),
    path("rosters/swaps/", views.swap_list, name="swap_list"),
    path("rosters/attendance/", views.attendance_board, name="attendance_board"),
    path("rosters/staff/", views.staff_list, name="staff_list"),
    path("rosters/staff/<int:pk>/", views.staff_detail, name="staff_detail"),
    path("rosters/teams/", views.team_list, name="team_list"),
    path("rosters/teams/<int:pk>/", views.team_detail, name="team_detail"),
    path("rosters/gates/<int:gate_pk>/demand/", views.gate_demand, name="gate_demand"),
    path("rosters/gates/<int:gate_pk>/briefing/", views.briefing_page, name="briefing"),
    path("my/shifts/", views.my_shifts, name="my_shifts"),
    path("my/shifts.ics", views.my_shifts_ics, name="my_shifts_ics"),
    path("my/shifts/swap", views.swap_request, name="swap_request"),
    path("my/shifts/swap/<int:pk>/answer", views.swap_answer, name="swap_answer"),
    path("my/shifts/swap/<int:pk>/withdraw", views.swap_withdraw, name="swap_withdraw"),
    path("my/shifts/<int:pk>/clock", views.clock, name="clock"),
    path("rosters/attendance/<int:pk>/missed", views.record_missed, name="record_missed"),
    path("join/<str:token>/", views.team_join, name="team_join"),
]
