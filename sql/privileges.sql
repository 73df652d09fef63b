-- privileges: PUBLIC gets nothing, pg_monitor reads, reset() is for
-- superusers until granted.
CREATE ROLE pm_plain LOGIN;
CREATE ROLE pm_watcher LOGIN IN ROLE pg_monitor;

SET ROLE pm_plain;
SELECT count(*) FROM pool_monitor.summary;
SELECT count(*) FROM pool_monitor.pools;
SELECT count(*) FROM pool_monitor.connections;
SELECT count(*) FROM pool_monitor.history;
SELECT pool_monitor.sample_now() IS NOT NULL;
RESET ROLE;

SET ROLE pm_watcher;
SELECT count(*) = 1 AS reads_summary FROM pool_monitor.summary;
SELECT count(*) >= 0 AS reads_pools FROM pool_monitor.pools;
SELECT count(*) >= 0 AS reads_connections FROM pool_monitor.connections;
SELECT count(*) >= 0 AS reads_history FROM pool_monitor.history;
SELECT pool_monitor.sample_now() IS NOT NULL AS samples;
SELECT pool_monitor.reset();
RESET ROLE;

GRANT EXECUTE ON FUNCTION pool_monitor.reset() TO pm_watcher;
SET ROLE pm_watcher;
SELECT pool_monitor.reset();
RESET ROLE;

-- nothing in the schema is SECURITY DEFINER
SELECT count(*) AS security_definer_functions
  FROM pg_proc WHERE pronamespace = 'pool_monitor'::regnamespace AND prosecdef;

REVOKE EXECUTE ON FUNCTION pool_monitor.reset() FROM pm_watcher;
DROP ROLE pm_plain;
DROP ROLE pm_watcher;
