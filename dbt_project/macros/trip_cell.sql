{#-
    Grid cell index of one coordinate (longitude or latitude) at a refinement level.

    Level 0 cells are var('trip_cell_size_deg') degrees wide (0.01, about 1 km); each finer
    level divides a cell 10 x 10 (level 1 about 100 m, level 2 about 10 m), down to
    trip_cell_finest_level(). Every level is derived from the finest one by integer floor
    division, so a level-k cell always lies inside exactly one level-(k-1) cell, whatever the
    floating-point rounding of the coordinate: the exact box counts of
    weekly_trip_counts_bbox rely on that nesting (and on floor() being monotone, which is why
    the box edges go through this same macro).

    floor() so negative coordinates go to the cell below (-0.005 -> -1 with 0.01 degree
    cells), never towards zero.
-#}
{% macro trip_cell(coord_expr, level=0) -%}
    {{ return(adapter.dispatch('trip_cell', 'trips_warehouse')(coord_expr, level)) }}
{%- endmacro %}

{#- Postgres: `::` casts; floor() of a double precision quotient. -#}
{% macro postgres__trip_cell(coord_expr, level=0) -%}
    {%- set finest = trip_cell_finest_level() -%}
    {%- set finest_size = var('trip_cell_size_deg') / (10 ** finest) -%}
    {%- set finest_cell -%}
        floor(({{ coord_expr }}) / {{ finest_size }}::double precision)
    {%- endset -%}
    {%- if level == finest -%}
    {{ finest_cell }}::integer
    {%- else -%}
    floor({{ finest_cell }} / {{ 10 ** (finest - level) }})::integer
    {%- endif -%}
{%- endmacro %}

{#- The finest refinement level (level 2: cells of trip_cell_size_deg / 100 degrees). -#}
{% macro trip_cell_finest_level() -%}
    {{ return(2) }}
{%- endmacro %}
