# Makefile for pool_monitor (PGXS)
#
#   make                 build against the pg_config on PATH
#   make install         install into that PostgreSQL
#   make installcheck    pg_regress against a temporary instance
#   make prove           the TAP suite (test/t/*.pl)
#   make unit            the cmocka unit tests (test/unit/test_*.c)
#   make matrix [VERSIONS="16 18"]  the suite on each PostgreSQL 13 to 18 (root)
#   make sanitize-check  pg_regress and TAP under cassert, ASan and UBSan (root)
#   make sanitize-selftest  prove that sanitize-check catches injected bugs
#   bash test/run-all.sh everything, as CI runs it (see README)

EXTENSION = pool_monitor
# The base script, pool_monitor--1.0.sql, is assembled from src/sql/*.sql,
# which stay as 1.0 shipped them; each later version is an update script
# assembled from src/sql/update-<version>/*.sql.  CREATE EXTENSION of the
# default version runs the base script and then the updates, so a fresh
# install and an updated one run the very same statements.
EXTVERSION = 1.0
MODULE_big = pool_monitor
OBJS = \
	src/pool_monitor.o \
	src/shmem.o \
	src/status_reader.o \
	src/registry_audit.o \
	src/sampler.o \
	src/pool_table.o \
	src/pool_index.o \
	src/worker.o \
	src/sql_api.o \
	src/pool_advice.o \
	src/policy.o \
	src/prune_settings.o \
	src/name_list.o \
	src/terminate.o \
	src/catalog_scan.o \
	src/termination_api.o \
	src/accounting.o \
	src/accounting_sql.o \
	src/busy.o \
	src/alert_policy.o \
	src/alerts.o \
	src/statslog.o \
	src/settings_advice.o \
	src/hardening.o

# The install script is assembled from one file per feature.
SQL_PARTS = $(sort $(wildcard src/sql/*.sql))
DATA_built = $(EXTENSION)--$(EXTVERSION).sql $(EXTENSION)--1.0--1.1.sql

REGRESS = core_objects privileges termination accounting search_path
REGRESS_OPTS = --temp-instance=tmp_check_regress \
	--temp-config=$(srcdir)/test/regress.conf

PROVE_TESTS = test/t/*.pl

PG_CPPFLAGS = -I$(srcdir)/src
# -Wno-unused-parameter: PostgreSQL's own headers trip it under -Wextra.
PG_CFLAGS = -Wall -Wextra -Wno-unused-parameter $(WERROR)

# (UNIT_TESTS and FUZZ_TARGETS are defined below; the recipe expands late)
EXTRA_CLEAN = tmp_check tmp_check_regress results regression.diffs \
	regression.out $(UNIT_TESTS) $(FUZZ_TARGETS:%=test/fuzz/fuzz_%)

PG_CONFIG ?= pg_config

# The supported range, 13 to 18: refuse an older server before compiling
# anything (src/compat.h refuses it too, for builds outside this Makefile);
# build on a newer one, untested, with a warning.
PM_PG_MAJOR := $(shell $(PG_CONFIG) --version | sed -n 's/^PostgreSQL \([0-9][0-9]*\).*/\1/p')
ifeq ($(PM_PG_MAJOR),)
$(error cannot tell the PostgreSQL version of $(PG_CONFIG): "$(shell $(PG_CONFIG) --version)")
endif
ifeq ($(shell test $(PM_PG_MAJOR) -lt 13 && echo old),old)
$(error pool_monitor supports PostgreSQL 13 to 18; $(PG_CONFIG) is $(shell $(PG_CONFIG) --version))
endif
ifeq ($(shell test $(PM_PG_MAJOR) -gt 18 && echo new),new)
$(warning pool_monitor is tested on PostgreSQL 13 to 18; building for $(shell $(PG_CONFIG) --version), untested)
endif

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies (unless the server was configured with
# --enable-depend): rebuild every object when a header changes, so that no
# object keeps an old layout of a shared struct.
$(OBJS): $(wildcard $(srcdir)/src/*.h)

# after PGXS, which sets PROVE_FLAGS empty
PROVE_FLAGS = -I ./test/perl

$(EXTENSION)--$(EXTVERSION).sql: $(SQL_PARTS)
	cat $^ > $@

$(EXTENSION)--1.0--1.1.sql: $(sort $(wildcard src/sql/update-1.1/*.sql))
	cat $^ > $@

.PHONY: prove
prove:
	$(prove_installcheck)

# The version matrix (as root): build each PostgreSQL in VERSIONS (default
# 13 to 18) from source into a cache, once, then build pool_monitor there
# with -Werror and run the suite.  See test/matrix/run.sh.
.PHONY: matrix
matrix:
	bash $(srcdir)/test/matrix/run.sh $(VERSIONS)

# The benchmark (as root): clusters with and without pool_monitor, driven
# by pgbench; writes docs/benchmarks.md.  See test/bench/bench.pl.
.PHONY: bench
bench:
	bash test/bench/run.sh

# The Npgsql scenarios (as root): build the sample API and its load driver
# from NuGet (test/npgsql/build.sh) and run them against Debian's packaged
# PostgreSQL 15 with pool_monitor (PG_BIN to choose another server).
.PHONY: npgsql
npgsql:
	bash test/dev-test.sh $(sort $(wildcard test/t/06*_npgsql_*.pl))

# Unit tests of the pure decision code: each test/unit/test_*.c includes
# the source it tests and is built on its own with cmocka, then run.
UNIT_TESTS = $(patsubst %.c,%,$(wildcard test/unit/test_*.c))
UNIT_CFLAGS = -std=gnu99 -Wall -Wextra -Wno-unused-parameter $(WERROR) -I$(srcdir)/src \
	-I$(includedir_server)

test/unit/test_%: test/unit/test_%.c $(wildcard src/*.c src/*.h)
	$(CC) $(UNIT_CFLAGS) -o $@ $< -lcmocka

.PHONY: unit
unit: $(UNIT_TESTS)
	@for t in $(UNIT_TESTS); do echo "== $$t"; ./$$t || exit 1; done

# policy.c is compiled on its own and uses PostgreSQL's qsort (libpgport,
# in pkglibdir on Debian's packages and in libdir on a source build).
test/unit/test_policy: test/unit/test_policy.c src/policy.c src/policy.h src/pool_monitor.h
	$(CC) $(UNIT_CFLAGS) -o $@ test/unit/test_policy.c src/policy.c \
		-L$(pkglibdir) -L$(libdir) -lpgport -lcmocka

# The release archive, as PGXN wants it: the committed tree (HEAD) as
# pool_monitor-<version>.zip, everything under pool_monitor-<version>/.
# The version is META.json's.
DISTVERSION = $(shell perl -MJSON::PP -0777 -ne 'print decode_json($$_)->{version}' $(srcdir)/META.json)

.PHONY: dist
dist:
	git archive --format=zip --prefix=$(EXTENSION)-$(DISTVERSION)/ \
		-o $(EXTENSION)-$(DISTVERSION).zip HEAD

# The TAP suite and pg_regress against a PostgreSQL built with
# --enable-cassert (SANITIZE_MAJOR, default 15), pool_monitor built with
# ASan and UBSan (as root; the first run builds that server, see
# docs/hardening.md).
.PHONY: sanitize-check
sanitize-check:
	PM_SANITIZE_MAJOR=$(or $(SANITIZE_MAJOR),15) bash $(srcdir)/test/sanitize/run.sh $(SANITIZE_TESTS)

# Inject one bug of each kind into scratch copies; sanitize-check must fail.
.PHONY: sanitize-selftest
sanitize-selftest:
	bash $(srcdir)/test/sanitize/self-test.sh

# Fuzz the exclude lists' parser (src/name_list.c) and the pattern matcher
# (src/policy.c) with libFuzzer under ASan and UBSan, FUZZ_SECONDS each,
# starting from test/fuzz/corpus/ (new inputs go to FUZZ_WORK, not the
# tree).  Needs clang and libclang-rt-14-dev.  See docs/hardening.md.
FUZZ_TARGETS = name_list pattern
FUZZ_SECONDS ?= 60
FUZZ_WORK ?= /tmp/pool_monitor-fuzz
FUZZ_CC ?= clang
FUZZ_CFLAGS = -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=all -Wall -Wno-ignored-attributes \
	-I$(srcdir)/src -I$(includedir_server)

test/fuzz/fuzz_name_list: test/fuzz/fuzz_name_list.c src/name_list.c src/name_list.h src/policy.h
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ test/fuzz/fuzz_name_list.c src/name_list.c \
		-L$(pkglibdir) -L$(libdir) -lpgport

test/fuzz/fuzz_pattern: test/fuzz/fuzz_pattern.c src/policy.c src/policy.h
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ test/fuzz/fuzz_pattern.c src/policy.c \
		-L$(pkglibdir) -L$(libdir) -lpgport

.PHONY: fuzz
fuzz: $(patsubst %,test/fuzz/fuzz_%,$(FUZZ_TARGETS))
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p $(FUZZ_WORK)/$$t; \
		echo "== fuzz $$t for $(FUZZ_SECONDS) s"; \
		if ./test/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -max_len=512 \
			-print_final_stats=1 -artifact_prefix=$(FUZZ_WORK)/$$t- \
			$(FUZZ_WORK)/$$t $(srcdir)/test/fuzz/corpus/$$t \
			> $(FUZZ_WORK)/$$t.log 2>&1; then \
			grep -E '^(stat::number_of_executed_units|Done)' $(FUZZ_WORK)/$$t.log; \
			echo "fuzz $$t: PASS"; \
		else \
			tail -40 $(FUZZ_WORK)/$$t.log; \
			echo "fuzz $$t: FAIL (crashing input in $(FUZZ_WORK)/$$t-*)"; \
			exit 1; \
		fi; \
	done
