from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path(
        "password/changed/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("admin/", admin.site.urls),
    path("api/", include("config.api_urls")),
    path("", include("workspace.approval_urls")),
    path("", include("workspace.urls")),
    path("", include("monitoring.urls")),
    path("", include("gate.urls")),
    path("", include("subscriptions.urls")),
    path("", include("chat.urls")),
]
