{{
    config(
        incremental_strategy="delete+insert",
        unique_key="customer_id",
    )
}}

-- One row per customer: who they are (segment, region), what they bought, and a value tier
-- from how often (frequency) and how much (monetary) they ordered. Recency is left out on
-- purpose: it changes every day for every customer, so it would force a full rebuild per
-- batch; compute it at query time from last_ordered_at. Thresholds are project vars.
--
-- An incremental run recomputes the customers new batches touch, found as in
-- int_customer_orders (not from its new rows: a customer who only lost an order, moved to
-- another customer, is recomputed there without any newer row behind it).
-- depends_on: {{ ref("int_orders") }}

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
facts as (

    select *
    from {{ ref("int_customer_orders") }}
    {%- if is_incremental() %}
    where customer_id in (select customer_id from touched_customers)
    {%- endif %}

),

scored as (

    select
        facts.*,
        case
            when order_count >= {{ var("value_tier_orders_high") }} then 3
            when order_count >= {{ var("value_tier_orders_medium") }} then 2
            when order_count >= 1 then 1
            else 0
        end as frequency_score,
        case
            when order_count = 0 then 0
            when revenue >= {{ var("value_tier_revenue_high") }} then 3
            when revenue >= {{ var("value_tier_revenue_medium") }} then 2
            else 1
        end as monetary_score
    from facts

)

select
    customers.customer_id,
    customers.customer_name,
    customers.segment,
    customers.region,
    customers.has_email,
    customers.signup_at,
    scored.order_count,
    scored.revenue,
    cast(round(scored.revenue / nullif(scored.order_count, 0), 2) as decimal(18, 2)) as average_order_value,
    scored.first_ordered_at,
    scored.last_ordered_at,
    scored.frequency_score,
    scored.monetary_score,
    case
        when scored.order_count = 0 then 'none'
        when scored.frequency_score + scored.monetary_score >= 5 then 'high'
        when scored.frequency_score + scored.monetary_score >= 3 then 'medium'
        else 'low'
    end as value_tier,
    scored._batch_id
from scored
inner join {{ ref("stg_customers") }} as customers
    on customers.customer_id = scored.customer_id
