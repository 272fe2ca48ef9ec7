{{
    config(
        incremental_strategy="replace_keys",
        unique_key="order_date",
        on_schema_change="ignore",
    )
}}

-- Sales of each product per order day: orders, lines, units, revenue. Kept per day (not per
-- product) so an incremental run recomputes only the days touched by new batches (today's,
-- and the earlier days late arrivals and re-deliveries land on) instead of every product's
-- whole history; the mart sums the days. replace_keys (macros/replace_keys.sql) also empties
-- a day whose last line moved away. on_schema_change stays 'ignore': the marker column of
-- incremental runs must not be added to the table.

{%- set watermark = batch_watermark() %}

with

{% if is_incremental() -%}
touched_dates as (

    select order_date from {{ ref("int_order_items_enriched") }} where _batch_id > {{ watermark }}
    union
    select unnest(_earlier_order_dates) from {{ ref("int_order_items_enriched") }} where _batch_id > {{ watermark }}

),

{% endif -%}
lines as (

    select *
    from {{ ref("int_order_items_enriched") }}
    {%- if is_incremental() %}
    where order_date in (select order_date from touched_dates)
    {%- endif %}

)

select
    product_id,
    order_date,
    count(distinct order_id) as orders,
    count(*) as items,
    cast(sum(quantity) as bigint) as units,
    cast(sum(line_amount) as decimal(18, 2)) as revenue,
    max(_batch_id) as _batch_id
from lines
group by product_id, order_date
{{ touched_key_markers("order_date", "touched_dates") }}
