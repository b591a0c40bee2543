{#-
    CTEs of weekly_trip_counts_bbox_origin / _destination for one end of the trip, ending in
    `<end>_matched` (iso_week_start, trip_count): the trips whose <end> point lies in the box,
    counted exactly without scanning fct_trips. Expects the function's arguments
    (bbox_min_lon .. bbox_max_lat) and the CTEs `box` (bbox_cell_ranges), `period`,
    `fct_trips` and `<end>_counts_l0` .. `<end>_counts_l<finest>` (the weekly aggregates).

    The box is tiled by cells of decreasing size (levels nest exactly, see trip_cell):
    - level 0: cells strictly inside the box's level-0 range (aggregate, one index range);
    - level k >= 1: cells strictly inside the box's level-k range whose level-(k-1) parent is
      on the level-(k-1) edge (a column or row of cells the box's edge cuts): the <= 20 edge
      columns are read by x, the <= 20 edge rows by y (skipping the edge columns, already
      counted); each is one index range of the level-k aggregate;
    - what is left are the trips in the finest cells the edges cut (~10 m wide strips): their
      coordinates are checked row by row through fct_trips' covering level-2 indexes.
    Strictly inside at level k implies inside the box because floor is monotone, so every
    trip is counted once: in the coarsest level where its cell is strictly inside, or in the
    final check.
-#}
{% macro bbox_end_counts(end) -%}
{%- set finest = trip_cell_finest_level() | int -%}
{%- set lon = end ~ '_lon' -%}
{%- set lat = end ~ '_lat' -%}

{{ end }}_level0 as (

    select
        cell_counts.iso_week_start,
        cell_counts.trip_count
    from {{ end }}_counts_l0 as cell_counts
    cross join box
    cross join period
    where
        cell_counts.{{ end }}_cell_x > box.x0_l0
        and cell_counts.{{ end }}_cell_x < box.x1_l0
        and cell_counts.{{ end }}_cell_y > box.y0_l0
        and cell_counts.{{ end }}_cell_y < box.y1_l0
        and cell_counts.iso_week_start between period.first_week and period.last_week

),

{#- the two edge directions: lines of constant x (columns) and of constant y (rows) #}
{%- set axes = [('x', 'y', 'columns'), ('y', 'x', 'rows')] %}
{% for level in range(1, finest + 1) -%}
{%- set parent = level - 1 -%}
{% for axis, other, lines in axes -%}
{{ end }}_level{{ level }}_{{ lines }} as (

    -- level-{{ level }} {{ lines }} inside the box whose level-{{ parent }} parent is an edge one
    select edge.cell
    from box
    cross join lateral (
        select generate_series(
            10 * box.{{ axis }}0_l{{ parent }}, 10 * box.{{ axis }}0_l{{ parent }} + 9
        ) as cell
        union
        select generate_series(
            10 * box.{{ axis }}1_l{{ parent }}, 10 * box.{{ axis }}1_l{{ parent }} + 9
        ) as cell
    ) as edge
    where
        edge.cell > box.{{ axis }}0_l{{ level }}
        and edge.cell < box.{{ axis }}1_l{{ level }}

),

{% endfor -%}
{{ end }}_level{{ level }} as (

    {% for axis, other, lines in axes -%}
    {% if not loop.first %}
    union all
    {% endif -%}
    select
        line_counts.iso_week_start,
        line_counts.trip_count
    from {{ end }}_level{{ level }}_{{ lines }} as edge_lines
    cross join box
    cross join period
    -- one index range per line; the aggregate keeps the planner from turning the lateral
    -- into a join that reads the whole table
    cross join lateral (
        select
            cell_counts.iso_week_start,
            sum(cell_counts.trip_count) as trip_count
        from {{ end }}_counts_l{{ level }} as cell_counts
        where
            cell_counts.{{ end }}_cell_l{{ level }}_{{ axis }} = edge_lines.cell
            and cell_counts.{{ end }}_cell_l{{ level }}_{{ other }} > box.{{ other }}0_l{{ level }}
            and cell_counts.{{ end }}_cell_l{{ level }}_{{ other }} < box.{{ other }}1_l{{ level }}
            {%- if axis == 'y' %}
            -- cells of the edge columns were counted by column above
            and cell_counts.{{ end }}_cell_l{{ level }}_x not between 10 * box.x0_l{{ parent }}
            and 10 * box.x0_l{{ parent }} + 9
            and cell_counts.{{ end }}_cell_l{{ level }}_x not between 10 * box.x1_l{{ parent }}
            and 10 * box.x1_l{{ parent }} + 9
            {%- endif %}
            and cell_counts.iso_week_start between period.first_week and period.last_week
        group by cell_counts.iso_week_start
    ) as line_counts
    {%- endfor %}

),

{% endfor -%}
{{ end }}_edge as (

    -- trips in the finest cells the box's edges cut: check the coordinates
    {% for axis, other, lines in axes -%}
    {% if not loop.first %}
    union all
    {% endif -%}
    select
        line_trips.iso_week_start,
        line_trips.trip_count
    from (
        select distinct
            unnest(array[box.{{ axis }}0_l{{ finest }}, box.{{ axis }}1_l{{ finest }}]) as cell
        from box
    ) as edge_lines
    cross join box
    cross join period
    cross join lateral (
        select
            fct_trips.iso_week_start,
            count(*) as trip_count
        from fct_trips
        where
            fct_trips.{{ end }}_cell_l{{ finest }}_{{ axis }} = edge_lines.cell
            {%- if axis == 'x' %}
            and fct_trips.{{ end }}_cell_l{{ finest }}_y
            between box.y0_l{{ finest }} and box.y1_l{{ finest }}
            {%- else %}
            -- corners were checked with the columns
            and fct_trips.{{ end }}_cell_l{{ finest }}_x > box.x0_l{{ finest }}
            and fct_trips.{{ end }}_cell_l{{ finest }}_x < box.x1_l{{ finest }}
            {%- endif %}
            and fct_trips.{{ lon }} between bbox_min_lon and bbox_max_lon
            and fct_trips.{{ lat }} between bbox_min_lat and bbox_max_lat
            and fct_trips.iso_week_start between period.first_week and period.last_week
        group by fct_trips.iso_week_start
    ) as line_trips
    {%- endfor %}

),

{{ end }}_matched as (

    {% for level in range(0, finest + 1) -%}
    select * from {{ end }}_level{{ level }}
    union all
    {% endfor -%}
    select * from {{ end }}_edge

),
{%- endmacro %}


{#-
    The `box` CTE of the weekly_trip_counts_bbox* functions: the box's cell range at every
    level (x0_l<k>, x1_l<k>, y0_l<k>, y1_l<k>), computed by the same trip_cell macro that
    built the trips' cells, which is what makes "strictly inside" exact.
-#}
{% macro bbox_cell_ranges() -%}
box as (

    -- the box's cell range at every level, through the same macro that built the trips' cells
    select
        {% for level in range(0, trip_cell_finest_level() | int + 1) -%}
        {{ trip_cell('bbox_min_lon', level) }} as x0_l{{ level }},
        {{ trip_cell('bbox_max_lon', level) }} as x1_l{{ level }},
        {{ trip_cell('bbox_min_lat', level) }} as y0_l{{ level }},
        {{ trip_cell('bbox_max_lat', level) }} as y1_l{{ level }}{{ ',' if not loop.last }}
        {% endfor %}
),
{%- endmacro %}


{#-
    The whole body of weekly_trip_counts_bbox_origin / _destination: per-ISO-week counts of
    the trips whose <end> lies in the box, weeks first_week .. last_week with trips only.
-#}
{% macro bbox_end_weekly_counts(end) -%}
with

fct_trips as not materialized (

    select * from {{ ref('fct_trips_gridded') }}

),

{{ end }}_counts_l0 as not materialized (

    select * from {{ ref('agg_weekly_trips_by_' ~ end ~ '_cell') }}

),

{% for level in range(1, trip_cell_finest_level() | int + 1) %}
{{ end }}_counts_l{{ level }} as not materialized (

    select * from {{ ref('agg_weekly_trips_by_' ~ end ~ '_cell_l' ~ level) }}

),

{% endfor %}
period as (

    select
        first_week,
        last_week

),

{{ bbox_cell_ranges() }}

{{ bbox_end_counts(end) }}

final as (

    select
        iso_week_start,
        sum(trip_count)::bigint as trip_count
    from {{ end }}_matched
    group by iso_week_start

)

select * from final
{%- endmacro %}
