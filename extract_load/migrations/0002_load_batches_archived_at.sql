-- set when the batch's rows left raw.trips, the marts having them (extract_load/archive.py);
-- its landed parquet file replays it. "if not exists": warehouses created by the unversioned
-- DDL since the raw archive have it already.
alter table {raw}.load_batches add column if not exists archived_at timestamptz;
