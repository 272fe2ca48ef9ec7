{{ config(tags=["audit"]) }}

-- stg_orders holds each order with a customer exactly once, and nothing else: the distinct
-- order ids of bronze rows with a customer, no more (nothing invented, no null-customer order
-- slipped through) and no fewer (deduplication dropped no order). Scans all of bronze: tagged
-- 'audit', to leave out of frequent runs on large histories (--exclude tag:audit).

with

expected as (

    select distinct order_id
    from {{ source("bronze", "orders") }}
    where customer_id is not null

),

staged as (

    select order_id
    from {{ ref("stg_orders") }}

)

select order_id, 'missing from stg_orders' as problem
from (select order_id from expected except select order_id from staged)

union all

select order_id, 'not an attributable bronze order'
from (select order_id from staged except select order_id from expected)
