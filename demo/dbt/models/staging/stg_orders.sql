{{
    config(
        incremental_strategy="delete+insert",
        unique_key="order_id",
    )
}}

-- One row per attributable order. Reads only the bronze batches this model has not seen; an
-- order delivered again in a later batch replaces the earlier version (delete+insert on
-- order_id), so the table holds each order's latest version.

with new_batches as (

    select *
    from {{ source("bronze", "orders") }}
    where _batch_id > {{ batch_watermark() }}

),

attributable as (

    -- An order without a customer cannot be attributed to anyone: it is dropped here, before
    -- deduplication, so it never replaces an attributable version of the same order.
    select *
    from new_batches
    where customer_id is not null

),

latest as (

    -- Exact duplicates within a batch collapse to one row; across batches the latest wins.
    -- The trailing sort keys only make the choice deterministic between rows that differ.
    select *
    from attributable
    qualify row_number() over (
        partition by order_id
        order by _batch_id desc, _generated_at desc, ordered_at desc, status, channel, region, customer_id
    ) = 1

)

select
    order_id,
    customer_id,
    status,
    coalesce(region, 'unknown') as region,
    channel,
    ordered_at,
    -- Late arrivals keep their true time, so they land on the day they were placed.
    cast(timezone('UTC', ordered_at) as date) as order_date,
    _batch_id,
    _generated_at
from latest
