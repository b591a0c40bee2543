{#-
    Per-ISO-week counts of the trips whose origin lies in a closed bounding box, for
    the weeks first_week .. last_week that have trips (weekly_trip_counts_bbox adds the
    zero weeks).
    Exact without scanning fct_trips: see the bbox_end_counts macro (body:
    bbox_end_weekly_counts).
-#}

{{ bbox_end_weekly_counts('origin') }}
