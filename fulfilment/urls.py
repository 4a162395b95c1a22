from django.urls import path

from fulfilment import api

urlpatterns = [
    path("orders/", api.OrderList.as_view(), name="order-list"),
    path("orders/<int:pk>/", api.OrderDetail.as_view(), name="order-detail"),
    path("orders/<int:pk>/edit", api.OrderEdit.as_view(), name="order-edit"),
    path("orders/<int:pk>/cancel", api.OrderCancel.as_view(), name="order-cancel"),
    path("orders/<int:pk>/release-hold", api.OrderReleaseHold.as_view(), name="order-release-hold"),
    path("orders/<int:pk>/pack", api.OrderPack.as_view(), name="order-pack"),
    path("orders/<int:pk>/short-pick", api.OrderShortPick.as_view(), name="order-short-pick"),
    path("orders/<int:pk>/packing-slip.pdf", api.OrderPackingSlipPdf.as_view(), name="order-packing-slip"),
    path("pick-waves/", api.PickWaveList.as_view(), name="pick-wave-list"),
    path("pick-waves/<int:pk>/", api.PickWaveDetail.as_view(), name="pick-wave-detail"),
    path("pick-waves/<int:pk>/cancel", api.PickWaveCancel.as_view(), name="pick-wave-cancel"),
    path("pick-waves/<int:pk>/close", api.PickWaveClose.as_view(), name="pick-wave-close"),
    path("pick-waves/<int:pk>/pick-list.pdf", api.PickListPdf.as_view(), name="pick-wave-pick-list"),
]

# Merchants paste webhook URLs with or without the slash: both are served and neither redirects
# (storefronts do not follow a redirect with a POST). The schema documents the canonical spelling.
webhook_urlpatterns = [
    path("webhooks/shopify", api.ShopifyWebhook.as_view(), name="webhook-shopify"),
    path("webhooks/shopify/", api.ShopifyWebhook.as_view(schema=None)),
    path("webhooks/woocommerce", api.WooCommerceWebhook.as_view(), name="webhook-woocommerce"),
    path("webhooks/woocommerce/", api.WooCommerceWebhook.as_view(schema=None)),
]
