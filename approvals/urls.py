from django.urls import path

from approvals import views

urlpatterns = [
    path("decisions/<int:pk>/", views.decision_detail, name="decision_detail"),
]
