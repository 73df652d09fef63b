-- termination: idle termination's objects and privileges: prune_now() is
-- for superusers unless granted, pg_monitor reads terminations, and bad
-- exclude lists are refused with the bad item named.
CREATE ROLE pm_term_plain LOGIN;
CREATE ROLE pm_term_watcher LOGIN IN ROLE pg_monitor;

-- with both lifetimes off, prune_now() runs and ends nobody
SELECT count(*) AS ended FROM pool_monitor.prune_now();
SELECT count(*) AS would_end FROM pool_monitor.prune_now(dry_run => true);
SELECT terminated FROM pool_monitor.summary;

-- this session is active: nothing protects it, nothing will end it
SELECT pool_monitor.sample_now() IS NOT NULL AS sampled;
SELECT state, prune_at, protected_by FROM pool_monitor.connections
 WHERE pid = pg_backend_pid();

SET ROLE pm_term_plain;
SELECT count(*) FROM pool_monitor.terminations;
SELECT count(*) FROM pool_monitor.prune_now();
RESET ROLE;

SET ROLE pm_term_watcher;
SELECT count(*) >= 0 AS reads_terminations FROM pool_monitor.terminations;
SELECT count(*) FROM pool_monitor.prune_now();
RESET ROLE;

GRANT EXECUTE ON FUNCTION pool_monitor.prune_now(boolean) TO pm_term_watcher;
SET ROLE pm_term_watcher;
SELECT count(*) AS granted_prune FROM pool_monitor.prune_now(true);
RESET ROLE;
REVOKE EXECUTE ON FUNCTION pool_monitor.prune_now(boolean) FROM pm_term_watcher;

-- the settings are reloadable only
SET pool_monitor.idle_lifetime = 10;

-- bad lists are refused with the item named (ALTER SYSTEM runs the check)
ALTER SYSTEM SET pool_monitor.exclude_applications = 'psql*, "open';
ALTER SYSTEM SET pool_monitor.exclude_roles = 'a,,b';
ALTER SYSTEM SET pool_monitor.exclude_databases = '"x"y';
ALTER SYSTEM SET pool_monitor.exclude_applications = E'"tab\there"';
ALTER SYSTEM SET pool_monitor.exclude_applications = 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';
-- good ones pass: quoted names keep their case, patterns keep theirs
ALTER SYSTEM SET pool_monitor.exclude_roles = 'App, "Batch Jobs"';
ALTER SYSTEM SET pool_monitor.exclude_applications = 'PgBouncer*, "a,b"';
ALTER SYSTEM RESET pool_monitor.exclude_roles;
ALTER SYSTEM RESET pool_monitor.exclude_applications;

DROP ROLE pm_term_plain;
DROP ROLE pm_term_watcher;
