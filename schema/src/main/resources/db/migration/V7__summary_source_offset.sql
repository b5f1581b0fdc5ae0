-- V7 summary source offset: where in meter.usage-summaries each monthly_usage_summary row came from.
--
-- The sink upserts absolute values, and a reset can lower them, so "newer" cannot be read from the
-- values themselves (calls or last_event_at). It is the record's position in the compacted topic:
-- the sink only overwrites a row with a summary from a higher offset of the same partition.
ALTER TABLE monthly_usage_summary
    ADD COLUMN source_partition integer CHECK (source_partition >= 0),
    ADD COLUMN source_offset    bigint CHECK (source_offset >= 0),
    ADD CHECK ((source_partition IS NULL) = (source_offset IS NULL));
COMMENT ON COLUMN monthly_usage_summary.source_partition IS
    'Partition of meter.usage-summaries the row was written from; NULL when not written by the sink.';
COMMENT ON COLUMN monthly_usage_summary.source_offset IS
    'Offset of that summary record. The sink overwrites the row only with a higher offset of the same partition '
    '(or any offset of another partition, after the topic was repartitioned). Set both to NULL to let any summary '
    'overwrite the row, e.g. after the topic was recreated and its offsets started again at 0.';
