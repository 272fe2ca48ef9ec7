"""A dbt project written for the selection tests: folders, tags, seeds, a snapshot, generic and
singular tests, several materializations. ``write_selection_project`` puts it where floe's
minimal template keeps its dbt project."""

from __future__ import annotations

import shutil
from pathlib import Path

FILES = {
    "dbt_project.yml": """\
name: shop
version: "0.1.0"
config-version: 2
profile: shop
model-paths: ["models"]
seed-paths: ["seeds"]
snapshot-paths: ["snapshots"]
test-paths: ["tests"]
models:
  shop:
    staging:
      +materialized: view
      +tags: ["staging"]
    intermediate:
      +materialized: table
    marts:
      +materialized: table
      +tags: ["daily"]
seeds:
  shop:
    +tags: ["raw"]
""",
    "seeds/raw_customers.csv": "id,name,country\n1,ann,fr\n2,bob,de\n3,cy,fr\n",
    "seeds/raw_orders.csv": "id,customer_id,amount\n10,1,30\n11,1,12\n12,2,50\n13,3,7\n",
    "seeds/_seeds.yml": """\
version: 2
seeds:
  - name: raw_orders
    columns:
      - name: id
        data_tests: [not_null]
""",
    "models/staging/stg_customers.sql": "select id as customer_id, name, country from {{ ref('raw_customers') }}\n",
    "models/staging/stg_orders.sql": (
        "select id as order_id, customer_id, amount from {{ ref('raw_orders') }}\n"),
    "models/staging/_staging.yml": """\
version: 2
models:
  - name: stg_customers
    columns:
      - name: customer_id
        data_tests: [unique, not_null]
  - name: stg_orders
    columns:
      - name: order_id
        data_tests: [unique]
      - name: customer_id
        data_tests:
          - relationships:
              arguments:
                to: ref('stg_customers')
                field: customer_id
""",
    "models/intermediate/int_customer_orders.sql": """\
{{ config(tags=["finance"]) }}
select c.customer_id, c.country, o.order_id, o.amount
from {{ ref('stg_customers') }} c join {{ ref('stg_orders') }} o using (customer_id)
""",
    "models/marts/customer_revenue.sql": """\
select customer_id, sum(amount) as revenue from {{ ref('int_customer_orders') }} group by 1
""",
    "models/marts/country_revenue.sql": """\
{{ config(materialized="incremental", unique_key="country", tags=["finance"]) }}
select country, sum(amount) as revenue from {{ ref('int_customer_orders') }} group by 1
""",
    "models/marts/_marts.yml": """\
version: 2
models:
  - name: customer_revenue
    columns:
      - name: customer_id
        data_tests: [not_null]
""",
    "snapshots/customers_snapshot.sql": """\
{% snapshot customers_snapshot %}
{{ config(unique_key="customer_id", strategy="check", check_cols="all") }}
select * from {{ ref('stg_customers') }}
{% endsnapshot %}
""",
    "tests/assert_revenue_positive.sql": "select * from {{ ref('customer_revenue') }} where revenue <= 0\n",
}


def write_selection_project(dbt_dir: Path) -> Path:
    """Replace ``dbt_dir`` by the selection project; returns it."""
    shutil.rmtree(dbt_dir, ignore_errors=True)
    for name, text in FILES.items():
        path = dbt_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return dbt_dir
