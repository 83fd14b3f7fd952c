from django.urls import path

from calls import views

urlpatterns = [
    path("calls/initiate/", views.initiate),
    path("api/conversations/<str:conversation_id>/", views.conversation),
    path("healthz", views.healthz),
]
