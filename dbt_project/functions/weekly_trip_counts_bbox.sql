{#-
    Per-ISO-week trip counts for a closed bounding box, every week of the period included
    (zero when no trip). Exact, without scanning fct_trips: for origin and destination the box
    is tiled by the weekly aggregates of level-0 cells inside it and of finer cells along its
    edges, and only the trips of the ~10 m cells the edges cut are checked coordinate by
    coordinate (macro bbox_end_counts). For 'both', cells whose origin and destination cells
    are both inside come from the (origin cell, destination cell) aggregate and the trips with
    an end in a boundary cell are checked through fct_trips' covering cell indexes.
-#}

with

fct_trips as not materialized (

    select * from {{ ref('fct_trips') }}

),

origin_counts_l0 as not materialized (

    select * from {{ ref('agg_weekly_trips_by_origin_cell') }}

),

{% for level in range(1, trip_cell_finest_level() | int + 1) %}
origin_counts_l{{ level }} as not materialized (

    select * from {{ ref('agg_weekly_trips_by_origin_cell_l' ~ level) }}

),

{% endfor %}
destination_counts_l0 as not materialized (

    select * from {{ ref('agg_weekly_trips_by_destination_cell') }}

),

{% for level in range(1, trip_cell_finest_level() | int + 1) %}
destination_counts_l{{ level }} as not materialized (

    select * from {{ ref('agg_weekly_trips_by_destination_cell_l' ~ level) }}

),

{% endfor %}
od_counts as not materialized (

    select * from {{ ref('agg_weekly_trips_by_od_cell') }}

),

region_counts as not materialized (

    select * from {{ ref('agg_weekly_trips_by_region') }}

),

period as (

    -- whole ISO weeks: the week containing from_date through the week containing to_date;
    -- a missing bound defaults to the first/last week of the whole warehouse
    select
        date_trunc(
            'week', coalesce(from_date, (select min(iso_week_start) from region_counts))
        )::date as first_week,
        date_trunc(
            'week', coalesce(to_date, (select max(iso_week_start) from region_counts))
        )::date as last_week

),

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

boundary_cells as (

    select
        cell_x,
        box.y0_l0 as cell_y
    from box
    cross join generate_series(box.x0_l0, box.x1_l0) as cell_x
    union
    select
        cell_x,
        box.y1_l0 as cell_y
    from box
    cross join generate_series(box.x0_l0, box.x1_l0) as cell_x
    union
    select
        box.x0_l0 as cell_x,
        cell_y
    from box
    cross join generate_series(box.y0_l0, box.y1_l0) as cell_y
    union
    select
        box.x1_l0 as cell_x,
        cell_y
    from box
    cross join generate_series(box.y0_l0, box.y1_l0) as cell_y

),

{{ bbox_end_counts('origin') }}

{{ bbox_end_counts('destination') }}

both_interior as (

    -- origin and destination both in cells strictly inside the box
    select
        od_counts.iso_week_start,
        od_counts.trip_count
    from od_counts
    cross join box
    cross join period
    where
        match_on = 'both'
        and od_counts.origin_cell_x > box.x0_l0
        and od_counts.origin_cell_x < box.x1_l0
        and od_counts.origin_cell_y > box.y0_l0
        and od_counts.origin_cell_y < box.y1_l0
        and od_counts.destination_cell_x > box.x0_l0
        and od_counts.destination_cell_x < box.x1_l0
        and od_counts.destination_cell_y > box.y0_l0
        and od_counts.destination_cell_y < box.y1_l0
        and od_counts.iso_week_start between period.first_week and period.last_week

),

both_origin_boundary as (

    -- origin in a boundary cell (destination anywhere in the box)
    select
        cell_trips.iso_week_start,
        cell_trips.trip_count
    from boundary_cells
    cross join period
    -- one index probe per boundary cell: the aggregate keeps the planner from flattening
    -- this into a join that scans fct_trips
    cross join lateral (
        select
            fct_trips.iso_week_start,
            count(*) as trip_count
        from fct_trips
        where
            fct_trips.origin_cell_x = boundary_cells.cell_x
            and fct_trips.origin_cell_y = boundary_cells.cell_y
            and fct_trips.origin_lon between bbox_min_lon and bbox_max_lon
            and fct_trips.origin_lat between bbox_min_lat and bbox_max_lat
            and fct_trips.destination_lon between bbox_min_lon and bbox_max_lon
            and fct_trips.destination_lat between bbox_min_lat and bbox_max_lat
            and fct_trips.iso_week_start between period.first_week and period.last_week
        group by fct_trips.iso_week_start
    ) as cell_trips
    where match_on = 'both'

),

both_destination_boundary as (

    -- origin strictly inside (so exactly inside), destination in a boundary cell
    select
        cell_trips.iso_week_start,
        cell_trips.trip_count
    from boundary_cells
    cross join period
    cross join box
    -- one index probe per boundary cell: the aggregate keeps the planner from flattening
    -- this into a join that scans fct_trips
    cross join lateral (
        select
            fct_trips.iso_week_start,
            count(*) as trip_count
        from fct_trips
        where
            fct_trips.destination_cell_x = boundary_cells.cell_x
            and fct_trips.destination_cell_y = boundary_cells.cell_y
            and fct_trips.origin_cell_x > box.x0_l0
            and fct_trips.origin_cell_x < box.x1_l0
            and fct_trips.origin_cell_y > box.y0_l0
            and fct_trips.origin_cell_y < box.y1_l0
            and fct_trips.destination_lon between bbox_min_lon and bbox_max_lon
            and fct_trips.destination_lat between bbox_min_lat and bbox_max_lat
            and fct_trips.iso_week_start between period.first_week and period.last_week
        group by fct_trips.iso_week_start
    ) as cell_trips
    where match_on = 'both'

),

matched as (

    select * from origin_matched
    union all
    select * from destination_matched
    union all
    select * from both_interior
    union all
    select * from both_origin_boundary
    union all
    select * from both_destination_boundary

),

weekly as (

    select
        iso_week_start,
        sum(trip_count) as trip_count
    from matched
    group by iso_week_start

),

weeks as (

    select week_start::date as iso_week_start
    from period
    cross join
        generate_series(
            period.first_week, period.last_week, interval '1 week'
        ) as week_start
    where
        -- an unknown match_on fails loudly (a SQL function cannot raise; a bad cast can)
        case
            when match_on in ('origin', 'destination', 'both') then true
            else cast(
                'weekly_trip_counts_bbox: match_on must be origin, destination or both, not '
                || coalesce(match_on, 'null') as boolean
            )
        end

),

final as (

    select
        weeks.iso_week_start,
        coalesce(weekly.trip_count, 0)::bigint as trip_count
    from weeks
    left join weekly
        on weeks.iso_week_start = weekly.iso_week_start

)

select * from final
order by iso_week_start
