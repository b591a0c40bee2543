{#- Weekly trip counts per (level-1 destination cell, ISO week): see cell_level_weekly_aggregate. -#}

{{ cell_level_weekly_aggregate('destination', 1) }}
