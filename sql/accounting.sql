-- accounting: the exact connection counters, the pool's "opened", the
-- rejections and alerts views, and what reset() does to them.  The server
-- is the pg_regress instance: nothing is refused and no alert is raised.

-- this session was counted when it was established, and is open now
SELECT connections_opened >= 1 AS opened_counted,
       connections_opened >= connections_closed AS closed_le_opened,
       peak_total >= 1 AS peak_seen,
       connections_rejected AS rejected, alerts
  FROM pool_monitor.summary;

-- the session's pool had no slot when it opened: the next sample credits it
SELECT pool_monitor.sample_now() IS NOT NULL AS sampled;
SELECT application_name, total, opened
  FROM pool_monitor.pools
 WHERE application_name = current_setting('application_name');

-- every kind is listed, with nothing refused
SELECT kind, rejected FROM pool_monitor.rejections ORDER BY kind;
SELECT count(*) AS alerts FROM pool_monitor.alerts;

-- history carries the interval's exact figures
SELECT connections_opened >= 0 AS opened_ok, connections_rejected AS rejected,
       terminated, peak_total >= total AS peak_ge_total
  FROM pool_monitor.history ORDER BY sampled_at DESC LIMIT 1;

-- reset: counters restart from zero, the peak from the sessions open now
SELECT pool_monitor.reset();
SELECT connections_opened, connections_closed, connections_rejected,
       peak_total >= 1 AS peak_is_open_sessions, alerts
  FROM pool_monitor.summary;
SELECT opened FROM pool_monitor.pools
 WHERE application_name = current_setting('application_name');

-- the settings are reloadable and checked
SET pool_monitor.alert_utilization = 50;
SELECT name, setting, unit, context FROM pg_settings
 WHERE name IN ('pool_monitor.alert_utilization', 'pool_monitor.alert_cooldown',
                'pool_monitor.log_interval')
 ORDER BY name;
