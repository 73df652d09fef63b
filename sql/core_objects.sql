-- core_objects: the core objects exist with the documented types and
-- settings, sample_now() publishes a sample, and reset() clears counters.
CREATE EXTENSION pool_monitor;

SELECT e.extname, n.nspname, e.extrelocatable
  FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
 WHERE e.extname = 'pool_monitor';

-- From 17 on the row type of each view (and its array type) is recorded as
-- a member too; it comes with its view on every version, so it is left out.
SELECT pg_describe_object(d.classid, d.objid, d.objsubid) AS object
  FROM pg_depend d
 WHERE d.refclassid = 'pg_extension'::regclass
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pool_monitor')
   AND NOT EXISTS (SELECT 1
                     FROM pg_type t
                     LEFT JOIN pg_type elem ON elem.oid = t.typelem
                     JOIN pg_class c ON c.oid IN (t.typrelid, elem.typrelid)
                    WHERE d.classid = 'pg_type'::regclass AND t.oid = d.objid
                      AND c.relkind <> 'c')
 ORDER BY 1;

SELECT table_name, column_name, data_type
  FROM information_schema.columns
 WHERE table_schema = 'pool_monitor'
 ORDER BY table_name, ordinal_position;

SELECT name, setting, unit, context, vartype, min_val, max_val, boot_val
  FROM pg_settings
 WHERE name LIKE 'pool_monitor.%'
 ORDER BY name;

-- a fresh sample sees this session, active
SELECT pool_monitor.sample_now() <= now() + interval '10 s' AS sampled;
SELECT samples > 0 AS has_samples, worker_pid IS NOT NULL AS worker_runs,
       total >= 1 AS sees_me, usable_connections = max_connections - reserved_connections AS usable_ok,
       utilization = round(100.0 * total / usable_connections, 1) AS utilization_ok,
       sample_duration_us > 0 AS costed
  FROM pool_monitor.summary;
SELECT state, idle_for IS NULL AS no_idle_for, database, role
  FROM pool_monitor.connections
 WHERE pid = pg_backend_pid();
SELECT total >= 1 AS counted, peak_total >= total AS peak_ok, NOT overflow AS regular
  FROM pool_monitor.pools
 WHERE database = current_database()
   AND application_name = current_setting('application_name');
SELECT count(*) > 0 AS has_history FROM pool_monitor.history;

-- reset clears history and the sample count, and stamps stats_reset
SELECT now() AS before_reset \gset
SELECT pool_monitor.reset();
SELECT samples = 0 AS samples_cleared, stats_reset >= :'before_reset' AS stamped
  FROM pool_monitor.summary;
SELECT count(*) AS history_after_reset FROM pool_monitor.history;

-- the interval is reloadable only, with a documented range
SET pool_monitor.sample_interval = 500;
SET pool_monitor.max_pools = 10;
