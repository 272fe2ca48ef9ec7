{{ config(materialized="view") }}

-- One row per attributable order with its totals: int_orders without its incremental
-- bookkeeping columns, for the semantic layer (the orders cube joins customers here). A view
-- one level over a table, not a chain of views, so it costs nothing to keep current.

select
    order_id,
    customer_id,
    status,
    region,
    channel,
    ordered_at,
    order_date,
    items,
    units,
    revenue,
    _batch_id
from {{ ref("int_orders") }}
