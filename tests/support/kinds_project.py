"""A dbt project with every resource type dbt-duckdb builds, written as a dbt user would.

Seeds (one read through a source, in a custom schema), a snapshot, staging views, an ephemeral
model, a table with a unit test and data tests, a python model, an external (parquet)
materialization, and project hooks. Used to check that floe runs it as plain ``dbt build`` does.
"""

from __future__ import annotations

from pathlib import Path

FILES = {
    "dbt_project.yml": """\
name: kinds
version: "1.0.0"
profile: kinds
seeds:
  kinds:
    +schema: raw
on-run-start:
  - "create table if not exists main.run_audit (event varchar)"
on-run-end:
  - "insert into main.run_audit values ('run end')"
models:
  kinds:
    marts:
      +post-hook: "insert into main.run_audit values ('post {{ this.name }}')"
""",
    "seeds/raw_customers.csv": "id,name,updated_at\n1,ann,2024-01-01\n2,bob,2024-01-02\n",
    "seeds/raw_orders.csv": "id,customer_id,amount\n1,1,10\n2,1,20\n3,2,5\n4,2,-1\n",
    "models/staging/_sources.yml": """\
version: 2
sources:
  - name: raw
    schema: main_raw
    tables:
      - name: raw_customers
""",
    "models/staging/stg_customers.sql": "select id as customer_id, name from {{ source('raw', 'raw_customers') }}\n",
    "models/staging/stg_orders.sql": "select id as order_id, customer_id, amount from {{ ref('raw_orders') }}\n",
    "models/staging/eph_orders.sql": (
        "{{ config(materialized='ephemeral') }}\nselect * from {{ ref('stg_orders') }} where amount > 0\n"),
    "models/marts/revenue.sql": """\
{{ config(materialized='table') }}
select c.customer_id, c.name, sum(o.amount) as revenue
from {{ ref('stg_customers') }} c join {{ ref('eph_orders') }} o using (customer_id)
group by 1, 2
""",
    "models/marts/revenue_py.py": """\
def model(dbt, session):
    dbt.config(materialized="table")
    return dbt.ref("revenue").filter("revenue > 6")
""",
    "models/marts/revenue_export.sql": (
        "{{ config(materialized='external', format='parquet') }}\nselect * from {{ ref('revenue') }}\n"),
    "models/marts/_marts.yml": """\
version: 2
models:
  - name: revenue
    columns:
      - name: customer_id
        data_tests: [unique, not_null]
unit_tests:
  - name: revenue_sums_positive_orders
    model: revenue
    given:
      - input: ref('stg_customers')
        rows:
          - {customer_id: 1, name: a}
      - input: ref('eph_orders')
        format: sql
        rows: |
          select 1 as order_id, 1 as customer_id, 3 as amount union all select 2, 1, 4
    expect:
      rows:
        - {customer_id: 1, name: a, revenue: 7}
""",
    "snapshots/customers_snapshot.yml": """\
snapshots:
  - name: customers_snapshot
    relation: ref('raw_customers')
    config:
      unique_key: id
      strategy: timestamp
      updated_at: updated_at
""",
}


def write_kinds_project(folder: Path) -> Path:
    """Write the project into ``folder`` (created) and return it."""
    for relative, text in FILES.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


def write_plain_profile(folder: Path, database: Path) -> Path:
    """A profiles.yml for plain ``dbt build`` of the project into ``database``; returns its folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "profiles.yml").write_text(
        f"kinds:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: {database}\n      threads: 4\n",
        encoding="utf-8")
    return folder
