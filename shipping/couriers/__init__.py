"""Courier adapters: one module per courier behind ``base.Courier``; ``get_courier`` builds one."""

from __future__ import annotations

import importlib

from .base import CourierConfig, NotConfigured  # noqa: F401

COURIER_CODES = ("dhl_express", "auspost", "fedex", "ups")
_SETTINGS_NAMES = {"dhl_express": "DHL_EXPRESS", "auspost": "AUSPOST", "fedex": "FEDEX", "ups": "UPS"}
_CLASSES = {
    "dhl_express": "shipping.couriers.dhl_express.DhlExpress",
    "auspost": "shipping.couriers.auspost.AusPost",
    "fedex": "shipping.couriers.fedex.FedEx",
    "ups": "shipping.couriers.ups.Ups",
}


def courier_class(code: str):
    module, _, name = _CLASSES[code].rpartition(".")
    return getattr(importlib.import_module(module), name)


def courier_config(code: str) -> CourierConfig:
    from django.conf import settings

    values = settings.COURIERS[_SETTINGS_NAMES[code]]
    return CourierConfig(
        base_url=values["BASE_URL"],
        key=values["KEY"],
        secret=values["SECRET"],
        account=values["ACCOUNT"],
        connect_timeout=settings.HTTP_CONNECT_TIMEOUT,
        read_timeout=settings.HTTP_READ_TIMEOUT,
        options={k: v for k, v in values.items() if k not in ("BASE_URL", "KEY", "SECRET", "ACCOUNT")},
    )
