"""On PostgreSQL the alert check reads its levels with one call, ``inventory_alert_readings(ids, now)``.

The statement is ``inventory.alerts._READINGS_SQL`` (the levels, the window's demand summed per
window with FILTER, the first movement, the open alerts); as a PL/pgSQL function its plan is
made once per connection instead of on every call, and planning was half the check's database
time (0.55 of 0.8 ms, bench/README.md). The check runs after every stock movement.

SQLite has no stored functions; there the check runs the statement itself.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION inventory_alert_readings(p_stock_ids bigint[], p_now timestamptz)
RETURNS TABLE (
    stock_id bigint, sku_id bigint, warehouse_id bigint, sku text, warehouse text, lead_time_days integer,
    on_hand integer, reserved integer, reorder_point integer, units_7d bigint, units_28d bigint,
    units_90d bigint, first_movement_at timestamptz, low_open boolean, risk_open boolean
)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY
    SELECT l.id, l.sku_id, l.warehouse_id, s.code::text, w.code::text, s.lead_time_days::integer,
           l.on_hand, l.reserved, l.reorder_point,
           COALESCE(d.units_7d, 0)::bigint, COALESCE(d.units_28d, 0)::bigint, COALESCE(d.units_90d, 0)::bigint,
           (SELECT MIN(f.created_at) FROM inventory_stockmovement f
             WHERE f.sku_id = l.sku_id AND f.warehouse_id = l.warehouse_id AND f.created_at <= p_now),
           EXISTS (SELECT 1 FROM inventory_stockalert a WHERE a.sku_id = l.sku_id AND a.warehouse_id = l.warehouse_id
                   AND a.kind = 'low_stock' AND a.closed_at IS NULL),
           EXISTS (SELECT 1 FROM inventory_stockalert a WHERE a.sku_id = l.sku_id AND a.warehouse_id = l.warehouse_id
                   AND a.kind = 'stockout_risk' AND a.closed_at IS NULL)
    FROM inventory_stocklevel l
    JOIN inventory_sku s ON s.id = l.sku_id
    JOIN inventory_warehouse w ON w.id = l.warehouse_id
    LEFT JOIN (
        SELECT m.sku_id, m.warehouse_id,
               SUM(m.quantity) FILTER (WHERE m.created_at >= p_now - interval '7 days') AS units_7d,
               SUM(m.quantity) FILTER (WHERE m.created_at >= p_now - interval '28 days') AS units_28d,
               SUM(m.quantity) AS units_90d
        FROM inventory_stockmovement m
        JOIN inventory_stocklevel t ON t.sku_id = m.sku_id AND t.warehouse_id = m.warehouse_id
        WHERE t.id = ANY (p_stock_ids) AND m.kind IN ('reservation', 'release')
          AND m.created_at >= p_now - interval '90 days' AND m.created_at <= p_now
        GROUP BY m.sku_id, m.warehouse_id
    ) d ON d.sku_id = l.sku_id AND d.warehouse_id = l.warehouse_id
    WHERE l.id = ANY (p_stock_ids);
END
$$;
"""
DROP = "DROP FUNCTION IF EXISTS inventory_alert_readings(bigint[], timestamptz);"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("inventory", "0011_stock_alerts")]

    operations = [migrations.RunPython(forwards, backwards)]
