-- 30_termination.sql: pgTAP assertions on idle termination's objects: the
-- terminations view, prune_now(), the new columns, and who may use them.
BEGIN;
SELECT plan(12);

SELECT has_view('pool_monitor', 'terminations', 'view pool_monitor.terminations exists');
SELECT columns_are('pool_monitor', 'terminations', ARRAY[
    'terminated_at', 'pid', 'database', 'role', 'application_name',
    'client_addr', 'state', 'idle_for', 'reason', 'dry_run']);
SELECT has_function('pool_monitor', 'prune_now', ARRAY['boolean']);
SELECT function_returns('pool_monitor', 'prune_now', ARRAY['boolean'], 'setof pool_monitor.terminations');
SELECT col_type_is('pool_monitor'::name, 'summary'::name, 'terminated'::name, 'bigint',
                   'summary.terminated is bigint');
SELECT col_type_is('pool_monitor'::name, 'pools'::name, 'terminated'::name, 'bigint',
                   'pools.terminated is bigint');
SELECT col_type_is('pool_monitor'::name, 'connections'::name, 'prune_at'::name, 'timestamp with time zone',
                   'connections.prune_at is timestamp with time zone');
SELECT col_type_is('pool_monitor'::name, 'connections'::name, 'protected_by'::name, 'text',
                   'connections.protected_by is text');

SELECT table_privs_are('pool_monitor', 'terminations', 'pg_monitor', ARRAY['SELECT'],
                       'pg_monitor may only read terminations');
SELECT table_privs_are('pool_monitor', 'terminations', 'public', ARRAY[]::text[],
                       'PUBLIC has no privilege on terminations');
SELECT function_privs_are('pool_monitor', 'prune_now', ARRAY['boolean'], 'pg_monitor',
                          ARRAY[]::text[], 'pg_monitor may not prune');
SELECT function_privs_are('pool_monitor', 'prune_now', ARRAY['boolean'], 'public',
                          ARRAY[]::text[], 'PUBLIC may not prune');

SELECT * FROM finish();
ROLLBACK;
