-- 90_observability.sql (1.0 to 1.1): metrics(), pool_advice and report()
-- with the exact busy figures.  These definitions replace the ones in
-- src/sql/90_observability.sql, which stay as 1.0 shipped them; CREATE OR
-- REPLACE keeps their grants.  pool_advice's rules are in
-- docs/observability.md; keep the two in step.

CREATE OR REPLACE FUNCTION metrics()
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s       @extschema@.summary;
    ps      @extschema@.pools[];
    iit     @extschema@.connections[];
    result  text := '';
BEGIN
    -- one read of each view, so that every family shows the same sample
    SELECT * INTO s FROM @extschema@.summary;
    SELECT coalesce(array_agg(p), '{}') INTO ps FROM @extschema@.pools p;
    SELECT coalesce(array_agg(c), '{}') INTO iit FROM @extschema@.connections c
     WHERE c.state IN ('idle in transaction', 'idle in transaction (aborted)');

    result := result
    || @extschema@.metrics_family('pool_monitor_worker_up', 'gauge',
        '1 while the pool_monitor sampling worker runs, else 0.',
        @extschema@.metrics_sample('pool_monitor_worker_up', '',
                                   (s.worker_pid IS NOT NULL)::int))
    || @extschema@.metrics_family('pool_monitor_max_connections', 'gauge',
        'The server''s max_connections.',
        @extschema@.metrics_sample('pool_monitor_max_connections', '', s.max_connections))
    || @extschema@.metrics_family('pool_monitor_reserved_connections', 'gauge',
        'Connection slots reserved for superusers and pg_use_reserved_connections.',
        @extschema@.metrics_sample('pool_monitor_reserved_connections', '', s.reserved_connections))
    || @extschema@.metrics_family('pool_monitor_usable_connections', 'gauge',
        'Connection slots ordinary clients can use: max_connections less the reserved ones.',
        @extschema@.metrics_sample('pool_monitor_usable_connections', '', s.usable_connections))
    || @extschema@.metrics_family('pool_monitor_connections', 'gauge',
        'Client connections in the latest sample by state; the states add up to all client connections.',
        @extschema@.metrics_sample('pool_monitor_connections', 'state="active"', s.active)
        || @extschema@.metrics_sample('pool_monitor_connections', 'state="idle"', s.idle)
        || @extschema@.metrics_sample('pool_monitor_connections', 'state="idle_in_transaction"', s.idle_in_transaction)
        || @extschema@.metrics_sample('pool_monitor_connections', 'state="idle_in_transaction_aborted"', s.idle_in_transaction_aborted)
        || @extschema@.metrics_sample('pool_monitor_connections', 'state="other"',
               s.total - s.active - s.idle - s.idle_in_transaction - s.idle_in_transaction_aborted))
    || @extschema@.metrics_family('pool_monitor_connections_waiting', 'gauge',
        'Active client connections waiting on a lock in the latest sample.',
        @extschema@.metrics_sample('pool_monitor_connections_waiting', '', s.waiting))
    || @extschema@.metrics_family('pool_monitor_utilization_ratio', 'gauge',
        'Client connections over usable connections, 0 to 1.',
        @extschema@.metrics_sample('pool_monitor_utilization_ratio', '',
            round(s.total::numeric / nullif(s.usable_connections, 0), 4)))
    || @extschema@.metrics_family('pool_monitor_longest_idle_seconds', 'gauge',
        'How long the longest idle client connection has been idle.',
        @extschema@.metrics_sample('pool_monitor_longest_idle_seconds', '',
            extract(epoch FROM s.longest_idle)::numeric))
    || @extschema@.metrics_family('pool_monitor_longest_idle_in_transaction_seconds', 'gauge',
        'How long the longest idle-in-transaction client connection has been so.',
        @extschema@.metrics_sample('pool_monitor_longest_idle_in_transaction_seconds', '',
            extract(epoch FROM s.longest_idle_in_transaction)::numeric))
    || @extschema@.metrics_family('pool_monitor_longest_transaction_seconds', 'gauge',
        'Age of the oldest open transaction of a client connection.',
        @extschema@.metrics_sample('pool_monitor_longest_transaction_seconds', '',
            extract(epoch FROM s.longest_transaction)::numeric))
    || @extschema@.metrics_family('pool_monitor_samples_total', 'counter',
        'Samples taken since server start or reset().',
        @extschema@.metrics_sample('pool_monitor_samples_total', '', s.samples))
    || @extschema@.metrics_family('pool_monitor_sample_duration_seconds', 'gauge',
        'What the latest sample cost the worker.',
        @extschema@.metrics_sample('pool_monitor_sample_duration_seconds', '',
            round((s.sample_duration_us / 1e6)::numeric, 9)))
    || @extschema@.metrics_family('pool_monitor_last_sample_timestamp_seconds', 'gauge',
        'When the latest sample was taken, in seconds since the Unix epoch.',
        @extschema@.metrics_sample('pool_monitor_last_sample_timestamp_seconds', '',
            extract(epoch FROM s.sampled_at)::numeric))
    || @extschema@.metrics_family('pool_monitor_pools_in_use', 'gauge',
        'Pools with at least one session in the latest sample.',
        @extschema@.metrics_sample('pool_monitor_pools_in_use', '', s.pools_in_use))
    || @extschema@.metrics_family('pool_monitor_overflow_connections', 'gauge',
        'Sessions counted in the overflow row because pool_monitor.max_pools pools were in use.',
        @extschema@.metrics_sample('pool_monitor_overflow_connections', '', s.overflow_connections))
    -- exact accounting
    || @extschema@.metrics_family('pool_monitor_connections_opened_total', 'counter',
        'Client connections established since server start or reset().',
        @extschema@.metrics_sample('pool_monitor_connections_opened_total', '',
            s.connections_opened))
    || @extschema@.metrics_family('pool_monitor_connections_closed_total', 'counter',
        'Client connections closed since server start or reset().',
        @extschema@.metrics_sample('pool_monitor_connections_closed_total', '',
            s.connections_closed))
    || @extschema@.metrics_family('pool_monitor_connections_rejected_total', 'counter',
        'Connection attempts refused with SQLSTATE 53300 since server start or reset().',
        @extschema@.metrics_sample('pool_monitor_connections_rejected_total', '',
            s.connections_rejected))
    || @extschema@.metrics_family('pool_monitor_connections_rejected_by_kind_total', 'counter',
        'Connection attempts refused with SQLSTATE 53300 since server start or reset(), by kind.',
        (SELECT string_agg(@extschema@.metrics_sample('pool_monitor_connections_rejected_by_kind_total',
            'kind="' || @extschema@.metrics_label(r.kind) || '"', r.rejected), '' ORDER BY r.kind)
           FROM @extschema@.rejections r))
    || @extschema@.metrics_family('pool_monitor_peak_connections', 'gauge',
        'Most client connections open at once since server start or reset(), exact.',
        @extschema@.metrics_sample('pool_monitor_peak_connections', '',
            s.peak_total))
    || @extschema@.metrics_family('pool_monitor_alerts_total', 'counter',
        'Alerts raised since server start or reset().',
        @extschema@.metrics_sample('pool_monitor_alerts_total', '',
            s.alerts))
    -- exact concurrency
    || @extschema@.metrics_family('pool_monitor_busy_connections', 'gauge',
        'Client sessions busy now (in a transaction that ran a statement), exact.',
        @extschema@.metrics_sample('pool_monitor_busy_connections', '', s.busy))
    || @extschema@.metrics_family('pool_monitor_busy_peak_connections', 'gauge',
        'Most client sessions busy at once since server start or reset(), exact.',
        @extschema@.metrics_sample('pool_monitor_busy_peak_connections', '', s.busy_peak))
    || @extschema@.metrics_family('pool_monitor_busy_seconds_total', 'counter',
        'Busy time of all client sessions since server start or reset(); its rate is the mean number busy.',
        @extschema@.metrics_sample('pool_monitor_busy_seconds_total', '',
            round(s.busy_seconds::numeric, 6)))
    -- idle termination
    || @extschema@.metrics_family('pool_monitor_terminated_total', 'counter',
        'Sessions the idle policy ended since server start or reset().',
        @extschema@.metrics_sample('pool_monitor_terminated_total', '',
            s.terminated));

    -- per pool
    result := result
    || @extschema@.metrics_family('pool_monitor_pool_connections', 'gauge',
        'Sessions of a pool (database, role, application, client address) in the latest sample by state.',
        (SELECT string_agg(
            @extschema@.metrics_sample('pool_monitor_pool_connections', l || ',state="' || st || '"', v), '')
           FROM unnest(ps) p,
                LATERAL @extschema@.metrics_pool_labels(p.database, p.role, p.application_name, p.client_addr) l,
                LATERAL (VALUES ('active', p.active), ('idle', p.idle),
                                ('idle_in_transaction', p.idle_in_transaction),
                                ('idle_in_transaction_aborted', p.idle_in_transaction_aborted),
                                ('other', p.total - p.active - p.idle - p.idle_in_transaction
                                          - p.idle_in_transaction_aborted)) AS c(st, v)))
    || @extschema@.metrics_family('pool_monitor_pool_connections_waiting', 'gauge',
        'Active sessions of a pool waiting on a lock in the latest sample.',
        (SELECT string_agg(@extschema@.metrics_sample('pool_monitor_pool_connections_waiting',
            @extschema@.metrics_pool_labels(p.database, p.role, p.application_name, p.client_addr),
            p.waiting), '') FROM unnest(ps) p))
    || @extschema@.metrics_family('pool_monitor_pool_longest_idle_seconds', 'gauge',
        'How long the longest idle session of a pool has been idle.',
        (SELECT string_agg(@extschema@.metrics_sample('pool_monitor_pool_longest_idle_seconds',
            @extschema@.metrics_pool_labels(p.database, p.role, p.application_name, p.client_addr),
            extract(epoch FROM p.longest_idle)::numeric), '') FROM unnest(ps) p))
    || @extschema@.metrics_family('pool_monitor_pool_peak_connections', 'gauge',
        'Most sessions a pool held at once, sampled, since first seen or reset().',
        (SELECT string_agg(@extschema@.metrics_sample('pool_monitor_pool_peak_connections',
            @extschema@.metrics_pool_labels(p.database, p.role, p.application_name, p.client_addr),
            p.peak_total), '') FROM unnest(ps) p))
    || @extschema@.metrics_family('pool_monitor_pool_peak_busy_connections', 'gauge',
        'Most sessions of a pool busy (not idle) at once, sampled, since first seen or reset().',
        (SELECT string_agg(@extschema@.metrics_sample('pool_monitor_pool_peak_busy_connections',
            @extschema@.metrics_pool_labels(p.database, p.role, p.application_name, p.client_addr),
            p.peak_active), '') FROM unnest(ps) p))
    || @extschema@.metrics_family('pool_monitor_pool_busy_connections', 'gauge',
        'Sessions of a pool busy now, exact.',
        (SELECT string_agg(@extschema@.metrics_sample('pool_monitor_pool_busy_connections',
            @extschema@.metrics_pool_labels(p.database, p.role, p.application_name, p.client_addr),
            p.busy), '') FROM unnest(ps) p))
    || @extschema@.metrics_family('pool_monitor_pool_busy_peak_connections', 'gauge',
        'Most sessions of a pool busy at once since first seen or reset(), exact.',
        (SELECT string_agg(@extschema@.metrics_sample('pool_monitor_pool_busy_peak_connections',
            @extschema@.metrics_pool_labels(p.database, p.role, p.application_name, p.client_addr),
            p.busy_peak), '') FROM unnest(ps) p))
    || @extschema@.metrics_family('pool_monitor_pool_busy_seconds_total', 'counter',
        'Busy time of a pool''s sessions since first seen or reset(); its rate is the mean number busy.',
        (SELECT string_agg(@extschema@.metrics_sample('pool_monitor_pool_busy_seconds_total',
            @extschema@.metrics_pool_labels(p.database, p.role, p.application_name, p.client_addr),
            round(p.busy_seconds::numeric, 6)), '') FROM unnest(ps) p))
    || @extschema@.metrics_family('pool_monitor_pool_opened_total', 'counter',
        'Sessions a pool opened since first seen or reset().',
        (SELECT string_agg(@extschema@.metrics_sample('pool_monitor_pool_opened_total',
            @extschema@.metrics_pool_labels(p.database, p.role, p.application_name, p.client_addr),
            p.opened), '') FROM unnest(ps) p))
    || @extschema@.metrics_family('pool_monitor_pool_terminated_total', 'counter',
        'Sessions of a pool the idle policy ended since first seen or reset().',
        (SELECT string_agg(@extschema@.metrics_sample('pool_monitor_pool_terminated_total',
            @extschema@.metrics_pool_labels(p.database, p.role, p.application_name, p.client_addr),
            p.terminated), '') FROM unnest(ps) p))
    -- a session belongs to the pool of its key, or to the overflow row
    -- when no pool has that key; pools without such sessions have no sample
    || @extschema@.metrics_family('pool_monitor_pool_longest_idle_in_transaction_seconds', 'gauge',
        'How long the longest idle-in-transaction session of a pool has been so.',
        (SELECT string_agg(@extschema@.metrics_sample('pool_monitor_pool_longest_idle_in_transaction_seconds',
            @extschema@.metrics_pool_labels(p.database, p.role, p.application_name, p.client_addr),
            extract(epoch FROM l.longest)::numeric), '')
           FROM unnest(ps) p,
                LATERAL (SELECT max(c.idle_for) AS longest
                           FROM unnest(iit) c
                          WHERE CASE WHEN p.overflow THEN NOT EXISTS (
                                         SELECT FROM unnest(ps) q
                                          WHERE NOT q.overflow
                                            AND (q.database, q.role, q.application_name, q.client_addr)
                                                IS NOT DISTINCT FROM
                                                (c.database, c.role, c.application_name, c.client_addr))
                                ELSE (p.database, p.role, p.application_name, p.client_addr)
                                     IS NOT DISTINCT FROM
                                     (c.database, c.role, c.application_name, c.client_addr)
                                END) l));

    RETURN result;
END
$fn$;


CREATE OR REPLACE VIEW pool_advice AS
WITH server AS (
    SELECT usable_connections FROM @extschema@.summary
), pool AS (
    SELECT p.*,
           -- The exact figures, when they cover the pool: not the overflow
           -- row, at least one session counted busy, and no fewer at once
           -- than a sample saw.  A session counts in the pool it opened
           -- into, so a pool whose sessions took its name after connecting
           -- (SET application_name) has sampled figures only.
           (NOT p.overflow AND p.busy_mean IS NOT NULL AND p.busy_peak > 0
            AND p.busy_peak >= p.peak_active) AS exact,
           -- headroom over the busy peak: a quarter, at least 2
           greatest(2, ceil(coalesce(CASE WHEN NOT p.overflow THEN p.busy_peak END,
                                     p.peak_active) * 0.25))::int AS headroom
      FROM @extschema@.pools p
), stuck AS (
    -- sessions idle in a transaction for 10 s or more, per pool
    SELECT c.database, c.role, c.application_name, c.client_addr,
           count(*)::int AS n, max(c.idle_for) AS longest
      FROM @extschema@.connections c
     WHERE c.state IN ('idle in transaction', 'idle in transaction (aborted)')
       AND c.idle_for >= interval '10 seconds'
     GROUP BY 1, 2, 3, 4
), figures AS (
    SELECT p.database, p.role, p.application_name, p.client_addr, p.overflow,
           p.total, p.peak_total, p.peak_active, p.idle_floor,
           round(p.mean_busy::numeric, 1) AS mean_busy,
           -- A number only when the busy peak plus headroom covers every
           -- session the pool held at once: a client pool opens a session
           -- only when none is free (or to keep its minimum), so all of
           -- peak_total may have been wanted at one moment.  With the exact
           -- figures the busy peak is exact, but the server still does not
           -- see a connection the application holds without running a
           -- statement on it; sampled only, it also misses statements
           -- between samples.  Either way, no number below what the pool
           -- held: the advice says why instead.
           CASE WHEN p.exact AND p.busy_peak + p.headroom >= p.peak_total
                THEN p.busy_peak + p.headroom
                WHEN NOT p.exact AND NOT p.overflow AND p.mean_busy IS NOT NULL
                 AND p.peak_active + p.headroom >= p.peak_total
                THEN p.peak_active + p.headroom END AS suggested_max_pool_size,
           CASE WHEN p.exact THEN greatest(ceil(p.busy_mean::numeric - 1e-9)::int, 0)
                WHEN NOT p.overflow AND p.mean_busy IS NOT NULL
                THEN ceil(p.mean_busy::numeric - 1e-9)::int END AS suggested_min_pool_size,
           p.exact, p.busy_peak, round(p.busy_mean::numeric, 2) AS busy_mean,
           p.headroom,
           coalesce(st.n, 0) AS long_idle_in_transaction,
           st.longest AS longest_idle_in_transaction,
           -- room for this pool: usable less what the other pools hold now
           -- (the pools, overflow row included, hold every client session)
           srv.usable_connections - (sum(p.total) OVER () - p.total)
               AS room_beside_others,
           sum(p.peak_total) OVER ()::int AS sum_of_peaks,
           srv.usable_connections
      FROM pool p
      CROSS JOIN server srv
      LEFT JOIN stuck st
        ON NOT p.overflow
       AND st.database = p.database AND st.role = p.role
       AND st.application_name = p.application_name
       AND st.client_addr IS NOT DISTINCT FROM p.client_addr
), judged AS (
    SELECT f.*, (f.peak_total >= f.room_beside_others) AS could_exhaust_server
      FROM figures f
)
SELECT database, role, application_name, client_addr, overflow, total,
       peak_total, peak_active, idle_floor, mean_busy,
       suggested_max_pool_size, suggested_min_pool_size,
       long_idle_in_transaction, longest_idle_in_transaction,
       could_exhaust_server,
       sum_of_peaks, usable_connections,
       CASE
       WHEN overflow THEN
           'These sessions belong to pools beyond pool_monitor.max_pools and are counted together. Raise pool_monitor.max_pools to see them apart.'
       WHEN NOT exact AND mean_busy IS NULL THEN
           'No session of this pool was sampled since it was first seen or since reset(): nothing to advise yet.'
       ELSE concat_ws(' ',
           -- Maximum Pool Size, from the exact figures when they cover the
           -- pool, else from the samples
           CASE WHEN exact AND suggested_max_pool_size IS NOT NULL THEN
                format('Set Maximum Pool Size to %s: at most %s sessions were busy at once (counted at every transaction, not sampled), plus %s headroom.',
                       suggested_max_pool_size, busy_peak, headroom)
                WHEN exact THEN
                format('Keep Maximum Pool Size at %s or more: the pool held %s sessions at once, but at most %s were busy at once on the server (counted at every transaction, not sampled). The application holds connections without running statements on them (between statements, while it does other work, or leaked), which the server cannot see, so it cannot size this pool; held only around its statements, %s would do.',
                       peak_total, peak_total, busy_peak, busy_peak + headroom)
                WHEN suggested_max_pool_size IS NOT NULL THEN
                format('Set Maximum Pool Size to %s: at most %s sessions were busy at once, plus %s headroom.',
                       suggested_max_pool_size, peak_active, headroom)
                ELSE
                format('Keep Maximum Pool Size at %s or more: the pool held %s sessions at once, which a client pool opens only when none is free (or to keep its Minimum Pool Size), yet the samples saw at most %s busy. Statements shorter than pool_monitor.sample_interval fall between samples, so the server cannot size this pool from them.',
                       peak_total, peak_total, peak_active) END,
           format('Set Minimum Pool Size to %s: on average %s were busy.',
                  suggested_min_pool_size,
                  CASE WHEN exact THEN busy_mean ELSE mean_busy END),
           CASE WHEN idle_floor > suggested_min_pool_size THEN
               format('It never held fewer than %s idle sessions, more than it keeps busy on average: lower Minimum Pool Size, or look for leaked connections.',
                      idle_floor) END,
           CASE WHEN could_exhaust_server THEN
               format('At its peak of %s sessions this pool alone would fill the server: beside the other pools only %s of %s usable connections are free now.',
                      peak_total, greatest(room_beside_others, 0), usable_connections) END,
           CASE WHEN sum_of_peaks > usable_connections THEN
               format('The pools'' peaks add up to %s, more than the %s usable connections: if they coincide, clients are refused.',
                      sum_of_peaks, usable_connections) END,
           CASE WHEN long_idle_in_transaction > 0 THEN
               format('%s session(s) idle in transaction for 10 s or more (longest %s): the application holds transactions open; fix that code, or let pool_monitor.idle_in_transaction_lifetime end them.',
                      long_idle_in_transaction,
                      date_trunc('second', longest_idle_in_transaction)) END)
       END AS advice,
       busy_peak, busy_mean
  FROM judged;

CREATE OR REPLACE FUNCTION report(since interval DEFAULT '1 hour')
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s           @extschema@.summary;
    rows        json;
    threshold   numeric;
    page        text;
    max_points  CONSTANT int := 600;
BEGIN
    SELECT * INTO s FROM @extschema@.summary;
    threshold := nullif(nullif(current_setting('pool_monitor.alert_utilization', true), ''), '0')::numeric;

    -- the window's samples; beyond max_points, the busiest sample of each
    -- of max_points buckets, so that peaks survive
    SELECT coalesce(json_agg(row_to_json(b) ORDER BY b.t), '[]') INTO rows
      FROM (SELECT DISTINCT ON (bucket) *
              FROM (SELECT extract(epoch FROM h.sampled_at)::float8 AS t,
                           (ntile(max_points) OVER (ORDER BY h.sampled_at)) AS bucket,
                           h.*,
                           h.total - h.active - h.idle - h.idle_in_transaction
                               - h.idle_in_transaction_aborted AS other
                      FROM @extschema@.history h
                     WHERE h.sampled_at >= now() - since) q
             ORDER BY bucket, total DESC, t) b;

    page := E'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        || '<title>pool_monitor report</title><style>'
        || 'body{font-family:sans-serif;margin:24px;color:#222;background:#f6f7f9}'
        || 'h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:26px 0 8px}'
        || '.meta{color:#555;font-size:13px}'
        || '.cards{display:flex;gap:12px;flex-wrap:wrap;margin:14px 0}'
        || '.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px 14px;min-width:120px}'
        || '.card b{display:block;font-size:20px}.card span{font-size:12px;color:#555}'
        || 'svg.chart{display:block;background:#fff;border:1px solid #ddd;border-radius:6px;margin:8px 0}'
        || 'svg .title{font-size:14px;font-weight:bold}svg .axis{font-size:11px;fill:#555}'
        || 'svg .legend{font-size:12px}svg .grid{stroke:#e4e4e4}'
        || 'table{border-collapse:collapse;background:#fff;font-size:13px}'
        || 'th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}'
        || 'th{background:#eef0f3}.note{color:#555;font-style:italic}'
        || E'</style></head>\n<body>\n<h1>pool_monitor report</h1>\n'
        || format('<p class="meta">Generated %s on database %s; history since %s (%s).</p>',
                  to_char(now(), 'YYYY-MM-DD HH24:MI:SS TZ'),
                  @extschema@.report_escape(current_database()),
                  to_char(now() - since, 'YYYY-MM-DD HH24:MI:SS'),
                  @extschema@.report_escape(since::text))
        || E'\n<div class="cards">'
        || format('<div class="card"><b>%s / %s</b><span>connections / usable</span></div>',
                  coalesce(s.total::text, '–'), coalesce(s.usable_connections::text, '–'))
        || format('<div class="card"><b>%s%%</b><span>utilization</span></div>',
                  coalesce(s.utilization::text, '–'))
        || format('<div class="card"><b>%s / %s / %s</b><span>active / idle / idle in transaction</span></div>',
                  coalesce(s.active::text, '–'), coalesce(s.idle::text, '–'),
                  coalesce((s.idle_in_transaction + s.idle_in_transaction_aborted)::text, '–'))
        || format('<div class="card"><b>%s</b><span>longest idle</span></div>',
                  coalesce(date_trunc('second', s.longest_idle)::text, '–'))
        || format('<div class="card"><b>%s / %s</b><span>busy now / busy peak (exact)</span></div>',
                  coalesce(s.busy::text, '–'), coalesce(s.busy_peak::text, '–'))
        || format('<div class="card"><b>%s</b><span>mean busy (exact)</span></div>',
                  coalesce(round(s.busy_mean::numeric, 2)::text, '–'))
        || format('<div class="card"><b>%s</b><span>pools in use</span></div>',
                  coalesce(s.pools_in_use::text, '–'))
        || format('<div class="card"><b>%s</b><span>samples; last at %s</span></div>',
                  s.samples, coalesce(to_char(s.sampled_at, 'HH24:MI:SS'), 'never'))
        || E'</div>\n<h2>History</h2>\n'
        || @extschema@.report_chart('Connections by state', rows,
               '[{"key":"active","label":"active","color":"#2e86de"},
                 {"key":"idle_in_transaction","label":"idle in transaction","color":"#e67e22"},
                 {"key":"idle_in_transaction_aborted","label":"aborted","color":"#c0392b"},
                 {"key":"other","label":"starting","color":"#8e44ad"},
                 {"key":"idle","label":"idle","color":"#95a5a6"}]',
               true, NULL, NULL)
        || @extschema@.report_chart('Utilization of usable connections (%)', rows,
               '[{"key":"utilization","label":"utilization %","color":"#16a085"}]',
               false, threshold,
               CASE WHEN threshold IS NOT NULL
                    THEN format('alert at %s%%', threshold) END);

    page := page || @extschema@.report_chart(
               'Busy sessions per sample interval (exact)', rows,
               '[{"key":"busy_peak","label":"busy peak","color":"#2e86de"},
                 {"key":"busy_mean","label":"mean busy","color":"#16a085"}]',
               false, NULL, NULL);

    page := page || @extschema@.report_chart(
               'Connections opened, rejected and terminated per sample interval', rows,
               '[{"key":"connections_opened","label":"opened","color":"#27ae60"},
                 {"key":"connections_rejected","label":"rejected","color":"#c0392b"},
                 {"key":"terminated","label":"terminated","color":"#8e44ad"}]',
               false, NULL, NULL);

    page := page || E'<h2>Pools</h2>\n'
        || @extschema@.report_table(format(
               'SELECT database, role, application_name AS application, client_addr,
                       total, active, idle, idle_in_transaction + idle_in_transaction_aborted AS idle_in_transaction,
                       waiting, date_trunc(%L, longest_idle) AS longest_idle, peak_total,
                       peak_active AS peak_busy_sampled, busy_peak AS peak_busy,
                       round(busy_mean::numeric, 2) AS mean_busy, to_char(last_seen, %L) AS last_seen
                  FROM %I.pools ORDER BY total DESC, peak_total DESC', 'second',
               'HH24:MI:SS', '@extschema@'), 'No pools seen yet.')
        || E'<h2>Pool sizing advice</h2>\n'
        || @extschema@.report_table(format(
               'SELECT application_name AS application, database, role, client_addr,
                       peak_total, busy_peak AS peak_busy, busy_mean AS mean_busy, idle_floor,
                       suggested_max_pool_size AS max_pool_size,
                       suggested_min_pool_size AS min_pool_size, advice
                  FROM %I.pool_advice ORDER BY peak_total DESC', '@extschema@'),
               'No pools seen yet.')
        || E'<h2>Alerts</h2>\n'
        || @extschema@.report_table(format(
                    'SELECT to_char(raised_at, %L) AS raised_at, kind, utilization,
                            total, usable_connections, message
                       FROM %I.alerts WHERE raised_at >= now() - %L::interval
                      ORDER BY raised_at DESC LIMIT 50', 'YYYY-MM-DD HH24:MI:SS',
                    '@extschema@', since), 'No alerts in this window.')
        || E'<h2>Terminations</h2>\n'
        || @extschema@.report_table(format(
                    'SELECT to_char(terminated_at, %L) AS terminated_at, pid, database,
                            role, application_name AS application, client_addr, state,
                            date_trunc(%L, idle_for) AS idle_for, reason, dry_run
                       FROM %I.terminations WHERE terminated_at >= now() - %L::interval
                      ORDER BY terminated_at DESC LIMIT 50', 'YYYY-MM-DD HH24:MI:SS',
                    'second', '@extschema@', since), 'No terminations in this window.')
        || E'</body></html>\n';
    RETURN page;
END
$fn$;
