{{ config(materialized="view") }}

-- One row per line of an attributable order, enriched: int_order_items_enriched without its
-- incremental bookkeeping columns, for the semantic layer (lines join orders and products).

select
    order_item_id,
    order_id,
    product_id,
    customer_id,
    category,
    ordered_at,
    order_date,
    region,
    status,
    channel,
    quantity,
    unit_price,
    discount,
    line_amount,
    _batch_id
from {{ ref("int_order_items_enriched") }}
