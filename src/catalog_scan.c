/*-------------------------------------------------------------------------
 *
 * catalog_scan.c
 *		Reading the shared catalogs pg_authid and pg_database from the
 *		worker, which is connected to no database: one heap scan each.
 *
 * A process with no database can open the shared catalogs themselves,
 * whose relation cache entries are built in, but not always the indexes
 * a syscache lookup goes through: on PostgreSQL 13, once CREATE ROLE had
 * invalidated them, get_database_name() in the worker failed with "cannot
 * read pg_class without having selected a database" and the worker
 * exited.  A heap scan needs only the catalog, on every version, and on a
 * hot standby too, as the autovacuum launcher reads pg_database.  The
 * worker reads names only when it has something to name (a prune with
 * candidates, an alert), so one scan per use is cheap.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"

#include "catalog_scan.h"

/* One visitor or the other, and its argument. */
typedef struct CatalogVisit
{
	PmRoleVisitor role;
	PmDatabaseVisitor database;
	void	   *arg;
} CatalogVisit;

/* Pass each row of the shared catalog relid to the visitor. */
static void
scan_catalog(Oid relid, const CatalogVisit *visit)
{
	Relation	rel = table_open(relid, AccessShareLock);
	TableScanDesc scan = table_beginscan_catalog(rel, 0, NULL);
	HeapTuple	tuple;

	while ((tuple = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		if (visit->role)
			visit->role((Form_pg_authid) GETSTRUCT(tuple), visit->arg);
		else
			visit->database((Form_pg_database) GETSTRUCT(tuple), visit->arg);
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
}

void
pm_scan_roles(PmRoleVisitor visit, void *arg)
{
	CatalogVisit v = {visit, NULL, arg};

	scan_catalog(AuthIdRelationId, &v);
}

void
pm_scan_databases(PmDatabaseVisitor visit, void *arg)
{
	CatalogVisit v = {NULL, visit, arg};

	scan_catalog(DatabaseRelationId, &v);
}
