"""On PostgreSQL the reservation hot path is one call, ``inventory_reserve(...)``, made by reservation_create.

It keeps DESIGN.md's order inside the database: read the stock rows without a
lock, insert the reservation and ledger rows, then one conditional UPDATE per
stock row in ascending id order as the last statements. A missing or short
stock row raises SQLSTATE ``IV001`` with a JSON DETAIL (``sku_id``, ``sku``,
``requested``, ``available``) that reservation_create turns into
InsufficientStock; the error aborts the caller's transaction (or savepoint),
taking the inserts with it. One round trip instead of five ORM statements is
what makes the service fast: its cost was Python per statement, not the
database (bench/README.md).

SQLite has no stored functions; there reservation_create keeps its ORM path.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION inventory_reserve(
    p_warehouse_id bigint,
    p_reference text,
    p_actor_id integer,
    p_sku_ids bigint[],
    p_quantities integer[]
) RETURNS TABLE (reservation_id bigint, stock_id bigint, quantity integer, created_at timestamptz)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
    v_stock_ids bigint[];
    v_sku_ids bigint[];
    v_quantities integer[];
    v_missing integer;
    v_available integer;
    v_code text;
BEGIN
    IF cardinality(p_sku_ids) IS DISTINCT FROM cardinality(p_quantities)
        OR array_position(p_sku_ids, NULL) IS NOT NULL
        OR array_position(p_quantities, NULL) IS NOT NULL
        OR 0 >= ANY (p_quantities) THEN
        RAISE EXCEPTION 'inventory_reserve needs as many sku ids as quantities, no nulls, quantities > 0'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF coalesce(cardinality(p_sku_ids), 0) = 0 THEN
        RETURN;
    END IF;

    -- The wanted lines, duplicate SKUs merged, with their stock rows: a plain read, no lock.
    -- Ascending stock id; lines without a stock row (null id) come last, by SKU id.
    SELECT array_agg(s.id ORDER BY s.id, w.sku_id),
           array_agg(w.sku_id ORDER BY s.id, w.sku_id),
           array_agg(w.quantity ORDER BY s.id, w.sku_id)
      INTO v_stock_ids, v_sku_ids, v_quantities
      FROM (SELECT u.sku_id, sum(u.quantity)::integer AS quantity
              FROM unnest(p_sku_ids, p_quantities) AS u (sku_id, quantity)
             GROUP BY u.sku_id) AS w
      LEFT JOIN inventory_stocklevel AS s ON s.sku_id = w.sku_id AND s.warehouse_id = p_warehouse_id;

    v_missing := array_position(v_stock_ids, NULL);
    IF v_missing IS NOT NULL THEN
        SELECT k.code INTO v_code FROM inventory_sku AS k WHERE k.id = v_sku_ids[v_missing];
        RAISE EXCEPTION 'insufficient stock: sku % (id %) has no stock in warehouse %: requested %, available 0',
                v_code, v_sku_ids[v_missing], p_warehouse_id, v_quantities[v_missing]
            USING ERRCODE = 'IV001',
                  DETAIL = json_build_object('sku_id', v_sku_ids[v_missing], 'sku', v_code,
                                             'requested', v_quantities[v_missing], 'available', 0)::text;
    END IF;

    -- Inserts first: they take no lock on the stock row.
    RETURN QUERY
    INSERT INTO inventory_reservation AS r (stock_id, reference, quantity, status, created_at, closed_at)
    SELECT l.stock_id, p_reference, l.quantity, 'active', now(), NULL
      FROM unnest(v_stock_ids, v_quantities) WITH ORDINALITY AS l (stock_id, quantity, n)
     ORDER BY l.n
    RETURNING r.id, r.stock_id, r.quantity, r.created_at;

    INSERT INTO inventory_stockmovement (kind, quantity, sku_id, warehouse_id, reference, reason, actor_id, created_at)
    SELECT 'reservation', l.quantity, l.sku_id, p_warehouse_id, p_reference, '', p_actor_id, now()
      FROM unnest(v_sku_ids, v_quantities) WITH ORDINALITY AS l (sku_id, quantity, n)
     ORDER BY l.n;

    -- Last statements before COMMIT, in ascending stock id order: the row lock is taken here
    -- and held only until COMMIT; one fixed order means no deadlock; no row updated means short.
    FOR i IN 1 .. cardinality(v_stock_ids) LOOP
        UPDATE inventory_stocklevel AS s SET reserved = s.reserved + v_quantities[i]
         WHERE s.id = v_stock_ids[i] AND s.on_hand - s.reserved >= v_quantities[i];
        IF NOT FOUND THEN
            SELECT s.on_hand - s.reserved, k.code INTO v_available, v_code
              FROM inventory_stocklevel AS s JOIN inventory_sku AS k ON k.id = s.sku_id
             WHERE s.id = v_stock_ids[i];
            RAISE EXCEPTION 'insufficient stock: sku % (id %) in warehouse %: requested %, available %',
                    v_code, v_sku_ids[i], p_warehouse_id, v_quantities[i], v_available
                USING ERRCODE = 'IV001',
                      DETAIL = json_build_object('sku_id', v_sku_ids[i], 'sku', v_code,
                                                 'requested', v_quantities[i], 'available', v_available)::text;
        END IF;
    END LOOP;
END;
$$;
"""
DROP = "DROP FUNCTION IF EXISTS inventory_reserve(bigint, text, integer, bigint[], integer[]);"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        # params=None: the body's '%' placeholders must reach PostgreSQL untouched.
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("inventory", "0002_ledger_append_only")]
    operations = [migrations.RunPython(forwards, backwards)]
