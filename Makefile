# Makefile for pool_monitor (PGXS)
#
#   make                 build against the pg_config on PATH
#   make install         install into that PostgreSQL
#   make installcheck    pg_regress against a temporary instance
#   make prove           the TAP suite (test/t/*.pl)
#   make sanitize-check  pg_regress and TAP under cassert, ASan and UBSan (root)
#   make sanitize-selftest  prove that sanitize-check catches injected bugs
#   bash test/run-all.sh everything, as CI runs it (see README)

EXTENSION = pool_monitor
EXTVERSION = 1.0
MODULE_big = pool_monitor
OBJS = \
	src/pool_monitor.o \
	src/shmem.o \
	src/sampler.o \
	src/pool_table.o \
	src/worker.o \
	src/sql_api.o

# The install script is assembled from one file per feature.
SQL_PARTS = $(sort $(wildcard src/sql/*.sql))
DATA_built = $(EXTENSION)--$(EXTVERSION).sql

REGRESS = core_objects privileges
REGRESS_OPTS = --temp-instance=tmp_check_regress \
	--temp-config=$(srcdir)/test/regress.conf

PROVE_TESTS = test/t/*.pl

PG_CPPFLAGS = -I$(srcdir)/src
# -Wno-unused-parameter: PostgreSQL's own headers trip it under -Wextra.
PG_CFLAGS = -Wall -Wextra -Wno-unused-parameter $(WERROR)

EXTRA_CLEAN = tmp_check tmp_check_regress results regression.diffs \
	regression.out

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# after PGXS, which sets PROVE_FLAGS empty
PROVE_FLAGS = -I ./test/perl

$(EXTENSION)--$(EXTVERSION).sql: $(SQL_PARTS)
	cat $^ > $@

.PHONY: prove
prove:
	$(prove_installcheck)

# The TAP suite and pg_regress against PostgreSQL 15 built with
# --enable-cassert, pool_monitor built with ASan and UBSan (as root; the
# first run builds that server, see docs/hardening.md).
.PHONY: sanitize-check
sanitize-check:
	bash $(srcdir)/test/sanitize/run.sh $(SANITIZE_TESTS)

# Inject one bug of each kind into scratch copies; sanitize-check must fail.
.PHONY: sanitize-selftest
sanitize-selftest:
	bash $(srcdir)/test/sanitize/self-test.sh
