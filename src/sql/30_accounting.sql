-- 30_accounting.sql: exact connection accounting and exhaustion alerts:
-- the alerts ring and 53300 refusals by kind.  (The accounting columns of
-- summary, pools and history are in 10_core.sql, at the end of each.)

CREATE FUNCTION get_alerts(
    OUT raised_at timestamptz,
    OUT kind text,
    OUT utilization double precision,
    OUT total int,
    OUT usable_connections int,
    OUT message text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pm_get_alerts'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE FUNCTION get_rejections(
    OUT kind text,
    OUT rejected bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pm_get_rejections'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE VIEW alerts AS
    SELECT raised_at, kind, round(utilization::numeric, 1) AS utilization,
           total, usable_connections, message
      FROM get_alerts();

CREATE VIEW rejections AS
    SELECT * FROM get_rejections();

REVOKE ALL ON FUNCTION get_alerts(), get_rejections() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION get_alerts(), get_rejections() TO pg_monitor;
REVOKE ALL ON alerts, rejections FROM PUBLIC;
GRANT SELECT ON alerts, rejections TO pg_monitor;
