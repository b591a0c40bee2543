{#-
    Per-ISO-week counts of the trips whose origin and destination both lie in a closed
    bounding box, for the weeks first_week .. last_week that have trips
    (weekly_trip_counts_bbox adds the zero weeks). Three disjoint parts: trips whose origin
    and destination cells are both strictly inside the box come from the (origin cell,
    destination cell) aggregate; trips whose origin is in a boundary cell (the ring of level-0
    cells the box's edges cut), and trips whose origin cell is strictly inside and destination
    in the ring, are checked coordinate by coordinate from fct_trips' covering level-1 index
    of that end, which holds both ends' coordinates.
-#}

with

-- fct_trips itself with the cells as its indexes' trip_cell() expressions, for index-only
-- scans (see bbox_end_counts)
fct_trips as not materialized (

    select * from {{ ref('fct_trips') }}

),

od_counts as not materialized (

    select * from {{ ref('agg_weekly_trips_by_od_cell') }}

),

period as (

    select
        first_week,
        last_week

),

{{ bbox_cell_ranges() }}

both_interior as (

    -- origin and destination both in cells strictly inside the box
    select
        od_counts.iso_week_start,
        od_counts.trip_count
    from od_counts
    cross join box
    cross join period
    where
        od_counts.origin_cell_x > box.x0_l0
        and od_counts.origin_cell_x < box.x1_l0
        and od_counts.origin_cell_y > box.y0_l0
        and od_counts.origin_cell_y < box.y1_l0
        and od_counts.destination_cell_x > box.x0_l0
        and od_counts.destination_cell_x < box.x1_l0
        and od_counts.destination_cell_y > box.y0_l0
        and od_counts.destination_cell_y < box.y1_l0
        and od_counts.iso_week_start between period.first_week and period.last_week

),

ring_lines as (

    -- the level-0 boundary ring as level-1 lines, each one index range of a level-1 index:
    -- the full level-1 columns of the two edge columns, then the interior level-1 columns'
    -- stretches through the two edge rows
    select
        cell_x,
        box.y0_l1 as first_y,
        box.y1_l1 as last_y
    from box
    cross join
        lateral generate_series(box.x0_l1, least(10 * box.x0_l0 + 9, box.x1_l1)) as cell_x
    union
    select
        cell_x,
        box.y0_l1 as first_y,
        box.y1_l1 as last_y
    from box
    cross join
        lateral generate_series(greatest(10 * box.x1_l0, box.x0_l1), box.x1_l1) as cell_x
    union
    select
        cell_x,
        rows_l0.first_y,
        rows_l0.last_y
    from box
    cross join
        lateral (
            values
            (box.y0_l1, least(10 * box.y0_l0 + 9, box.y1_l1)),
            (greatest(10 * box.y1_l0, box.y0_l1), box.y1_l1)
        ) as rows_l0 (first_y, last_y)
    cross join
        lateral generate_series(10 * box.x0_l0 + 10, 10 * box.x1_l0 - 1) as cell_x

),

both_origin_ring as (

    -- origin in a boundary level-0 cell, destination anywhere in the box
    select
        line_trips.iso_week_start,
        line_trips.trip_count
    from ring_lines
    cross join box
    cross join period
    -- one index range per line; the aggregate keeps the planner from flattening this into a
    -- join that scans fct_trips
    cross join
        lateral (
            select
                date_trunc('week', fct_trips.trip_at)::date as iso_week_start,
                count(*) as trip_count
            from fct_trips
            where
                {{ trip_cell('fct_trips.origin_lon', 1) }}
                = ring_lines.cell_x
                and {{ trip_cell('fct_trips.origin_lat', 1) }}
                between ring_lines.first_y and ring_lines.last_y
                and fct_trips.origin_lon between bbox_min_lon and bbox_max_lon
                and fct_trips.origin_lat between bbox_min_lat and bbox_max_lat
                and fct_trips.destination_lon between bbox_min_lon and bbox_max_lon
                and fct_trips.destination_lat between bbox_min_lat and bbox_max_lat
                and fct_trips.trip_at >= period.first_week
                and fct_trips.trip_at < period.last_week + 7
            group by iso_week_start
        ) as line_trips

),

both_destination_ring as (

    -- origin in a cell strictly inside (so inside the box), destination in a boundary cell
    select
        line_trips.iso_week_start,
        line_trips.trip_count
    from ring_lines
    cross join box
    cross join period
    cross join
        lateral (
            select
                date_trunc('week', fct_trips.trip_at)::date as iso_week_start,
                count(*) as trip_count
            from fct_trips
            where
                {{ trip_cell('fct_trips.destination_lon', 1) }}
                = ring_lines.cell_x
                and {{ trip_cell('fct_trips.destination_lat', 1) }}
                between ring_lines.first_y and ring_lines.last_y
                and fct_trips.destination_lon between bbox_min_lon and bbox_max_lon
                and fct_trips.destination_lat between bbox_min_lat and bbox_max_lat
                and {{ trip_cell('fct_trips.origin_lon') }} > box.x0_l0
                and {{ trip_cell('fct_trips.origin_lon') }} < box.x1_l0
                and {{ trip_cell('fct_trips.origin_lat') }} > box.y0_l0
                and {{ trip_cell('fct_trips.origin_lat') }} < box.y1_l0
                and fct_trips.trip_at >= period.first_week
                and fct_trips.trip_at < period.last_week + 7
            group by iso_week_start
        ) as line_trips

),

matched as (

    select * from both_interior
    union all
    select * from both_origin_ring
    union all
    select * from both_destination_ring

),

final as (

    select
        iso_week_start,
        sum(trip_count)::bigint as trip_count
    from matched
    group by iso_week_start

)

select * from final
