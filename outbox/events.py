"""The event types our own webhooks carry (DESIGN.md "Interfaces": outbound webhooks)."""

STOCK_LOW = "stock.low"
STOCK_RECOVERED = "stock.recovered"
SHIPMENT_BOOKED = "shipment.booked"
SHIPMENT_STATUS_CHANGED = "shipment.status_changed"
SHIPMENT_DELIVERED = "shipment.delivered"

EVENT_TYPES = (STOCK_LOW, STOCK_RECOVERED, SHIPMENT_BOOKED, SHIPMENT_STATUS_CHANGED, SHIPMENT_DELIVERED)
