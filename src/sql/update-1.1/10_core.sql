-- 10_core.sql (1.0 to 1.1): the exact busy figures (see src/busy.h) in
-- summary, pools and history.
--
-- The 1.0 functions behind the views keep their columns; the *_exact
-- functions return the same columns followed by the busy ones, and the
-- views now read them, with the new columns last so that CREATE OR REPLACE
-- VIEW keeps every object that depends on the views and every grant.

\echo Use "ALTER EXTENSION pool_monitor UPDATE TO '1.1'" to load this file. \quit

CREATE FUNCTION get_summary_exact(
    OUT sampled_at timestamptz,
    OUT max_connections int,
    OUT reserved_connections int,
    OUT usable_connections int,
    OUT total int,
    OUT active int,
    OUT idle int,
    OUT idle_in_transaction int,
    OUT idle_in_transaction_aborted int,
    OUT waiting int,
    OUT longest_idle interval,
    OUT longest_idle_in_transaction interval,
    OUT longest_transaction interval,
    OUT samples bigint,
    OUT sample_duration_us double precision,
    OUT worker_pid int,
    OUT stats_reset timestamptz,
    OUT pools_in_use int,
    OUT overflow_connections int,
    OUT terminated bigint,
    OUT connections_opened bigint,
    OUT connections_closed bigint,
    OUT connections_rejected bigint,
    OUT peak_total int,
    OUT alerts bigint,
    OUT busy int,
    OUT busy_peak int,
    OUT busy_seconds double precision,
    OUT busy_mean double precision)
RETURNS record
AS 'MODULE_PATHNAME', 'pm_get_summary'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE FUNCTION get_pools_exact(
    OUT database name,
    OUT role name,
    OUT application_name text,
    OUT client_addr inet,
    OUT total int,
    OUT active int,
    OUT idle int,
    OUT idle_in_transaction int,
    OUT idle_in_transaction_aborted int,
    OUT waiting int,
    OUT longest_idle interval,
    OUT peak_total int,
    OUT first_seen timestamptz,
    OUT last_seen timestamptz,
    OUT overflow boolean,
    OUT peak_active int,
    OUT idle_floor int,
    OUT mean_busy double precision,
    OUT terminated bigint,
    OUT opened bigint,
    OUT busy int,
    OUT busy_peak int,
    OUT busy_seconds double precision,
    OUT busy_mean double precision)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pm_get_pools'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE FUNCTION get_history_exact(
    OUT sampled_at timestamptz,
    OUT total int,
    OUT active int,
    OUT idle int,
    OUT idle_in_transaction int,
    OUT idle_in_transaction_aborted int,
    OUT waiting int,
    OUT usable_connections int,
    OUT longest_idle interval,
    OUT connections_opened bigint,
    OUT connections_rejected bigint,
    OUT terminated bigint,
    OUT peak_total int,
    OUT busy_peak int,
    OUT busy_seconds double precision,
    OUT busy_mean double precision)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pm_get_history'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE OR REPLACE VIEW summary AS
    SELECT sampled_at, max_connections, reserved_connections,
           usable_connections, total, active, idle, idle_in_transaction,
           idle_in_transaction_aborted, waiting,
           round(100.0 * total / nullif(usable_connections, 0), 1) AS utilization,
           longest_idle, longest_idle_in_transaction, longest_transaction,
           samples, round(sample_duration_us::numeric, 1) AS sample_duration_us,
           worker_pid, stats_reset,
           pools_in_use, overflow_connections, terminated,
           connections_opened, connections_closed, connections_rejected,
           peak_total, alerts,
           busy, busy_peak, busy_seconds, busy_mean
      FROM get_summary_exact();

CREATE OR REPLACE VIEW pools AS
    SELECT database, role, application_name, client_addr, total, active,
           idle, idle_in_transaction, idle_in_transaction_aborted, waiting,
           longest_idle, peak_total, first_seen, last_seen, overflow,
           peak_active, idle_floor, mean_busy, terminated, opened,
           busy, busy_peak, busy_seconds, busy_mean
      FROM get_pools_exact();

CREATE OR REPLACE VIEW history AS
    SELECT sampled_at, total, active, idle, idle_in_transaction,
           idle_in_transaction_aborted, waiting,
           round(100.0 * total / nullif(usable_connections, 0), 1) AS utilization,
           longest_idle, usable_connections,
           connections_opened, connections_rejected, terminated, peak_total,
           busy_peak, busy_seconds, busy_mean
      FROM get_history_exact();

REVOKE ALL ON FUNCTION get_summary_exact(), get_pools_exact(),
    get_history_exact() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION get_summary_exact(), get_pools_exact(),
    get_history_exact() TO pg_monitor;

-- A view's functions are called with the privileges of whoever reads the
-- view, so a role that was granted a 1.0 function to read its view needs
-- the same grant on the function the view now reads.
DO $grants$
DECLARE
    g record;
BEGIN
    FOR g IN
        SELECT n.new_fn, pg_get_userbyid(a.grantee) AS grantee,
               a.is_grantable
          FROM (VALUES ('get_summary()', 'get_summary_exact()'),
                       ('get_pools()', 'get_pools_exact()'),
                       ('get_history()', 'get_history_exact()')) AS n(old_fn, new_fn),
               pg_proc p,
               LATERAL aclexplode(p.proacl) a
         WHERE p.oid = ('@extschema@.' || n.old_fn)::regprocedure
           AND a.privilege_type = 'EXECUTE' AND a.grantee <> 0
           AND a.grantee <> p.proowner
    LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION @extschema@.%s TO %I%s',
                       g.new_fn, g.grantee,
                       CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
    END LOOP;
END
$grants$;
