{{
    config(
        incremental_strategy="replace_keys",
        unique_key="category",
        on_schema_change="ignore",
    )
}}

-- One row per product of the catalogue: orders, units and revenue to date, its revenue rank
-- within its category and its share of the category's revenue. A rank depends on every
-- product of the category, so an incremental run recomputes whole categories: those of the
-- products touched by new batches (new or changed lines and catalogue entries), under the
-- category they have now and the one they had before (read from this table). The input is
-- the per-day table int_product_performance: one row per product and day, not per line.

-- Read only in incremental runs (to find touched products); declared so the DAG knows it:
-- depends_on: {{ ref("int_order_items_enriched") }}

{%- set watermark = batch_watermark() %}

with

{% if is_incremental() -%}
touched_products as (

    select product_id from {{ ref("int_order_items_enriched") }} where _batch_id > {{ watermark }}
    union
    select unnest(_earlier_product_ids) from {{ ref("int_order_items_enriched") }} where _batch_id > {{ watermark }}
    union
    select product_id from {{ ref("stg_products") }} where _batch_id > {{ watermark }}

),

touched_categories as (

    select category from {{ ref("stg_products") }} where product_id in (select product_id from touched_products)
    union
    select category from {{ this }} where product_id in (select product_id from touched_products)

),

{% endif -%}
products as (

    select *
    from {{ ref("stg_products") }}
    {%- if is_incremental() %}
    where category in (select category from touched_categories)
    {%- endif %}

),

totals as (

    select
        product_id,
        cast(sum(orders) as bigint) as orders,
        cast(sum(units) as bigint) as units,
        cast(sum(revenue) as decimal(18, 2)) as revenue,
        min(order_date) as first_ordered_date,
        max(order_date) as last_ordered_date,
        max(_batch_id) as _batch_id
    from {{ ref("int_product_performance") }}
    where product_id in (select product_id from products)
    group by product_id

),

combined as (

    select
        products.product_id,
        products.product_name,
        products.category,
        products.price,
        coalesce(totals.orders, 0) as orders,
        coalesce(totals.units, 0) as units,
        coalesce(totals.revenue, 0) as revenue,
        totals.first_ordered_date,
        totals.last_ordered_date,
        greatest(products._batch_id, totals._batch_id) as _batch_id
    from products
    left join totals
        on totals.product_id = products.product_id

)

select
    product_id,
    product_name,
    category,
    price,
    orders,
    units,
    revenue,
    first_ordered_date,
    last_ordered_date,
    -- Ties (unsold products, say) are broken by product id, so a rank is never shared.
    row_number() over (partition by category order by revenue desc, product_id) as revenue_rank_in_category,
    cast(round(revenue / nullif(sum(revenue) over (partition by category), 0), 4) as decimal(9, 4))
        as category_revenue_share,
    _batch_id
from combined
{{ touched_key_markers("category", "touched_categories") }}
