from django.urls import path

from workspace.views import approvals as views

urlpatterns = [
    path("decisions/<int:pk>/", views.decision_detail, name="decision_detail"),
    path("releases/<int:pk>/sign-off/", views.sign_off, name="sign_off"),
    path("releases/<int:pk>/sign-off/withdraw/", views.sign_off_withdraw, name="sign_off_withdraw"),
    path("releases/<int:pk>/poll/", views.poll_open, name="poll_open"),
    path("releases/<int:pk>/decision/", views.decision_record, name="decision_record"),
    path("projects/<slug:slug>/settings/policy/", views.policy_update, name="policy_update"),
]
