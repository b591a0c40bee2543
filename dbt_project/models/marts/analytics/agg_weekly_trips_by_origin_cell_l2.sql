{#-
    Weekly trip counts per (level-2 origin cell, ISO week); see the
    cell_level_weekly_aggregate macro.
-#}

{{ cell_level_weekly_aggregate('origin', 2) }}
