{{
    config(
        incremental_strategy="delete+insert",
        unique_key="order_id",
    )
}}

-- One row per attributable order with the totals of its lines (zero for an order without
-- lines). An incremental run recomputes only the orders touched by new batches: the order
-- itself changed, or one of its lines did.

{%- set watermark = batch_watermark() %}

with

{% if is_incremental() -%}
touched_orders as (

    select order_id from {{ ref("stg_orders") }} where _batch_id > {{ watermark }}
    union
    select order_id from {{ ref("stg_order_items") }} where _batch_id > {{ watermark }}

),

{% endif -%}
orders as (

    select *
    from {{ ref("stg_orders") }}
    {%- if is_incremental() %}
    where order_id in (select order_id from touched_orders)
    {%- endif %}

),

line_totals as (

    select
        order_id,
        count(*) as items,
        cast(sum(quantity) as bigint) as units,
        cast(sum(line_amount) as decimal(18, 2)) as revenue,
        max(_batch_id) as _batch_id
    from {{ ref("stg_order_items") }}
    where order_id in (select order_id from orders)
    group by order_id

)

select
    orders.order_id,
    orders.customer_id,
    orders.status,
    orders.region,
    orders.channel,
    orders.ordered_at,
    orders.order_date,
    coalesce(line_totals.items, 0) as items,
    coalesce(line_totals.units, 0) as units,
    coalesce(line_totals.revenue, 0) as revenue,
    greatest(orders._batch_id, line_totals._batch_id) as _batch_id,
    -- Every date and customer this order was ever filed under. An order delivered again can
    -- move to another day or customer; the aggregates downstream must then recompute the
    -- old group as well as the new one. A list (not just the last value) stays right even
    -- when a downstream model missed a run in between.
    {%- if is_incremental() %}
    list_distinct(list_append(coalesce(previous._earlier_order_dates, []), previous.order_date))
        as _earlier_order_dates,
    list_distinct(list_append(coalesce(previous._earlier_customer_ids, []), previous.customer_id))
        as _earlier_customer_ids
    {%- else %}
    cast([] as date[]) as _earlier_order_dates,
    cast([] as bigint[]) as _earlier_customer_ids
    {%- endif %}
from orders
left join line_totals
    on line_totals.order_id = orders.order_id
{%- if is_incremental() %}
left join {{ this }} as previous
    on previous.order_id = orders.order_id
{%- endif %}
