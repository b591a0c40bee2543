{#-
    The fold step of every incremental mart that aggregates trips (the weekly aggregates,
    trip_groups, dim_regions, dim_datasources): the rows of `new_rows` (a CTE aggregated from
    the newly loaded trips only) combined with the rows already in {{ this }} that have the
    same `match_on` columns, one output row per new row. How each measure folds:
    - 'sum': counts add (a row seen for the first time adds 0);
    - 'min' / 'max': least / greatest, which ignore the null of a row seen for the first time;
    - 'union': the sorted distinct union of two arrays.
    `carry` columns come from the new row as they are; `existing` maps an output column to the
    {{ this }} column it copies (null, of the given type, for a row seen for the first time).
    A full build has nothing to fold into: the new rows are the result.
-#}
{% macro fold_into_existing(new_rows, match_on, carry, folds, existing={}) -%}
    {%- set columns = [] -%}
    {%- for alias, source in existing.items() -%}
        {%- if is_incremental() -%}
            {%- do columns.append('folded.' ~ source[0] ~ ' as ' ~ alias) -%}
        {%- else -%}
            {%- do columns.append('null::' ~ source[1] ~ ' as ' ~ alias) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for column in carry -%}
        {%- do columns.append(new_rows ~ '.' ~ column) -%}
    {%- endfor -%}
    {%- for column, how in folds -%}
        {%- if is_incremental() -%}
            {%- do columns.append(
                folded_measure(how, new_rows ~ '.' ~ column, 'folded.' ~ column) ~ ' as ' ~ column
            ) -%}
        {%- else -%}
            {%- do columns.append(new_rows ~ '.' ~ column) -%}
        {%- endif -%}
    {%- endfor -%}
    select
        {{ columns | join(',\n        ') }}
    from {{ new_rows }}
    {%- if is_incremental() %}
    left join {{ this }} as folded
        on
            {%- for column in match_on %}
            {% if not loop.first %}and {% endif %}{{ new_rows }}.{{ column }} = folded.{{ column }}
            {%- endfor %}
    {%- endif %}
{%- endmacro %}


{#- One measure of fold_into_existing: `new` folded with `old` (null when there is no old row). -#}
{% macro folded_measure(how, new, old) -%}
    {{ return(adapter.dispatch('folded_measure', 'trips_warehouse')(how, new, old)) }}
{%- endmacro %}

{#- Postgres: the array union (`||`, unnest, array(subquery)). -#}
{% macro postgres__folded_measure(how, new, old) -%}
    {%- if how == 'sum' -%}
        {{ new }} + coalesce({{ old }}, 0)
    {%- elif how == 'min' -%}
        least({{ new }}, {{ old }})
    {%- elif how == 'max' -%}
        greatest({{ new }}, {{ old }})
    {%- elif how == 'union' -%}
        array(
                select distinct element
                from unnest({{ new }} || coalesce({{ old }}, {{ new }})) as element
                order by element
            )
    {%- else -%}
        {{ exceptions.raise_compiler_error("fold_into_existing: unknown fold '" ~ how ~ "'") }}
    {%- endif -%}
{%- endmacro %}
