{#-
    Per-ISO-week counts of the trips whose origin and destination both lie in a closed
    bounding box, for the weeks first_week .. last_week that have trips
    (weekly_trip_counts_bbox adds the zero weeks). Trips whose origin and destination cells are
    both strictly inside come from the (origin cell, destination cell) aggregate; the trips with
    an end in a boundary cell are checked coordinate by coordinate through fct_trips' covering
    cell indexes, in three disjoint parts.
-#}

with

fct_trips as not materialized (

    select * from {{ ref('fct_trips_gridded') }}

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

both_origin_boundary as (

    -- origin in a boundary cell (destination anywhere in the box)
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
            fct_trips.origin_cell_x = boundary_cells.cell_x
            and fct_trips.origin_cell_y = boundary_cells.cell_y
            -- implied by the destination check below (same cell macro); as index keys they
            -- skip the trips of this cell that leave the box's cell range
            and fct_trips.destination_cell_x between box.x0_l0 and box.x1_l0
            and fct_trips.destination_cell_y between box.y0_l0 and box.y1_l0
            and fct_trips.origin_lon between bbox_min_lon and bbox_max_lon
            and fct_trips.origin_lat between bbox_min_lat and bbox_max_lat
            and fct_trips.destination_lon between bbox_min_lon and bbox_max_lon
            and fct_trips.destination_lat between bbox_min_lat and bbox_max_lat
            and fct_trips.iso_week_start between period.first_week and period.last_week
        group by fct_trips.iso_week_start
    ) as cell_trips

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

),

matched as (

    select * from both_interior
    union all
    select * from both_origin_boundary
    union all
    select * from both_destination_boundary

),

final as (

    select
        iso_week_start,
        sum(trip_count)::bigint as trip_count
    from matched
    group by iso_week_start

)

select * from final
