from django.urls import path

from shipping import api

urlpatterns = [
    path("orders/<int:pk>/ship", api.OrderShip.as_view(), name="order-ship"),
    path("shipments/", api.ShipmentList.as_view(), name="shipment-list"),
    path("shipments/<int:pk>/", api.ShipmentDetail.as_view(), name="shipment-detail"),
    path("shipments/<int:pk>/cancel", api.ShipmentCancel.as_view(), name="shipment-cancel"),
    path("shipments/<int:pk>/label.pdf", api.ShipmentLabelPdf.as_view(), name="shipment-label-pdf"),
    path("shipments/<int:pk>/label.zpl", api.ShipmentLabelZpl.as_view(), name="shipment-label-zpl"),
    path("shipments/<int:pk>/commercial-invoice.pdf", api.ShipmentInvoicePdf.as_view(), name="shipment-invoice"),
    path("labels/batch", api.LabelsBatch.as_view(), name="labels-batch"),
]

# Couriers are given the URL with or without the slash: both are served, neither redirects.
webhook_urlpatterns = [
    path("webhooks/couriers/<str:courier>", api.CourierWebhook.as_view(), name="webhook-courier"),
    path("webhooks/couriers/<str:courier>/", api.CourierWebhook.as_view(schema=None)),
]
