/*-------------------------------------------------------------------------
 *
 * catalog_scan.h
 *		Reading the shared catalogs pg_authid and pg_database from the
 *		worker, which is connected to no database.
 *
 *-------------------------------------------------------------------------
 */
#ifndef POOL_MONITOR_CATALOG_SCAN_H
#define POOL_MONITOR_CATALOG_SCAN_H

#include "catalog/pg_authid.h"
#include "catalog/pg_database.h"

typedef void (*PmRoleVisitor) (Form_pg_authid role, void *arg);
typedef void (*PmDatabaseVisitor) (Form_pg_database database, void *arg);

/*
 * Call visit for every row of pg_authid, or of pg_database.  The caller
 * holds a transaction with a snapshot; the row is valid during the call
 * only.
 */
extern void pm_scan_roles(PmRoleVisitor visit, void *arg);
extern void pm_scan_databases(PmDatabaseVisitor visit, void *arg);

#endif							/* POOL_MONITOR_CATALOG_SCAN_H */
