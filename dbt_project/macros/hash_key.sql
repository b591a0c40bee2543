{#-
    A bigint key from the first 64 bits of surrogate_key(field_list): 8 bytes a row instead of
    a 33-byte md5 text, and the same for the same values whatever order the rows arrived in.
    At 10^8 distinct keys the chance of any collision is ~3e-4; the unique test on the key
    (trip_groups.trip_group_id) would fail the build rather than merge two groups silently.
-#}
{% macro hash_key(field_list) -%}
    {{ return(adapter.dispatch('hash_key', 'trips_warehouse')(field_list)) }}
{%- endmacro %}

{#- Postgres: a hex string read as bit(64), then as bigint. -#}
{% macro postgres__hash_key(field_list) -%}
    ('x' || left({{ surrogate_key(field_list) }}, 16))::bit(64)::bigint
{%- endmacro %}
