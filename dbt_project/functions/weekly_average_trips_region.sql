select sum(trip_count)::numeric / nullif(count(*), 0)
from {{ function('weekly_trip_counts_region') }}(region_name, from_date, to_date)
