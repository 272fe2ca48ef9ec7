-- Revenue per customer from completed orders; customers without orders stay at zero.
select
    c.customer_id,
    c.customer_name,
    c.country,
    count(o.order_id) as completed_orders,
    coalesce(sum(o.amount), 0) as revenue
from {{ ref('stg_customers') }} as c
left join {{ ref('stg_orders') }} as o
    on o.customer_id = c.customer_id
    and o.status = 'completed'
group by 1, 2, 3
