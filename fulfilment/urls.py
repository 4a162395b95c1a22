from django.urls import path

from fulfilment import api

urlpatterns = [
    path("orders/", api.OrderList.as_view(), name="order-list"),
    path("orders/<int:pk>/", api.OrderDetail.as_view(), name="order-detail"),
    path("orders/<int:pk>/edit", api.OrderEdit.as_view(), name="order-edit"),
    path("orders/<int:pk>/cancel", api.OrderCancel.as_view(), name="order-cancel"),
    path("orders/<int:pk>/release-hold", api.OrderReleaseHold.as_view(), name="order-release-hold"),
]

webhook_urlpatterns = [
    path("webhooks/shopify", api.ShopifyWebhook.as_view(), name="webhook-shopify"),
    path("webhooks/woocommerce", api.WooCommerceWebhook.as_view(), name="webhook-woocommerce"),
]
