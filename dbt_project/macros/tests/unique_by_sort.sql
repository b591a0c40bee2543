{#-
    dbt's `unique`, counted by a sort instead of a hash: one failing row, with the number of
    surplus rows, when a value appears more than once.

    Why not `unique`: it groups by the column, which Postgres runs as a hash aggregate, and
    Postgres' int8 hash (hashint8) XORs the two 32-bit halves of the value before hashing.
    Trip ids are batch_id << 32 | row number, so the halves are two small numbers and their XOR
    repeats: 100M ids in 2,576 batches fall into ~65k hash values, and the `unique` test on
    them ran for over 13 minutes (docs/scalability.md). count(distinct) always sorts.
-#}
{% test unique_by_sort(model, column_name) %}

select count(*) - count(distinct {{ column_name }}) as surplus_rows
from {{ model }}
having count(*) <> count(distinct {{ column_name }})

{% endtest %}
