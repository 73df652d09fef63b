-- 30_termination.sql: idle termination's SQL interface: the terminations
-- view over the ring in shared memory, and prune_now().
--
-- summary, pools and connections gain their termination columns in
-- 10_core.sql.  Privileges: members of pg_monitor read terminations;
-- prune_now() ends sessions, so it is for superusers unless granted.

CREATE FUNCTION get_terminations(
    OUT terminated_at timestamptz,
    OUT pid int,
    OUT database name,
    OUT role name,
    OUT application_name text,
    OUT client_addr inet,
    OUT state text,
    OUT idle_for interval,
    OUT reason text,
    OUT dry_run boolean)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pm_get_terminations'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE VIEW terminations AS
    SELECT * FROM get_terminations();

CREATE FUNCTION prune_now(dry_run boolean DEFAULT false)
RETURNS SETOF terminations
AS 'MODULE_PATHNAME', 'pm_prune_now'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

REVOKE ALL ON FUNCTION get_terminations(), prune_now(boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION get_terminations() TO pg_monitor;
REVOKE ALL ON terminations FROM PUBLIC;
GRANT SELECT ON terminations TO pg_monitor;
