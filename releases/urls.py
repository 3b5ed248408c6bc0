from django.urls import include, path

from releases import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("releases/<int:pk>/", views.release_detail, name="release_detail"),
    path("projects/<slug:slug>/settings/", views.project_settings, name="project_settings"),
    path("healthz", views.healthz, name="healthz"),
    path("", include("releases.token_urls")),
]
