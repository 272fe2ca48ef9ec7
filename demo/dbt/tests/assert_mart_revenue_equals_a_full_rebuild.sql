{{ config(tags=["audit"]) }}

-- The incremental mart_revenue equals the same aggregation over all of int_orders: proves
-- that recomputing only the touched days (late arrivals, re-deliveries that moved an order
-- to another day) keeps every day right. Returns the rows that differ, from either side.

with

rebuilt as (

    select
        order_date,
        region,
        status,
        count(*) as orders,
        sum(items) as items,
        sum(units) as units,
        sum(revenue) as revenue
    from {{ ref("int_orders") }}
    group by order_date, region, status

),

incremental as (

    select order_date, region, status, orders, items, units, revenue
    from {{ ref("mart_revenue") }}

)

select 'missing or different in mart_revenue' as problem, *
from (select * from rebuilt except select * from incremental)

union all

select 'extra or different in mart_revenue', *
from (select * from incremental except select * from rebuilt)
