-- 10_core.sql: the core read API of pool_monitor: summary, pools,
-- connections, history, sample_now() and reset().
--
-- Each view is a thin layer over a C function that copies the shared state
-- out under a shared lock.  Privileges: members of pg_monitor read the
-- views and call sample_now(); reset() is for superusers unless granted.

\echo Use "CREATE EXTENSION pool_monitor" to load this file. \quit

CREATE FUNCTION get_summary(
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
    OUT alerts bigint)
RETURNS record
AS 'MODULE_PATHNAME', 'pm_get_summary'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE FUNCTION get_pools(
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
    OUT opened bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pm_get_pools'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE FUNCTION get_connections(
    OUT pid int,
    OUT database name,
    OUT role name,
    OUT application_name text,
    OUT client_addr inet,
    OUT backend_start timestamptz,
    OUT state text,
    OUT state_since timestamptz,
    OUT idle_for interval,
    OUT xact_start timestamptz,
    OUT waiting boolean,
    OUT prune_at timestamptz,
    OUT protected_by text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pm_get_connections'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE FUNCTION get_history(
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
    OUT peak_total int)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pm_get_history'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE FUNCTION sample_now()
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'pm_sample_now'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE FUNCTION reset()
RETURNS void
AS 'MODULE_PATHNAME', 'pm_reset'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE VIEW summary AS
    SELECT sampled_at, max_connections, reserved_connections,
           usable_connections, total, active, idle, idle_in_transaction,
           idle_in_transaction_aborted, waiting,
           round(100.0 * total / nullif(usable_connections, 0), 1) AS utilization,
           longest_idle, longest_idle_in_transaction, longest_transaction,
           samples, round(sample_duration_us::numeric, 1) AS sample_duration_us,
           worker_pid, stats_reset,
           pools_in_use, overflow_connections, terminated,
           connections_opened, connections_closed, connections_rejected,
           peak_total, alerts
      FROM get_summary();

CREATE VIEW pools AS
    SELECT * FROM get_pools();

CREATE VIEW connections AS
    SELECT * FROM get_connections();

CREATE VIEW history AS
    SELECT sampled_at, total, active, idle, idle_in_transaction,
           idle_in_transaction_aborted, waiting,
           round(100.0 * total / nullif(usable_connections, 0), 1) AS utilization,
           longest_idle, usable_connections,
           connections_opened, connections_rejected, terminated, peak_total
      FROM get_history();

REVOKE ALL ON FUNCTION get_summary(), get_pools(), get_connections(),
    get_history(), sample_now(), reset() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION get_summary(), get_pools(), get_connections(),
    get_history(), sample_now() TO pg_monitor;
REVOKE ALL ON summary, pools, connections, history FROM PUBLIC;
GRANT SELECT ON summary, pools, connections, history TO pg_monitor;

-- The schema is created by CREATE EXTENSION (schema = pool_monitor in the
-- control file); only pg_monitor may look into it.
REVOKE ALL ON SCHEMA @extschema@ FROM PUBLIC;
GRANT USAGE ON SCHEMA @extschema@ TO pg_monitor;
