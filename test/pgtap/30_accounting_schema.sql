-- 30_accounting_schema.sql: pgTAP assertions on the accounting objects:
-- the alerts and rejections views, the accounting columns appended to
-- history and pools, and who may use them.
BEGIN;
SELECT plan(12);

SELECT has_view('pool_monitor', v, 'view pool_monitor.' || v || ' exists')
  FROM unnest(ARRAY['alerts', 'rejections']) AS v;
SELECT columns_are('pool_monitor', 'alerts', ARRAY[
    'raised_at', 'kind', 'utilization', 'total', 'usable_connections', 'message']);
SELECT columns_are('pool_monitor', 'rejections', ARRAY['kind', 'rejected']);
SELECT col_type_is('pool_monitor', 'summary', 'connections_opened', 'bigint',
                   'summary.connections_opened is bigint');
SELECT col_type_is('pool_monitor', 'summary', 'peak_total', 'integer',
                   'summary.peak_total is integer');
SELECT col_type_is('pool_monitor', 'pools', 'opened', 'bigint',
                   'pools.opened is bigint');
SELECT col_type_is('pool_monitor', 'history', 'terminated', 'bigint',
                   'history.terminated is bigint');
SELECT results_eq(
    'SELECT kind FROM pool_monitor.rejections ORDER BY kind',
    ARRAY['database_limit', 'other', 'reserved_slots', 'role_limit',
          'too_many_clients', 'wal_senders'],
    'rejections lists every kind');
SELECT table_privs_are('pool_monitor', v, 'pg_monitor', ARRAY['SELECT'],
                       'pg_monitor may only read ' || v)
  FROM unnest(ARRAY['alerts', 'rejections']) AS v;
SELECT table_privs_are('pool_monitor', 'alerts', 'public', ARRAY[]::text[],
                       'PUBLIC has no privilege on alerts');

SELECT * FROM finish();
ROLLBACK;
