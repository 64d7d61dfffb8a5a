# authflow: PGXS build of the extension, and the project's entry points.
#
#   make run     install what is missing, build, start a local cluster and the gateway
#   make test    the same set-up, then every test suite (ctest)
#   make bench   the benchmarks (docs/benchmarks.md)
#   make test-citus  the scale-out contract on a Citus coordinator + 2 workers (tests/citus/run;
#                    builds Citus from ../shared/vendor once)
#   make test-setup  scripts/install-deps for every kind of user, in a throwaway Debian 12 root
#   make deb     the Debian packages postgresql-15-authflow and authflow-gateway, in build/deb
#   make test-deb    those packages installed, updated from 0.1.0's and run, in a throwaway Debian 12 root
#   make         build the extension only; make install installs it into PostgreSQL 15

EXTNAME     = authflow
# The version lives in one place: default_version in the control file.
EXTVERSION  = $(shell sed -n "s/^default_version *= *'\([^']*\)'.*/\1/p" extension/authflow.control)

PG_CONFIG  ?= /usr/lib/postgresql/15/bin/pg_config
BUILD_DIR  ?= build

MODULE_big  = $(EXTNAME)
OBJS        = $(patsubst %.cpp,%.o,$(wildcard extension/*.cpp))
MODULEDIR   = extension
# SQL scripts (see sql/README.md): released ones are committed in sql/ and never edited; the
# current version's install script and its upgrade scripts are assembled from
#   sql/state/*.sql     what a fresh install creates that holds data: schema, tables, types
#   sql/src/*.sql       functions and grants, all re-runnable (CREATE OR REPLACE)
#   sql/upgrade/A--B.sql the changes to state from release A, run before sql/src in the update
#   sql/upgrade/A--B.after.sql (optional) what must run after sql/src (grants of re-created functions)
STATE_SOURCES   = $(sort $(wildcard sql/state/*.sql))
CODE_SOURCES    = $(sort $(wildcard sql/src/*.sql))
UPGRADE_SOURCES = $(filter-out %.after.sql,$(wildcard sql/upgrade/*--$(EXTVERSION).sql))
BUILT_SCRIPTS   = sql/$(EXTNAME)--$(EXTVERSION).sql \
                  $(patsubst sql/upgrade/%.sql,sql/$(EXTNAME)--%.sql,$(UPGRADE_SOURCES))
DATA        = extension/$(EXTNAME).control $(filter-out $(BUILT_SCRIPTS),$(wildcard sql/$(EXTNAME)--*.sql))
DATA_built  = $(BUILT_SCRIPTS)
EXTRA_CLEAN = $(BUILT_SCRIPTS)
PG_CXXFLAGS = -std=c++17 -Wall -Wextra -Werror -O2
# Postgres headers as system headers: warnings are errors in our code, not in theirs.
PG_CPPFLAGS = -isystem $(shell $(PG_CONFIG) --includedir-server 2>/dev/null)
SHLIB_LINK += -lstdc++ -lcrypto

.DEFAULT_GOAL := all

# No LLVM bitcode: the JIT gains nothing from inlining these functions, and it would need clang.
override with_llvm = no
ifneq ($(wildcard $(PG_CONFIG)),)
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)
endif

# PGXS tracks no header dependencies: every object depends on every header of the extension.
$(OBJS): $(wildcard extension/*.hpp)

# The current version's scripts are assembled; each begins with the \echo guard of its first part.
sql/$(EXTNAME)--$(EXTVERSION).sql: $(STATE_SOURCES) $(CODE_SOURCES) extension/$(EXTNAME).control
	cat $(STATE_SOURCES) $(CODE_SOURCES) > $@

sql/$(EXTNAME)--%--$(EXTVERSION).sql: sql/upgrade/%--$(EXTVERSION).sql $(CODE_SOURCES) $(wildcard sql/upgrade/*.after.sql) extension/$(EXTNAME).control
	cat $< $(CODE_SOURCES) $(wildcard sql/upgrade/$*--$(EXTVERSION).after.sql) > $@

.PHONY: deps deps-bench deps-deb deb test-citus test-setup test-deb install-extension cmake-build cluster-start cluster-start-test run test bench format

deps:
	@scripts/install-deps

deps-bench:
	@scripts/install-deps --bench

deps-deb:
	@scripts/install-deps --deb

# install-extension builds and installs into the PostgreSQL 15 tree (sudo when not root; without
# root rights, scripts/as-root says what an administrator would run).
install-extension: deps
	@$(MAKE) --no-print-directory all
	@scripts/as-root --why "installing the extension into PostgreSQL's directories ($(shell $(PG_CONFIG) --pkglibdir), $(shell $(PG_CONFIG) --sharedir)/extension)" \
	  --admin "  make -C $(CURDIR) install PG_CONFIG=$(PG_CONFIG)" $(MAKE) --no-print-directory install

cmake-build: deps
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD_DIR) -j2

cluster-start: install-extension
	@scripts/cluster start
	@scripts/cluster create-database

# Tests need the extension of this very build: an unreleased version built from other sources is
# re-created (an older version is still updated, as for make run).
cluster-start-test: install-extension
	@scripts/cluster start
	@scripts/cluster create-database --rebuild-changed

run: install-extension cmake-build cluster-start
	@scripts/gateway start
	@scripts/cluster banner

test: install-extension cmake-build cluster-start-test
	@scripts/cluster exec ctest --test-dir $(BUILD_DIR) --output-on-failure

# test-citus: the scale-out contract on a throwaway Citus cluster (docs/scale-out.md).
test-citus: install-extension cmake-build
	@scripts/install-deps --citus
	@tests/citus/run

# test-setup: scripts/install-deps on a fresh Debian 12 (debootstrap) as root, as sudo users with and
# without a password and a terminal, and as a user without sudo (tests/setup/run; needs root).
test-setup:
	@scripts/install-deps --setup-test
	@scripts/as-root --why "tests/setup/run (debootstrap, chroot, mounts)" tests/setup/run

# deb: the packages, built by dpkg-buildpackage (debhelper, pg_buildext) from debian/ on a copy of
# this checkout (scripts/build-deb); nothing is installed.
deb: deps-deb
	@scripts/build-deb

# test-deb: make deb, and 0.1.0's package; both installed on a fresh Debian 12 (debootstrap) with
# Debian's PostgreSQL, the extension created and updated, the gateway run by its unit's command
# line (tests/deb/run; needs root).
test-deb: deb
	@scripts/install-deps --setup-test
	@scripts/as-root --why "tests/deb/run (debootstrap, chroot, mounts)" tests/deb/run

bench: deps-bench install-extension cmake-build cluster-start
	@scripts/cluster exec bench/run

format:
	clang-format -i extension/*.cpp extension/*.hpp gateway/*.cpp gateway/*.hpp tests/*/*.cpp bench/*.cpp
