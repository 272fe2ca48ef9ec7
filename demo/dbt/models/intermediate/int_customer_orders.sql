{{
    config(
        incremental_strategy="delete+insert",
        unique_key="customer_id",
    )
}}

-- One row per known customer with their order facts: count, revenue, first and last order
-- (zero and null before the first order). An incremental run recomputes the customers
-- touched by new batches: new or changed customers, and every customer a new or changed
-- order is or was filed under.

{%- set watermark = batch_watermark() %}

with

{% if is_incremental() -%}
touched_customers as (

    select customer_id from {{ ref("stg_customers") }} where _batch_id > {{ watermark }}
    union
    select customer_id from {{ ref("int_orders") }} where _batch_id > {{ watermark }}
    union
    select unnest(_earlier_customer_ids) from {{ ref("int_orders") }} where _batch_id > {{ watermark }}

),

{% endif -%}
customers as (

    select
        customer_id,
        _batch_id
    from {{ ref("stg_customers") }}
    {%- if is_incremental() %}
    where customer_id in (select customer_id from touched_customers)
    {%- endif %}

),

order_facts as (

    select
        customer_id,
        count(*) as order_count,
        cast(sum(revenue) as decimal(18, 2)) as revenue,
        min(ordered_at) as first_ordered_at,
        max(ordered_at) as last_ordered_at,
        max(_batch_id) as _batch_id
    from {{ ref("int_orders") }}
    where customer_id in (select customer_id from customers)
    group by customer_id

)

select
    customers.customer_id,
    coalesce(order_facts.order_count, 0) as order_count,
    coalesce(order_facts.revenue, 0) as revenue,
    order_facts.first_ordered_at,
    order_facts.last_ordered_at,
    greatest(customers._batch_id, order_facts._batch_id) as _batch_id
from customers
left join order_facts
    on order_facts.customer_id = customers.customer_id
