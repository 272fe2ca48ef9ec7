{{
    config(
        incremental_strategy="delete+insert",
        unique_key="order_item_id",
    )
}}

-- One row per order line, its latest version. Lines are kept whatever their order: the
-- intermediate models join them to the attributable orders.

with new_batches as (

    select *
    from {{ source("bronze", "order_items") }}
    where _batch_id > {{ batch_watermark() }}

),

latest as (

    select *
    from new_batches
    qualify row_number() over (
        partition by order_item_id
        order by _batch_id desc, _generated_at desc, order_id, product_id, quantity, unit_price, discount
    ) = 1

)

select
    order_item_id,
    order_id,
    product_id,
    quantity,
    unit_price,
    discount,
    -- The discount is absolute for the whole line, not per unit.
    cast(quantity * unit_price - discount as decimal(18, 2)) as line_amount,
    _batch_id,
    _generated_at
from latest
