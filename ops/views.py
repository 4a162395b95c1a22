"""The home page and the operations dashboard: server-rendered, one chart drawn by the vendored uPlot."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.shortcuts import render
from django.urls import reverse_lazy
from django.views.decorators.http import require_GET

from inventory.models import Product
from ops import selectors
from ops.access import DashboardLoginForm, dashboard_required


@require_GET
def home(request):
    """A small page linking the dashboard, the API docs and the admin (public: it shows no data)."""
    return render(request, "ops/home.html")


@require_GET
@dashboard_required
def dashboard(request):
    """Every panel in one page; ``?product=CODE`` picks the heatmap, ``?sku=CODE`` the stock chart."""
    products = selectors.product_choices()
    code = request.GET.get("product") or (products[0]["code"] if products else None)
    product = Product.objects.filter(code=code).first() if code and "\x00" not in code else None
    heat = selectors.heatmap(product=product) if product else None
    sku_code = request.GET.get("sku", "")
    sku = selectors.chart_sku(code=sku_code if "\x00" not in sku_code else None, heat=heat)
    alerts_open, alerts = selectors.open_alerts()
    dead_count, dead = selectors.dead_letters()
    statuses = selectors.orders_by_status()
    context = {
        "products": products,
        "product": product,
        "product_code": code,
        "heatmap": heat,
        "lead_time_days": settings.STOCK_LEAD_TIME_DAYS,
        "target_cover_days": settings.STOCK_TARGET_COVER_DAYS,
        "alerts_open": alerts_open,
        "alerts": alerts,
        "statuses": statuses,
        "orders_total": sum(count for _, count in statuses),
        "on_hold": selectors.orders_on_hold(),
        "on_hold_count": dict(statuses).get("on_hold", 0),
        "dead_count": dead_count,
        "dead": dead,
        "chart_sku": sku,
        "chart": selectors.stock_history(sku=sku) if sku else None,
        "shipments": selectors.shipments_in_trouble(),
    }
    return render(request, "ops/dashboard.html", context)


class Login(auth_views.LoginView):
    template_name = "ops/login.html"
    authentication_form = DashboardLoginForm
    redirect_authenticated_user = True
    next_page = reverse_lazy("ops:dashboard")


class Logout(auth_views.LogoutView):
    next_page = reverse_lazy("ops:login")
