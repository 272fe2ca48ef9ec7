{{ config(tags=["audit"]) }}

-- The incremental customer and product marts equal their aggregations over all order lines
-- and orders: proves that recomputing only the touched customers and categories is enough.

with

customers_rebuilt as (

    select
        customers.customer_id,
        count(orders.order_id) as order_count,
        coalesce(sum(orders.revenue), 0) as revenue
    from {{ ref("stg_customers") }} as customers
    left join {{ ref("int_orders") }} as orders
        on orders.customer_id = customers.customer_id
    group by customers.customer_id

),

customers_incremental as (

    select customer_id, order_count, revenue
    from {{ ref("mart_customer_segments") }}

),

products_rebuilt as (

    select
        products.product_id,
        count(distinct lines.order_id) as orders,
        coalesce(sum(lines.quantity), 0) as units,
        coalesce(sum(lines.line_amount), 0) as revenue
    from {{ ref("stg_products") }} as products
    left join {{ ref("int_order_items_enriched") }} as lines
        on lines.product_id = products.product_id
    group by products.product_id

),

products_incremental as (

    select product_id, orders, units, revenue
    from {{ ref("mart_product_analytics") }}

)

select 'customer' as entity, customer_id as id, 'differs in mart_customer_segments' as problem
from (select * from customers_rebuilt except select * from customers_incremental)

union all

select 'customer', customer_id, 'extra in mart_customer_segments'
from (select * from customers_incremental except select * from customers_rebuilt)

union all

select 'product', product_id, 'differs in mart_product_analytics'
from (select * from products_rebuilt except select * from products_incremental)

union all

select 'product', product_id, 'extra in mart_product_analytics'
from (select * from products_incremental except select * from products_rebuilt)
