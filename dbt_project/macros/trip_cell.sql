{#-
    Grid cell index of one coordinate (longitude or latitude) for a cell size of
    var('trip_cell_size_deg') degrees. floor() so negative coordinates go to the cell below
    (-0.005 -> -1 with 0.01 degree cells), never towards zero.
-#}
{% macro trip_cell(coord_expr) -%}
    {{ return(adapter.dispatch('trip_cell', 'trips_warehouse')(coord_expr)) }}
{%- endmacro %}

{% macro default__trip_cell(coord_expr) -%}
    floor(({{ coord_expr }}) / {{ var('trip_cell_size_deg') }})::integer
{%- endmacro %}
