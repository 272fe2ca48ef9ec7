{{
    config(
        incremental_strategy="delete+insert",
        unique_key="customer_id",
    )
}}

-- One row per customer, their latest version.

with new_batches as (

    select *
    from {{ source("bronze", "customers") }}
    where _batch_id > {{ batch_watermark() }}

),

latest as (

    select *
    from new_batches
    qualify row_number() over (
        partition by customer_id
        order by _batch_id desc, _generated_at desc, email, name, region, segment, signup_at
    ) = 1

)

select
    customer_id,
    name as customer_name,
    -- A missing email is kept (the customer still buys) but flagged.
    email,
    email is not null as has_email,
    region,
    segment,
    signup_at,
    _batch_id,
    _generated_at
from latest
