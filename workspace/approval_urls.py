from django.urls import path

from workspace.views import decisions, policy, sign_offs

urlpatterns = [
    path("decisions/<int:pk>/", decisions.decision_detail, name="decision_detail"),
    path("releases/<int:pk>/sign-off/", sign_offs.sign_off, name="sign_off"),
    path(
        "releases/<int:pk>/sign-off/withdraw/",
        sign_offs.sign_off_withdraw,
        name="sign_off_withdraw",
    ),
    path("releases/<int:pk>/poll/", decisions.poll_open, name="poll_open"),
    path("releases/<int:pk>/decision/", decisions.decision_record, name="decision_record"),
    path("projects/<slug:slug>/settings/policy/", policy.policy_update, name="policy_update"),
]
