{{
    config(
        incremental_strategy="delete+insert",
        unique_key="product_id",
    )
}}

-- One row per product, its latest version.

with new_batches as (

    select *
    from {{ source("bronze", "products") }}
    where _batch_id > {{ batch_watermark() }}

),

latest as (

    select *
    from new_batches
    qualify row_number() over (
        partition by product_id
        order by _batch_id desc, _generated_at desc, name, category, price
    ) = 1

)

select
    product_id,
    name as product_name,
    coalesce(category, 'uncategorised') as category,
    price,
    _batch_id,
    _generated_at
from latest
