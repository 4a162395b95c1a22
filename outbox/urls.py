from django.urls import path

from outbox import api

urlpatterns = [
    path("outbox/", api.MessageList.as_view(), name="outbox-list"),
    path("outbox/<int:pk>/", api.MessageDetail.as_view(), name="outbox-detail"),
    path("outbox/<int:pk>/retry", api.MessageRetry.as_view(), name="outbox-retry"),
    path("webhook-subscriptions/", api.SubscriptionList.as_view(), name="webhook-subscription-list"),
    path("webhook-subscriptions/<int:pk>/", api.SubscriptionDetail.as_view(), name="webhook-subscription-detail"),
]
