"""Extract & load: Spark landing of trip CSVs to parquet, then bulk COPY into Postgres ``raw``."""
