{#-
    CTEs of weekly_trip_counts_bbox_origin / _destination for one end of the trip, ending in
    `<end>_matched` (iso_week_start, trip_count): the trips whose <end> point lies in the box,
    counted exactly without scanning fct_trips. Expects the function's arguments
    (bbox_min_lon .. bbox_max_lat) and the CTEs `box` (bbox_cell_ranges), `period`,
    `fct_trips` and `<end>_counts_l0` / `<end>_counts_l1` (the weekly
    aggregates per level-0 and level-1 cell).

    The box is tiled in three disjoint parts (levels nest exactly, see trip_cell):
    - level 0: cells strictly inside the box's level-0 range (one aggregate index range);
    - level 1: cells strictly inside the box's level-1 range whose level-0 parent is on the
      level-0 edge: the <= 20 edge columns are read by x, the <= 20 edge rows by y (skipping
      the edge columns, already counted), one aggregate index range each;
    - the edge band: the trips in the level-1 cells the box's edges cut (~100 m wide), whose
      coordinates are checked one by one in fct_trips' covering <end> level-1 index: edge
      columns are one index range each; edge rows one probe per populated cell (listed by
      the level-1 aggregate), since the index is ordered by x.
    Strictly inside at a level implies inside the box because floor is monotone, so every
    trip is counted once.
-#}
{% macro bbox_end_counts(end) -%}
    {{ return(adapter.dispatch('bbox_end_counts', 'trips_warehouse')(end)) }}
{%- endmacro %}

{#- Postgres: generate_series, lateral joins, unnest(array[...]), `::` casts, date_trunc. -#}
{% macro postgres__bbox_end_counts(end) -%}

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

{{ end }}_edge_columns_l0 as (

    -- the level-1 columns of the two level-0 edge columns
    select generate_series(10 * box.x0_l0, 10 * box.x0_l0 + 9) as cell_x
    from box
    union
    select generate_series(10 * box.x1_l0, 10 * box.x1_l0 + 9) as cell_x
    from box

),

{{ end }}_edge_rows_l0 as (

    select generate_series(10 * box.y0_l0, 10 * box.y0_l0 + 9) as cell_y
    from box
    union
    select generate_series(10 * box.y1_l0, 10 * box.y1_l0 + 9) as cell_y
    from box

),

{{ end }}_level1 as (

    -- level-1 columns inside the box whose level-0 parent is an edge column
    select
        line_counts.iso_week_start,
        line_counts.trip_count
    from {{ end }}_edge_columns_l0 as edge_columns
    cross join box
    cross join period
    -- one index range per line; the aggregate keeps the planner from turning the lateral
    -- into a join that reads the whole table
    cross join
        lateral (
            select
                cell_counts.iso_week_start,
                sum(cell_counts.trip_count) as trip_count
            from {{ end }}_counts_l1 as cell_counts
            where
                cell_counts.{{ end }}_cell_l1_x = edge_columns.cell_x
                and cell_counts.{{ end }}_cell_l1_y > box.y0_l1
                and cell_counts.{{ end }}_cell_l1_y < box.y1_l1
                and cell_counts.iso_week_start between period.first_week and period.last_week
            group by cell_counts.iso_week_start
        ) as line_counts
    where edge_columns.cell_x > box.x0_l1 and edge_columns.cell_x < box.x1_l1

    union all

    -- level-1 rows inside the box whose level-0 parent is an edge row, minus the edge columns
    select
        line_counts.iso_week_start,
        line_counts.trip_count
    from {{ end }}_edge_rows_l0 as edge_rows
    cross join box
    cross join period
    cross join
        lateral (
            select
                cell_counts.iso_week_start,
                sum(cell_counts.trip_count) as trip_count
            from {{ end }}_counts_l1 as cell_counts
            where
                cell_counts.{{ end }}_cell_l1_y = edge_rows.cell_y
                and cell_counts.{{ end }}_cell_l1_x > box.x0_l1
                and cell_counts.{{ end }}_cell_l1_x < box.x1_l1
                -- cells of the edge columns were counted by column above
                and cell_counts.{{ end }}_cell_l1_x not between 10 * box.x0_l0 and 10 * box.x0_l0 + 9
                and cell_counts.{{ end }}_cell_l1_x not between 10 * box.x1_l0 and 10 * box.x1_l0 + 9
                and cell_counts.iso_week_start between period.first_week and period.last_week
            group by cell_counts.iso_week_start
        ) as line_counts
    where edge_rows.cell_y > box.y0_l1 and edge_rows.cell_y < box.y1_l1

),

{{ end }}_edge_cells as (

    -- the level-1 cells the box's edges cut: whole edge columns, and the populated cells of
    -- the edge rows between them
    select distinct
        unnest(array[box.x0_l1, box.x1_l1]) as cell_x,
        null::integer as cell_y
    from box

    union all

    select distinct
        cell_counts.{{ end }}_cell_l1_x as cell_x,
        cell_counts.{{ end }}_cell_l1_y as cell_y
    from {{ end }}_counts_l1 as cell_counts
    cross join box
    where
        cell_counts.{{ end }}_cell_l1_y in (box.y0_l1, box.y1_l1)
        and cell_counts.{{ end }}_cell_l1_x > box.x0_l1
        and cell_counts.{{ end }}_cell_l1_x < box.x1_l1

),

{{ end }}_edge as (

    -- the trips of the edge cells: their coordinates are checked. fct_trips itself, not
    -- fct_trips_gridded, and the cells as the index's trip_cell() expressions: an index-only
    -- scan needs every column the query touches to be in the index (the view's joins to the
    -- dimensions, even when removed, keep Postgres 15 from one)
    select
        cell_trips.iso_week_start,
        cell_trips.trip_count
    from {{ end }}_edge_cells as edge_cells
    cross join box
    cross join period
    cross join
        lateral (
            select
                date_trunc('week', fct_trips.trip_at)::date as iso_week_start,
                count(*) as trip_count
            from fct_trips
            where
                {{ trip_cell('fct_trips.' ~ end ~ '_lon', 1) }}
                = edge_cells.cell_x
                and {{ trip_cell('fct_trips.' ~ end ~ '_lat', 1) }}
                between coalesce(edge_cells.cell_y, box.y0_l1) and coalesce(edge_cells.cell_y, box.y1_l1)
                and fct_trips.{{ end }}_lon between bbox_min_lon and bbox_max_lon
                and fct_trips.{{ end }}_lat between bbox_min_lat and bbox_max_lat
                and fct_trips.trip_at >= period.first_week
                and fct_trips.trip_at < period.last_week + 7
            group by iso_week_start
        ) as cell_trips

),

{{ end }}_matched as (

    select * from {{ end }}_level0
    union all
    select * from {{ end }}_level1
    union all
    select * from {{ end }}_edge

),
{%- endmacro %}


{#-
    The `box` CTE of the weekly_trip_counts_bbox* functions: the box's cell range at levels
    0 and 1 (x0_l0 .. y1_l1), computed by the same trip_cell macro as the trips' cells,
    which is what makes "strictly inside" exact.
-#}
{% macro bbox_cell_ranges() -%}
box as (

    select
        {{ trip_cell('bbox_min_lon') }} as x0_l0,
        {{ trip_cell('bbox_max_lon') }} as x1_l0,
        {{ trip_cell('bbox_min_lat') }} as y0_l0,
        {{ trip_cell('bbox_max_lat') }} as y1_l0,
        {{ trip_cell('bbox_min_lon', 1) }} as x0_l1,
        {{ trip_cell('bbox_max_lon', 1) }} as x1_l1,
        {{ trip_cell('bbox_min_lat', 1) }} as y0_l1,
        {{ trip_cell('bbox_max_lat', 1) }} as y1_l1

),
{%- endmacro %}


{#-
    The whole body of weekly_trip_counts_bbox_origin / _destination: per-ISO-week counts of
    the trips whose <end> lies in the box, weeks first_week .. last_week with trips only.
-#}
{% macro bbox_end_weekly_counts(end) -%}
    {{ return(adapter.dispatch('bbox_end_weekly_counts', 'trips_warehouse')(end)) }}
{%- endmacro %}

{#- Postgres 12+: `as not materialized` CTEs, so the filters reach the indexes underneath. -#}
{% macro postgres__bbox_end_weekly_counts(end) -%}
with

fct_trips as not materialized (

    select * from {{ ref('fct_trips') }}

),

{{ end }}_counts_l0 as not materialized (

    select * from {{ ref('agg_weekly_trips_by_' ~ end ~ '_cell') }}

),

{{ end }}_counts_l1 as not materialized (

    select * from {{ ref('agg_weekly_trips_by_' ~ end ~ '_cell_l1') }}

),

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
