{#- Weekly trip counts per (level-1 origin cell, ISO week): see cell_level_weekly_aggregate. -#}

{{ cell_level_weekly_aggregate('origin', 1) }}
