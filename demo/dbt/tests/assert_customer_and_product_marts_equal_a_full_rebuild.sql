{{ config(tags=["audit"]) }}

-- The incremental customer and product marts equal their aggregations over all order lines
-- and orders: proves that recomputing only the touched customers and categories is enough.
--
-- The rebuild aggregates the orders and lines by their own key first and joins the (small)
-- customer and product tables afterwards, instead of joining first and grouping the joined
-- rows; each side is then compared once, column by column, with a full outer join (a
-- customer or product on one side only is reported as missing or extra).

with

order_facts as (

    select
        customer_id,
        count(*) as order_count,
        sum(revenue) as revenue
    from {{ ref("int_orders") }}
    group by customer_id

),

customers_rebuilt as (

    select
        customers.customer_id,
        coalesce(order_facts.order_count, 0) as order_count,
        coalesce(order_facts.revenue, 0) as revenue
    from {{ ref("stg_customers") }} as customers
    left join order_facts
        on order_facts.customer_id = customers.customer_id

),

line_facts as (

    select
        product_id,
        count(distinct order_id) as orders,
        sum(quantity) as units,
        sum(line_amount) as revenue
    from {{ ref("int_order_items_enriched") }}
    group by product_id

),

products_rebuilt as (

    select
        products.product_id,
        coalesce(line_facts.orders, 0) as orders,
        coalesce(line_facts.units, 0) as units,
        coalesce(line_facts.revenue, 0) as revenue
    from {{ ref("stg_products") }} as products
    left join line_facts
        on line_facts.product_id = products.product_id

)

select
    'customer' as entity,
    coalesce(rebuilt.customer_id, mart.customer_id) as id,
    case
        when mart.customer_id is null then 'missing from mart_customer_segments'
        when rebuilt.customer_id is null then 'extra in mart_customer_segments'
        else 'differs in mart_customer_segments'
    end as problem
from customers_rebuilt as rebuilt
full outer join {{ ref("mart_customer_segments") }} as mart
    on mart.customer_id = rebuilt.customer_id
where mart.customer_id is null
    or rebuilt.customer_id is null
    or mart.order_count is distinct from rebuilt.order_count
    or mart.revenue is distinct from rebuilt.revenue

union all

select
    'product',
    coalesce(rebuilt.product_id, mart.product_id),
    case
        when mart.product_id is null then 'missing from mart_product_analytics'
        when rebuilt.product_id is null then 'extra in mart_product_analytics'
        else 'differs in mart_product_analytics'
    end
from products_rebuilt as rebuilt
full outer join {{ ref("mart_product_analytics") }} as mart
    on mart.product_id = rebuilt.product_id
where mart.product_id is null
    or rebuilt.product_id is null
    or mart.orders is distinct from rebuilt.orders
    or mart.units is distinct from rebuilt.units
    or mart.revenue is distinct from rebuilt.revenue
