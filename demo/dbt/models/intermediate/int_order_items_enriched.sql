{{
    config(
        incremental_strategy="delete+insert",
        unique_key="order_item_id",
    )
}}

-- One row per line of an attributable order, with what the marts slice lines by: the
-- order's customer, day, region, status and channel, and the product's category. The inner
-- join to stg_orders drops the lines of orders that were removed (no customer). Products
-- are left-joined: a line whose product is not (yet) in the catalogue keeps its revenue,
-- under category 'unknown', instead of vanishing.
--
-- An incremental run re-enriches the lines touched by new batches: new or changed lines,
-- lines of new or changed orders, lines of new or changed products.

{%- set watermark = batch_watermark() %}

with

{% if is_incremental() -%}
touched_lines as (

    select order_item_id
    from {{ ref("stg_order_items") }}
    where _batch_id > {{ watermark }}

    union

    select order_item_id
    from {{ ref("stg_order_items") }}
    where order_id in (select order_id from {{ ref("stg_orders") }} where _batch_id > {{ watermark }})

    union

    select order_item_id
    from {{ ref("stg_order_items") }}
    where product_id in (select product_id from {{ ref("stg_products") }} where _batch_id > {{ watermark }})

),

{% endif -%}
lines as (

    select *
    from {{ ref("stg_order_items") }}
    {%- if is_incremental() %}
    where order_item_id in (select order_item_id from touched_lines)
    {%- endif %}

)

select
    lines.order_item_id,
    lines.order_id,
    lines.product_id,
    orders.customer_id,
    coalesce(products.category, 'unknown') as category,
    orders.ordered_at,
    orders.order_date,
    orders.region,
    orders.status,
    orders.channel,
    lines.quantity,
    lines.unit_price,
    lines.discount,
    lines.line_amount,
    greatest(lines._batch_id, orders._batch_id, products._batch_id) as _batch_id,
    -- Every day and product this line was ever filed under, so the aggregates downstream
    -- recompute the old group as well as the new one (see int_orders).
    {%- if is_incremental() %}
    list_distinct(list_append(coalesce(previous._earlier_order_dates, []), previous.order_date))
        as _earlier_order_dates,
    list_distinct(list_append(coalesce(previous._earlier_product_ids, []), previous.product_id))
        as _earlier_product_ids
    {%- else %}
    cast([] as date[]) as _earlier_order_dates,
    cast([] as bigint[]) as _earlier_product_ids
    {%- endif %}
from lines
inner join {{ ref("stg_orders") }} as orders
    on orders.order_id = lines.order_id
left join {{ ref("stg_products") }} as products
    on products.product_id = lines.product_id
{%- if is_incremental() %}
left join {{ this }} as previous
    on previous.order_item_id = lines.order_item_id
{%- endif %}
