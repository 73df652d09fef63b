# 073_update.pl: ALTER EXTENSION pool_monitor UPDATE from 1.0 to 1.1 keeps
# every object working and every grant, a grant of the user's own
# included, and a fresh install of 1.1 has the same catalog as an updated
# one: objects, columns, function bodies and privileges.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PoolMonitorTest;

my $node = PostgreSQL::Test::Cluster->new('update');
$node->init;
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'pool_monitor'\npool_monitor.sample_interval = '1h'\n");
$node->start;

$node->safe_psql('postgres', q{
	CREATE ROLE dashboard LOGIN;
	CREATE DATABASE updated; CREATE DATABASE fresh});

# the same user grant in both databases, before and after the install:
# reading a view takes the grant on the function it calls too
$node->safe_psql('updated', q{
	CREATE EXTENSION pool_monitor VERSION '1.0';
	GRANT USAGE ON SCHEMA pool_monitor TO dashboard;
	GRANT SELECT ON pool_monitor.pools, pool_monitor.summary TO dashboard;
	GRANT EXECUTE ON FUNCTION pool_monitor.get_pools(), pool_monitor.get_summary()
	   TO dashboard});
is($node->safe_psql('updated',
	q{SELECT extversion FROM pg_extension WHERE extname = 'pool_monitor'}),
	'1.0', 'version 1.0 installs');
is($node->safe_psql('updated', q{
	SELECT count(*) FROM information_schema.columns
	 WHERE table_schema = 'pool_monitor' AND column_name = 'busy_peak'}),
	'0', '1.0 has no exact busy columns');
is($node->safe_psql('updated', q{SELECT count(*) >= 0 FROM pool_monitor.summary},
	extra_params => [ '-U', 'dashboard' ]), 't', 'the user\'s role reads 1.0\'s summary');
# a view of the user's own over a 1.0 view
$node->safe_psql('updated', q{
	CREATE VIEW public.my_pools AS SELECT application_name, total FROM pool_monitor.pools});

$node->safe_psql('updated', 'ALTER EXTENSION pool_monitor UPDATE');
is($node->safe_psql('updated',
	q{SELECT extversion FROM pg_extension WHERE extname = 'pool_monitor'}),
	'1.1', 'ALTER EXTENSION UPDATE brings it to 1.1');

# on 1.1 the views read the *_exact functions
$node->safe_psql('fresh', q{
	CREATE EXTENSION pool_monitor;
	GRANT USAGE ON SCHEMA pool_monitor TO dashboard;
	GRANT SELECT ON pool_monitor.pools, pool_monitor.summary TO dashboard;
	GRANT EXECUTE ON FUNCTION pool_monitor.get_pools(), pool_monitor.get_summary(),
	   pool_monitor.get_pools_exact(), pool_monitor.get_summary_exact()
	   TO dashboard});
is($node->safe_psql('fresh',
	q{SELECT extversion FROM pg_extension WHERE extname = 'pool_monitor'}),
	'1.1', 'a fresh install is 1.1');

# the updated objects work, for the user's role and through the user's view
is($node->safe_psql('updated',
	q{SELECT busy_peak >= 0 AND busy >= 0 FROM pool_monitor.summary},
	extra_params => [ '-U', 'dashboard' ]), 't',
	'the user\'s grant on summary survives, with the new columns');
is($node->safe_psql('updated',
	q{SELECT count(*) >= 0 FROM pool_monitor.pools WHERE busy_peak >= 0},
	extra_params => [ '-U', 'dashboard' ]), 't',
	'and on pools');
is($node->safe_psql('updated', q{SELECT count(*) >= 0 FROM public.my_pools}), 't',
	'a view over a 1.0 view still works');
for my $q ('SELECT length(pool_monitor.metrics()) > 0',
	'SELECT length(pool_monitor.report()) > 0',
	'SELECT count(*) >= 0 FROM pool_monitor.pool_advice',
	'SELECT count(*) >= 0 FROM pool_monitor.history WHERE busy_mean IS NULL OR busy_mean >= 0')
{
	is($node->safe_psql('updated', $q), 't', "updated: $q");
}
like($node->safe_psql('updated', 'SELECT pool_monitor.metrics()'),
	qr/^pool_monitor_busy_peak_connections \d+$/m, 'metrics() shows the exact figures');

# the two catalogs: every member object, its columns, body and privileges
my $catalog = q{
	WITH members AS (
		SELECT d.classid, d.objid
		  FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
		 WHERE d.refclassid = 'pg_extension'::regclass AND e.extname = 'pool_monitor'
		   AND d.deptype = 'e')
	SELECT pg_describe_object(m.classid, m.objid, 0) || ' ' ||
	       coalesce((SELECT string_agg(a.attname || ':' || format_type(a.atttypid, a.atttypmod), ',' ORDER BY a.attnum)
	                   FROM pg_attribute a WHERE m.classid = 'pg_class'::regclass
	                    AND a.attrelid = m.objid AND a.attnum > 0 AND NOT a.attisdropped), '') || ' ' ||
	       coalesce((SELECT md5(pg_get_viewdef(m.objid)) WHERE m.classid = 'pg_class'::regclass), '') || ' ' ||
	       coalesce((SELECT concat_ws(' ', md5(p.prosrc), p.proargnames::text,
	                                  p.proconfig::text, p.proacl::text)
	                   FROM pg_proc p WHERE m.classid = 'pg_proc'::regclass AND p.oid = m.objid), '') || ' ' ||
	       coalesce((SELECT c.relacl::text FROM pg_class c
	                  WHERE m.classid = 'pg_class'::regclass AND c.oid = m.objid), '')
	  FROM members m ORDER BY 1};
my $updated = $node->safe_psql('updated', $catalog);
my $fresh = $node->safe_psql('fresh', $catalog);
cmp_ok(scalar(split /\n/, $fresh), '>', 20, 'the catalog lists the extension\'s objects');
is($updated, $fresh, 'an updated install and a fresh one have the same catalog');
is($node->safe_psql('updated', q{SELECT nspacl::text FROM pg_namespace WHERE nspname = 'pool_monitor'}),
	$node->safe_psql('fresh', q{SELECT nspacl::text FROM pg_namespace WHERE nspname = 'pool_monitor'}),
	'and the same privileges on the schema');

$node->stop;
done_testing();
