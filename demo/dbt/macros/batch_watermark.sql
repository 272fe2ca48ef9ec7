{#-
    The highest bronze batch (`_batch_id`) already folded into the current model.

    Every row of every model carries the `_batch_id` of the newest bronze row behind it, and
    every incremental run folds in all upstream rows of later batches, so "the rows of batches
    above the watermark" is exactly "what this model has not seen yet".

    Rendered as a literal rather than a subquery on purpose: a constant filter lets DuckDB
    skip the row groups (and the Iceberg data files) of older batches by their min/max
    statistics, which keeps the cost of a batch independent of the history behind it.
    Returns -1 when the model is built from scratch (first run, --full-refresh).
-#}
{% macro batch_watermark() %}
    {%- if execute and is_incremental() -%}
        {%- set result = run_query("select coalesce(max(_batch_id), -1) from " ~ this) -%}
        {{- return(result.columns[0].values()[0] | int) -}}
    {%- endif -%}
    {{- return(-1) -}}
{% endmacro %}
