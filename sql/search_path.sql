-- search_path: every SQL and PL/pgSQL function of the extension runs with
-- search_path pinned to pg_catalog, pg_temp, so that no object a caller
-- can create in another schema is picked up in its place.  A new function
-- without the pin shows up here and fails the test.

-- PL/pgSQL: all pinned, no exception
SELECT p.proname
  FROM pg_proc p
  JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                  AND d.deptype = 'e'
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pool_monitor'
 WHERE p.prolang = (SELECT oid FROM pg_language WHERE lanname = 'plpgsql')
   AND NOT coalesce(p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'], false)
 ORDER BY 1;

-- SQL: all pinned too, the small text helpers of metrics() and report()
-- included (the pin stops their inlining; a scrape calls them a few
-- hundred times, which costs well under a millisecond).
SELECT p.proname, p.provolatile, p.prosecdef
  FROM pg_proc p
  JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                  AND d.deptype = 'e'
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pool_monitor'
 WHERE p.prolang = (SELECT oid FROM pg_language WHERE lanname = 'sql')
   AND NOT coalesce(p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'], false)
 ORDER BY 1;

-- no function of the extension is SECURITY DEFINER
SELECT count(*) AS security_definer
  FROM pg_proc p
  JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                  AND d.deptype = 'e'
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pool_monitor'
 WHERE p.prosecdef;

-- the check sees the pinned ones too (it is not vacuous)
SELECT count(*) > 0 AS pinned_seen
  FROM pg_proc p
  JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                  AND d.deptype = 'e'
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pool_monitor'
 WHERE p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'];
