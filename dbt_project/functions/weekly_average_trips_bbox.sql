select sum(trip_count)::numeric / nullif(count(*), 0)
from {{ function('weekly_trip_counts_bbox') }}(
    bbox_min_lon, bbox_min_lat, bbox_max_lon, bbox_max_lat, from_date, to_date, match_on
)
