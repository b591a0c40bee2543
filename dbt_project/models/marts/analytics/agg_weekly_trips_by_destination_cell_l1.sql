{#-
    Weekly trip counts per (level-1 destination cell, ISO week); see the
    cell_level_weekly_aggregate macro.
-#}

{{ cell_level_weekly_aggregate('destination', 1) }}
