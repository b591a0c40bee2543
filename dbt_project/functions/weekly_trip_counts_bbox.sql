{#-
    Per-ISO-week trip counts for a closed bounding box, every week of the period included
    (zero when no trip). Exact: cells strictly inside the box come from the weekly cell
    aggregates; only trips in the boundary cell columns/rows are checked coordinate by
    coordinate, through fct_trips' covering cell indexes.
-#}

with

fct_trips as not materialized (

    select * from {{ ref('fct_trips') }}

),

origin_counts as not materialized (

    select * from {{ ref('agg_weekly_trips_by_origin_cell') }}

),

destination_counts as not materialized (

    select * from {{ ref('agg_weekly_trips_by_destination_cell') }}

),

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

    -- the same double-precision cell size as the trip_cell() macro that built the cells
    select
        floor(bbox_min_lon / {{ var('trip_cell_size_deg') }}::double precision)::integer
            as cell_x0,
        floor(bbox_max_lon / {{ var('trip_cell_size_deg') }}::double precision)::integer
            as cell_x1,
        floor(bbox_min_lat / {{ var('trip_cell_size_deg') }}::double precision)::integer
            as cell_y0,
        floor(bbox_max_lat / {{ var('trip_cell_size_deg') }}::double precision)::integer
            as cell_y1

),

boundary_cells as (

    select
        cell_x,
        box.cell_y0 as cell_y
    from box
    cross join generate_series(box.cell_x0, box.cell_x1) as cell_x
    union
    select
        cell_x,
        box.cell_y1 as cell_y
    from box
    cross join generate_series(box.cell_x0, box.cell_x1) as cell_x
    union
    select
        box.cell_x0 as cell_x,
        cell_y
    from box
    cross join generate_series(box.cell_y0, box.cell_y1) as cell_y
    union
    select
        box.cell_x1 as cell_x,
        cell_y
    from box
    cross join generate_series(box.cell_y0, box.cell_y1) as cell_y

),

origin_interior as (

    select
        origin_counts.iso_week_start,
        origin_counts.trip_count
    from origin_counts
    cross join box
    cross join period
    where
        match_on = 'origin'
        and origin_counts.origin_cell_x > box.cell_x0
        and origin_counts.origin_cell_x < box.cell_x1
        and origin_counts.origin_cell_y > box.cell_y0
        and origin_counts.origin_cell_y < box.cell_y1
        and origin_counts.iso_week_start between period.first_week and period.last_week

),

origin_boundary as (

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
            and fct_trips.iso_week_start between period.first_week and period.last_week
        group by fct_trips.iso_week_start
    ) as cell_trips
    where match_on = 'origin'

),

destination_interior as (

    select
        destination_counts.iso_week_start,
        destination_counts.trip_count
    from destination_counts
    cross join box
    cross join period
    where
        match_on = 'destination'
        and destination_counts.destination_cell_x > box.cell_x0
        and destination_counts.destination_cell_x < box.cell_x1
        and destination_counts.destination_cell_y > box.cell_y0
        and destination_counts.destination_cell_y < box.cell_y1
        and destination_counts.iso_week_start between period.first_week and period.last_week

),

destination_boundary as (

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
            fct_trips.destination_cell_x = boundary_cells.cell_x
            and fct_trips.destination_cell_y = boundary_cells.cell_y
            and fct_trips.destination_lon between bbox_min_lon and bbox_max_lon
            and fct_trips.destination_lat between bbox_min_lat and bbox_max_lat
            and fct_trips.iso_week_start between period.first_week and period.last_week
        group by fct_trips.iso_week_start
    ) as cell_trips
    where match_on = 'destination'

),

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
        and od_counts.origin_cell_x > box.cell_x0
        and od_counts.origin_cell_x < box.cell_x1
        and od_counts.origin_cell_y > box.cell_y0
        and od_counts.origin_cell_y < box.cell_y1
        and od_counts.destination_cell_x > box.cell_x0
        and od_counts.destination_cell_x < box.cell_x1
        and od_counts.destination_cell_y > box.cell_y0
        and od_counts.destination_cell_y < box.cell_y1
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
            and fct_trips.origin_cell_x > box.cell_x0
            and fct_trips.origin_cell_x < box.cell_x1
            and fct_trips.origin_cell_y > box.cell_y0
            and fct_trips.origin_cell_y < box.cell_y1
            and fct_trips.destination_lon between bbox_min_lon and bbox_max_lon
            and fct_trips.destination_lat between bbox_min_lat and bbox_max_lat
            and fct_trips.iso_week_start between period.first_week and period.last_week
        group by fct_trips.iso_week_start
    ) as cell_trips
    where match_on = 'both'

),

matched as (

    select * from origin_interior
    union all
    select * from origin_boundary
    union all
    select * from destination_interior
    union all
    select * from destination_boundary
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
