{#-
    Incremental strategy `replace_keys`: delete+insert that can also empty a key.

    Aggregates recompute every key an incremental run touched (an order date, a category)
    from scratch. dbt's delete+insert deletes only the keys present among the new rows, so a
    key whose group became empty (the one order of a day re-delivered with another date) would
    keep its stale row. A model using this strategy therefore adds, in incremental runs, one
    marker row per touched key (see `touched_key_markers`): every target row of a key found in
    the new rows is deleted, and only the real rows are inserted. The marker column never
    reaches the target table, whose columns come from the first (non-incremental) build.

    Config: incremental_strategy='replace_keys', unique_key='<one column>'.
-#}
{% macro get_incremental_replace_keys_sql(arg_dict) %}
    {%- set target = arg_dict["target_relation"] -%}
    {%- set source = arg_dict["temp_relation"] -%}
    {%- set key = arg_dict["unique_key"] -%}
    {%- if key is not string or not key -%}
        {{ exceptions.raise_compiler_error("incremental_strategy 'replace_keys' needs unique_key set to one column name") }}
    {%- endif -%}
    {%- set columns = get_quoted_csv(arg_dict["dest_columns"] | map(attribute="name")) -%}

    delete from {{ target }}
    where {{ key }} in (select {{ key }} from {{ source }});

    insert into {{ target }} ({{ columns }})
    select {{ columns }}
    from {{ source }}
    where _is_marker is null
{% endmacro %}


{#-
    In an incremental run, one marker row per key of `touched` (a CTE or relation with the key
    column): `union all by name` fills the model's other columns with nulls. Renders nothing
    when the model is built from scratch, so the table never gets the marker column.
-#}
{% macro touched_key_markers(key, touched) %}
    {%- if is_incremental() %}
union all by name
select
    {{ key }},
    true as _is_marker
from {{ touched }}
    {%- endif %}
{% endmacro %}
