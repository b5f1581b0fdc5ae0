-- V8 correct table comments: comments only, so that what the catalog says matches what the
-- pipeline does (see the README, "Usage sink" and "Provider token vault"). No data or structure changes.

COMMENT ON TABLE api_usage IS
    'One row per (user_id, event_id): the first copy of the event the usage sink read, partitioned by UTC month '
    'of occurred_at. A later copy is skipped when a row of the same (user_id, event_id) has an occurred_at within '
    '36 days of its own, even if the two occurred_at differ (ingest refuses events more than 35 days late, so '
    'copies are never further apart); the primary key includes occurred_at only because the partition column must '
    'be in it. Rows that a usage reset excludes stay: this table records the calls, monthly_usage_summary what '
    'counts against the month. No foreign key to users: events are facts from the stream and may name users not '
    'seen before.';

COMMENT ON TABLE monthly_usage_summary IS
    'Per user and UTC calendar month of occurred_at, as computed by the aggregator stream (usage resets applied); '
    'no trigger computes it. Written by the usage sink from meter.usage-summaries: a row is overwritten (or deleted '
    'by a tombstone) only by a summary from a later offset of the same partition, see source_offset. A replay '
    'repairs rows under the same rule. successful_calls are status < 400.';

COMMENT ON COLUMN monthly_usage_summary.source_partition IS
    'Partition of meter.usage-summaries the row was written from (by the usage sink or a replay''s repair); NULL '
    'when the row does not come from that topic (e.g. adopted from the older system) or was cleared by an operator.';

COMMENT ON TABLE sink_offsets IS
    'Next Kafka offset to consume per sink name, topic and partition: the usage sink (METER_SINK_NAME) and the '
    'enforcer''s PostgreSQL writer (<application id>-db). Each writes its rows and its offsets in one transaction '
    'and seeks to these offsets whenever it is assigned partitions and after a failed write, so '
    'a crash never loses or repeats rows.';

COMMENT ON TABLE user_tokens IS
    'Users'' provider API tokens, encrypted. New rows use Tink AEAD (AES-256-GCM); rows adopted from the older '
    'system keep AES-256-CBC (scheme legacy-aes256-cbc) until meter tokens migrate-legacy re-encrypts them '
    '(meter tokens rotate leaves them alone).';
