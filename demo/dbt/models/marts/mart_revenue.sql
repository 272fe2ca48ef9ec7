{{
    config(
        incremental_strategy="replace_keys",
        unique_key="order_date",
        on_schema_change="ignore",
    )
}}

-- Revenue by order day, region and status: orders, lines, units, revenue. An incremental run
-- recomputes whole days: the days of orders touched by new batches, which late arrivals make
-- earlier days, plus the days re-delivered orders moved away from (emptied days are removed
-- by replace_keys, see macros/replace_keys.sql).

{%- set watermark = batch_watermark() %}

with

{% if is_incremental() -%}
touched_dates as (

    select order_date from {{ ref("int_orders") }} where _batch_id > {{ watermark }}
    union
    select unnest(_earlier_order_dates) from {{ ref("int_orders") }} where _batch_id > {{ watermark }}

),

{% endif -%}
orders as (

    select *
    from {{ ref("int_orders") }}
    {%- if is_incremental() %}
    where order_date in (select order_date from touched_dates)
    {%- endif %}

)

select
    order_date,
    region,
    status,
    count(*) as orders,
    cast(sum(items) as bigint) as items,
    cast(sum(units) as bigint) as units,
    cast(sum(revenue) as decimal(18, 2)) as revenue,
    max(_batch_id) as _batch_id
from orders
group by order_date, region, status
{{ touched_key_markers("order_date", "touched_dates") }}
