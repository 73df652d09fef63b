-- 10_core_schema.sql: pgTAP assertions on the core objects: the schema,
-- the views and their columns, the functions, and who may use them.
BEGIN;
SELECT plan(25);

SELECT has_schema('pool_monitor');
SELECT has_view('pool_monitor', v, 'view pool_monitor.' || v || ' exists')
  FROM unnest(ARRAY['summary', 'pools', 'connections', 'history']) AS v;
SELECT has_function('pool_monitor', 'sample_now', ARRAY[]::name[]);
SELECT has_function('pool_monitor', 'reset', ARRAY[]::name[]);
SELECT function_returns('pool_monitor', 'sample_now', ARRAY[]::name[], 'timestamp with time zone');

SELECT columns_are('pool_monitor', 'summary', ARRAY[
    'sampled_at', 'max_connections', 'reserved_connections', 'usable_connections',
    'total', 'active', 'idle', 'idle_in_transaction', 'idle_in_transaction_aborted',
    'waiting', 'utilization', 'longest_idle', 'longest_idle_in_transaction',
    'longest_transaction', 'samples', 'sample_duration_us', 'worker_pid',
    'stats_reset', 'pools_in_use', 'overflow_connections', 'terminated',
    'connections_opened', 'connections_closed', 'connections_rejected',
    'peak_total', 'alerts', 'busy', 'busy_peak', 'busy_seconds', 'busy_mean']);
SELECT col_type_is('pool_monitor'::name, 'summary'::name, 'utilization'::name, 'numeric',
                   'summary.utilization is numeric');
SELECT col_type_is('pool_monitor'::name, 'summary'::name, 'longest_idle'::name, 'interval',
                   'summary.longest_idle is interval');
SELECT col_type_is('pool_monitor'::name, 'pools'::name, 'client_addr'::name, 'inet',
                   'pools.client_addr is inet');
SELECT col_type_is('pool_monitor'::name, 'connections'::name, 'idle_for'::name, 'interval',
                   'connections.idle_for is interval');
SELECT col_type_is('pool_monitor'::name, 'history'::name, 'sampled_at'::name, 'timestamp with time zone',
                   'history.sampled_at is timestamp with time zone');

SELECT col_type_is('pool_monitor'::name, 'pools'::name, 'busy_peak'::name, 'integer',
                   'pools.busy_peak is integer');
SELECT col_type_is('pool_monitor'::name, 'history'::name, 'busy_mean'::name, 'double precision',
                   'history.busy_mean is double precision');
SELECT function_privs_are('pool_monitor', f, ARRAY[]::name[], 'pg_monitor', ARRAY['EXECUTE'],
                          'pg_monitor may call ' || f)
  FROM unnest(ARRAY['get_summary_exact', 'get_pools_exact']) AS f;

SELECT table_privs_are('pool_monitor', v, 'pg_monitor', ARRAY['SELECT'],
                       'pg_monitor may only read ' || v)
  FROM unnest(ARRAY['summary', 'pools', 'connections', 'history']) AS v;
SELECT table_privs_are('pool_monitor', 'summary', 'public', ARRAY[]::text[],
                       'PUBLIC has no privilege on summary');
SELECT function_privs_are('pool_monitor', 'sample_now', ARRAY[]::name[], 'pg_monitor',
                          ARRAY['EXECUTE']);
SELECT function_privs_are('pool_monitor', 'reset', ARRAY[]::name[], 'pg_monitor',
                          ARRAY[]::text[], 'pg_monitor may not reset');

SELECT * FROM finish();
ROLLBACK;
