from __future__ import annotations

from django.urls import path

from lianfang.checkins import views

urlpatterns = [
    path("checkins/", views.board, name="checkin_board"),
    path("checkins/groups/<int:pk>/", views.group_round, name="checkin_group"),
    path("checkins/anomalies/<int:pk>/", views.anomaly, name="checkin_anomaly"),
    path("checkins/notices/", views.notices, name="checkin_notices"),
    path("checkins/questions/<int:pk>/answer", views.answer_question, name="checkin_answer"),
    path("r/<str:token>/", views.reply, name="checkin_reply"),
]
