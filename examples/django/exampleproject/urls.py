from django.urls import include, path
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from chat import views

urlpatterns = [
    path("api/token/", TokenObtainPairView.as_view(), name="token_obtain_pair"),
    path("api/token/refresh/", TokenRefreshView.as_view(), name="token_refresh"),
    path("api/logout/", views.logout_view, name="logout"),
    path("api/conversations/", views.conversations, name="conversations"),
    path("ringmq/", include("ringmq.contrib.django.urls")),   # POST /ringmq/webhook/
]
