-- mart_revenue must add up to the order lines it summarises: revenue, lines and units equal
-- those of int_order_items_enriched (the lines of attributable orders), and its orders equal
-- int_orders (every attributable order, with or without lines). Returns a row per mismatch.

with

mart as (

    select
        coalesce(sum(orders), 0) as orders,
        coalesce(sum(items), 0) as items,
        coalesce(sum(units), 0) as units,
        coalesce(sum(revenue), 0) as revenue
    from {{ ref("mart_revenue") }}

),

lines as (

    select
        count(*) as items,
        coalesce(sum(quantity), 0) as units,
        coalesce(sum(line_amount), 0) as revenue
    from {{ ref("int_order_items_enriched") }}

),

orders as (

    select count(*) as orders
    from {{ ref("int_orders") }}

)

select 'orders' as measure, mart.orders as in_mart, orders.orders as expected
from mart, orders
where mart.orders <> orders.orders

union all

select 'items', mart.items, lines.items
from mart, lines
where mart.items <> lines.items

union all

select 'units', mart.units, lines.units
from mart, lines
where mart.units <> lines.units

union all

select 'revenue', mart.revenue, lines.revenue
from mart, lines
where mart.revenue <> lines.revenue
