# sievefs — plain POSIX-ish make. Appends our flags to the user's CFLAGS;
# every library through pkg-config; objects under $(BUILD) with -MMD -MP.
#   make             build ./sievefs, and the web app into web/dist/ when
#                    Node.js >= 18 and npm are present (else one line says
#                    it skipped the app)
#   make test        unit tests (CMocka) + integration tests (real mounts)
#   make check-asan  the same suite against an ASan+UBSan build (engine runs:
#                    test-pg and test-s3 only)
#   make install     PREFIX=/usr/local DESTDIR= (+ web/dist when built)
#   make web         the web app only (npm ci when web/node_modules is
#                    missing or older than the lockfile, then vite build)
#   make fuzz        libFuzzer harnesses (clang, ASan+UBSan) in build-fuzz/
#   make fuzz-run    run each for FUZZ_SECONDS (default 60) from fuzz/corpus/

PREFIX ?= /usr/local
DESTDIR ?=
BUILD ?= build
CC ?= cc
PKG_CONFIG ?= pkg-config
CFLAGS ?= -O2 -g
WERROR ?=

PKGS = fuse3 sqlite3 libcrypto openblas lapacke libjpeg libpng libwebp stb \
       libmicrohttpd libcurl libcjson libarchive expat libpq
WARN = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
       -Wformat=2 $(WERROR)
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -I. $(WARN) \
             $(shell $(PKG_CONFIG) --cflags $(PKGS)) $(CFLAGS) -MMD -MP
LIBS = $(shell $(PKG_CONFIG) --libs $(PKGS)) -lm -lpthread $(LDLIBS)

LIB_SRC = store/sql.c store/sql_sqlite.c store/schema_sqlite.c \
           store/sql_pg.c store/sql_pg_stmt.c store/schema_pg.c \
           store/db.c store/blob.c store/catalog.c store/vectors.c store/users.c \
           store/features.c store/inputs.c store/kept.c store/sessions.c store/changes.c store/table.c \
           store/thumbs.c store/lightly.c store/idem.c store/queue.c store/servers.c \
           store/s3.c store/s3_sign.c store/s3_ops.c store/s3_xml.c \
           store/blobs_iface.c store/blobs_local.c store/blobs_s3.c store/blobs_spec.c store/blobs_cache.c \
           store/migrate.c \
           core/log.c core/names.c core/local.c core/upload.c core/text.c \
           core/csv.c core/incsv.c core/inputs.c core/imgmeta.c core/runs.c core/plot.c core/layout.c core/embedder.c core/table.c core/thumbs.c \
           core/util.c core/blobs.c core/auth.c core/serve.c core/lightly.c core/idem.c \
           core/columns.c \
           core/request.c core/request_dedup.c \
           $(wildcard sampling/*.c) $(wildcard embed/*.c) \
          $(wildcard api/*.c) $(wildcard cache/*.c) \
          fs/ino.c fs/ops.c fs/openfiles.c fs/files.c fs/xattr.c fs/nodecache.c fs/ctl.c fs/emb.c fs/scratch.c fs/cmdline.c \
          fs/sample_cli.c
# issue 21: core/columns.c is i21a's (a placeholder in other branches)
LIB_SRC += core/columns.c
# issue 21 i21c: tag algebra, exports, duplicates
LIB_SRC += core/tagalg.c core/tagalg_run.c store/selalg.c core/dups.c core/dups_run.c \
           store/dups.c
# issue 21 item 5 (x1): exports/
LIB_SRC += core/exports.c fs/exports.c
# issue 21 item 6 (x2): the web app's columns, cached (api/routes_columns.c)
LIB_SRC += core/colcache.c
# core/local.c split along its seams (core/local_int.h)
LIB_SRC += core/local_text.c core/local_data.c
MAIN_SRC = fs/main.c
# the built web app's home, served by `sievefs serve` when it exists
WEB_DIR = $(PREFIX)/share/sievefs/web
UNIT = sql store names fsname csv runs sampling layout decode embed cache api thumb changes table thumbs lightly state \
       layer sqlite_engine blobstore idem queue select incsv imgstats tagalg dups dupset \
       exports colcache whole
LIB_OBJ = $(LIB_SRC:%.c=$(BUILD)/%.o)
MAIN_OBJ = $(MAIN_SRC:%.c=$(BUILD)/%.o)
UNIT_BIN = $(UNIT:%=$(BUILD)/tests/unit/test_%)

all: sievefs web

sievefs: $(BUILD)/sievefs
	cp $(BUILD)/sievefs $@.tmp && mv -f $@.tmp $@

$(BUILD)/sievefs: $(LIB_OBJ) $(MAIN_OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# tstore.o: the temporary store the unit tests' fixtures open (tstore.h)
$(BUILD)/tests/unit/test_%: $(BUILD)/tests/unit/test_%.o \
			    $(BUILD)/tests/unit/tstore.o $(LIB_OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) -Wl,--wrap=db_open_catalog -o $@ $^ $(LIBS) \
	      $(shell $(PKG_CONFIG) --libs cmocka)

$(BUILD)/tests/unit/%.o: ALL_CFLAGS += $(shell $(PKG_CONFIG) --cflags cmocka)
# tstore.c starts tests/scale/pg.sh from the source tree
$(BUILD)/tests/unit/tstore.o: ALL_CFLAGS += -DSIEVEFS_SRC_DIR='"$(CURDIR)"'
$(BUILD)/api/server.o $(BUILD)/api/server_run.o: ALL_CFLAGS += -DSIEVEFS_WEB_DIR='"$(WEB_DIR)"' \
	-DSIEVEFS_SRC_DIR='"$(CURDIR)"'

units: $(UNIT_BIN)

# store/s3*.c and the blob store's S3 engine (test_blobstore with
# BLOBSTORE_S3=1: the contract both engines keep) against a real Ceph RGW,
# started by tests/scale/rgw.sh in a temp dir (~3 s) and stopped in a trap;
# the binaries get the endpoint, bucket and keys from the RGW's s3.env
# (environment, never argv). Not part of `units` (it needs radosgw,
# ceph-mon, ceph-osd: .ci/deps). S3_BENCH=1 / BLOBS_BENCH=1 add figures.
S3_UNIT = $(BUILD)/tests/unit/test_s3
BLOBS_UNIT = $(BUILD)/tests/unit/test_blobstore
test-s3: $(S3_UNIT) $(BLOBS_UNIT)
	@d=$$(mktemp -d /tmp/sievefs-rgw.XXXXXX) && \
	trap 'bash tests/scale/rgw.sh stop '"$$d"' >/dev/null' EXIT INT TERM && \
	bash tests/scale/rgw.sh start "$$d" >/dev/null && \
	( set -a && . "$$d/s3.env" && set +a && S3_RGW_DIR="$$d" $(S3_UNIT) && \
	  BLOBSTORE_S3=1 $(BLOBS_UNIT) )

# Every test: unit tests first (fast), then the integration suite, which
# mounts real filesystems in temp dirs (one summary line), then the
# store's engines against the real servers: test-pg, test-s3 and
# test-migrate, then a team deployment (test-deploy: PostgreSQL, Ceph RGW,
# two servers, HAProxy; test-deploy-faults; test-deploy-web: the browser
# tests through it). SV_TESTS picks integration
# scripts (tests/run-all.sh); with it set, the engine runs happen only when
# it names them too ("pg", "s3", "migrate", "deploy"); without it, those
# ENGINE_RUNS names (check-asan leaves out the deployment and migrate: the
# same server code as the integration suite's, at ten minutes' cost).
ENGINE_RUNS ?= pg s3 migrate deploy
RUNS_NOW = $(if $(SV_TESTS),$(SV_TESTS),$(ENGINE_RUNS))
test: $(BUILD)/sievefs $(UNIT_BIN) $(S3_UNIT) web
	SIEVEFS=$(abspath $(BUILD)/sievefs) UNIT_BINS="$(UNIT_BIN)" UNIT_NOCAT_BINS="$(UNIT_NOCAT_BIN)" \
	    bash tests/run-all.sh
	@case " $(RUNS_NOW) " in *" pg "*) \
	    $(MAKE) --no-print-directory test-pg;; esac
	@case " $(RUNS_NOW) " in *" s3 "*) \
	    $(MAKE) --no-print-directory test-s3;; esac
	@case " $(RUNS_NOW) " in *" migrate "*) \
	    $(MAKE) --no-print-directory test-migrate;; esac
	@case " $(RUNS_NOW) " in *" deploy "*) \
	    $(MAKE) --no-print-directory test-deploy test-deploy-faults test-deploy-web;; esac

# Every unit binary again with the store's catalog on a throwaway
# PostgreSQL 15 (tests/scale/pg.sh; needs Debian's postgresql-15).
# Not the binaries that open no catalog (UNIT_NOCAT): on PostgreSQL they
# would run again unchanged (test_sampling alone is 22 s under ASan). make
# test runs them with SIEVEFS_TEST_NO_CATALOG=1, under which tstore.c
# fails any catalog they open, so the list cannot go stale unseen.
UNIT_NOCAT = names fsname csv sampling layout decode embed cache thumb sqlite_engine imgstats dups
UNIT_NOCAT_BIN = $(UNIT_NOCAT:%=$(BUILD)/tests/unit/test_%)
test-pg: $(UNIT_BIN)
	@echo "test-pg: not run again on PostgreSQL (they open no catalog): $(UNIT_NOCAT:%=test_%)"
	bash tests/scale/test-pg.sh $(filter-out $(UNIT_NOCAT_BIN),$(UNIT_BIN))

# The server's integration tests again with `sievefs serve`'s and `sievefs
# token`'s catalog in a throwaway PostgreSQL 15, blobs still in STORE
# (SV_CATALOG=pg: tests/integration/server_lib.sh starts one per script).
# SERVE_PG_TESTS: the scripts that source server_lib.sh and run a serve or
# token command on a store no mount used first (one in which none reached
# PostgreSQL fails). Not here: t_mount_web (every store is a mount's: its
# web door, so its catalog is STORE/catalog.db) and t_pyclient, whose
# test_kill9_and_resume races with the server (it compares the tree with
# the selection while commits the killed client had sent still land: seen
# on PostgreSQL in 1 of 3 runs).
SERVE_PG_TESTS ?= t_serve_pg t_serve_config t_server t_remote t_remote_crash t_remote_emb \
	t_remote_modes t_remote_pins t_remote_rate t_remote_reval t_remote_two \
	t_remote_bytes t_remote_whole \
	t_app_api t_app_media t_app_samples t_web_session t_tls \
	t_serve_framing t_serve_starve t_server_leak t_lightly t_lightly_al t_duplicates_kept \
	t_cli t_owner t_perms t_chown t_create_content t_deep t_generated \
	t_mount_log t_open_unlinked t_parity t_posix t_selnames t_shell \
	t_tag_busy t_tag_folders t_tag_selected
# `sievefs store migrate` from a mount's store into a throwaway PostgreSQL 15
# and Ceph RGW, killed once in the middle and resumed (tests/scale/
# test-migrate.sh starts and stops both).
test-migrate: $(BUILD)/sievefs
	SIEVEFS=$(abspath $(BUILD)/sievefs) bash tests/scale/test-migrate.sh

test-serve-pg: $(BUILD)/sievefs
	SV_CATALOG=pg SIEVEFS=$(abspath $(BUILD)/sievefs) \
	    bash tests/integration/run.sh $(SERVE_PG_TESTS)

# The server's integration tests again with `sievefs serve`'s blobs in S3
# (SV_BLOBS=s3: every serve gets --blobs s3://…, tests/integration/
# server_lib.sh), on one Ceph RGW started here for all of them (~3 s,
# tests/scale/rgw.sh, stopped in a trap). With SV_CATALOG=pg too, the
# catalogs go to PostgreSQL as in test-serve-pg. The same scripts, and
# t_serve_s3 (S3 only: streaming, a lying PUT, kill -9 mid-upload, sweep).
SERVE_S3_TESTS ?= t_serve_s3 $(SERVE_PG_TESTS)
test-serve-s3: $(BUILD)/sievefs
	@d=$$(mktemp -d /tmp/sievefs-rgw.XXXXXX) && \
	trap 'bash tests/scale/rgw.sh stop '"$$d"' >/dev/null' EXIT INT TERM && \
	bash tests/scale/rgw.sh start "$$d" >/dev/null && \
	SV_RGW_DIR="$$d" SV_BLOBS=s3 SIEVEFS=$(abspath $(BUILD)/sievefs) \
	    bash tests/integration/run.sh $(SERVE_S3_TESTS)

# The remote integration suite, unchanged, against a team deployment per
# test: SV_CATALOG=pg + SV_BLOBS=s3 + SV_DEPLOY=1 make every start_server two
# servers on the test's PostgreSQL catalog and one bucket of a Ceph RGW
# (started here once for all of them), behind HAProxy
# (tests/integration/deploy_lib.sh).
DEPLOY_TESTS = t_remote t_remote_crash t_remote_emb t_remote_modes \
	t_remote_pins t_remote_rate t_remote_reval t_remote_two t_remote_idem \
	t_remote_bytes t_remote_whole t_server t_app_api t_app_media t_app_samples t_lightly t_pyclient \
	t_serve_s3
test-deploy: $(BUILD)/sievefs
	@d=$$(mktemp -d /tmp/sievefs-rgw.XXXXXX) && \
	trap 'bash tests/scale/rgw.sh stop '"$$d"' >/dev/null' EXIT INT TERM && \
	bash tests/scale/rgw.sh start "$$d" >/dev/null && \
	SV_RGW_DIR="$$d" SV_BLOBS=s3 SV_CATALOG=pg SV_DEPLOY=1 \
	    SIEVEFS=$(abspath $(BUILD)/sievefs) \
	    bash tests/integration/run.sh $(DEPLOY_TESTS)

# A team deployment on loopback (tests/scale/deploy.sh: PostgreSQL 15, Ceph
# RGW, two servers on one catalog and one bucket, HAProxy in front): its
# faults (kill -9 of a server under cp -r, PostgreSQL restarted under
# listings, the object store stopped).
test-deploy-faults: $(BUILD)/sievefs
	DEPLOY_BLOBS=s3 SIEVEFS=$(abspath $(BUILD)/sievefs) \
	    bash tests/scale/t_deploy_faults.sh

# The web app's browser tests (tests/web/app.test.mjs, unchanged) against a
# team deployment: SV_WEB_DEPLOY=1 makes tests/web/harness.mjs's startServe
# two servers on a PostgreSQL catalog and one S3 prefix of a Ceph RGW, behind
# HAProxy; PostgreSQL 15 (tests/scale/pg.sh) and the RGW (tests/scale/rgw.sh)
# start here once and stop in a trap. Not here: webmount.test.mjs (a mount's
# web door, -o web=, is no server).
test-deploy-web: $(BUILD)/sievefs web
	@d=$$(mktemp -d /tmp/sievefs-rgw.XXXXXX) && p=$$(mktemp -d /tmp/sievefs-pgweb.XXXXXX) && \
	trap 'bash tests/scale/rgw.sh stop '"$$d"' >/dev/null; bash tests/scale/pg.sh stop '"$$p"' >/dev/null; rm -rf -- '"$$p" EXIT INT TERM && \
	bash tests/scale/rgw.sh start "$$d" >/dev/null && \
	u=$$(bash tests/scale/pg.sh start "$$p") && \
	SV_WEB_DEPLOY=1 SV_PGBASE="$${u%/*}" SV_RGW_DIR="$$d" \
	    SV_TESTS=web SV_WEB_TESTS=tests/web/app.test.mjs \
	    SIEVEFS=$(abspath $(BUILD)/sievefs) bash tests/run-all.sh

# What check-asan leaves out (tests/run-all.sh's SV_SKIP): the web app's
# Vitest (no C) and browser tests (their routes are t_app_*'s), and the
# slowest scripts whose C paths other scripts cover: kill -9 loops, the
# local/remote parity rerun, deep trees, the web door of a mount, rate
# limits' waiting. About 10 of CI's minutes.
ASAN_SKIP ?= vitest web t_crash_loop t_mount_web t_parity t_deep t_remote_rate
check-asan:
	$(MAKE) BUILD=build-asan \
	    CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer" \
	    LDFLAGS="-fsanitize=address,undefined" WERROR="$(WERROR)" \
	    ENGINE_RUNS="pg s3" SV_SKIP="$(ASAN_SKIP)" test

install: $(BUILD)/sievefs web
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)/sbin
	install -m 755 $(BUILD)/sievefs $(DESTDIR)$(PREFIX)/bin/sievefs
	ln -sf $(PREFIX)/bin/sievefs $(DESTDIR)/sbin/mount.fuse.sievefs
	@if [ -f web/dist/index.html ]; then \
		rm -rf $(DESTDIR)$(WEB_DIR) && install -d $(DESTDIR)$(WEB_DIR) && \
		cp -R web/dist/. $(DESTDIR)$(WEB_DIR)/ && \
		chmod -R u=rwX,go=rX $(DESTDIR)$(WEB_DIR) && \
		echo "installed the web app in $(DESTDIR)$(WEB_DIR)"; \
	else echo "web app not built: $(DESTDIR)$(WEB_DIR) not installed"; fi

# The web app (web/, issue 17): built with Node.js >= 18 and npm when both
# are here, else skipped with one line (the server then answers / with how
# to build it). npm ci runs when web/node_modules is missing or older than
# the lockfile (a stamp file marks a finished install); vite build writes
# web/dist/, which `sievefs serve` run from this tree serves by default
# (api/server_run.c, srv_default_web_root) and `make install` copies to $(WEB_DIR).
NODE ?= node
NPM ?= npm
WEB_OK := $(shell $(NODE) -e 'process.exit(+process.versions.node.split(".")[0] >= 18 ? 0 : 1)' \
	      >/dev/null 2>&1 && command -v $(NPM) >/dev/null 2>&1 && echo yes)
WEB_SRC := $(shell find web/src web/public -type f 2>/dev/null) \
	   $(wildcard web/index.html web/vite.config.ts web/tsconfig.json)
WEB_STAMP = web/node_modules/.sievefs-npm-ci

ifneq ($(WEB_OK),yes)
web web-deps:
	@echo "make: skipped the web app (needs Node.js >= 18 and npm; have: $$($(NODE) --version 2>/dev/null || echo no node), $$($(NPM) --version 2>/dev/null || echo no npm))"
else ifeq ($(wildcard web/index.html),)
web: web-deps
	@echo "make: skipped the web app (web/index.html is missing: no app source)"
web-deps: $(WEB_STAMP)
else
web: web/dist/index.html
web-deps: $(WEB_STAMP)
endif

$(WEB_STAMP): web/package-lock.json web/package.json
	cd web && $(NPM) ci --no-audit --no-fund
	touch $@

web/dist/index.html: $(WEB_STAMP) $(WEB_SRC)
	cd web && npx --no-install vite build --logLevel warn
	@test -f $@ && touch $@

# libFuzzer harnesses (fuzz/*.c, see fuzz/run): the library is rebuilt with
# clang under ASan+UBSan (UB aborts) and coverage instrumentation into
# $(FUZZ_BUILD)/, archived so a harness links only the objects it uses.
# Our WARN flags apply; -Werror stays the gcc build's job (clang warns
# differently). pkg-config's -I/usr/include/x86_64-linux-gnu is harmless.
FUZZ_CC ?= clang
FUZZ_BUILD ?= build-fuzz
FUZZ_CFLAGS ?= -O1 -g -fno-omit-frame-pointer
FUZZ_SAN = -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ = csv selection request json route http incsv
FUZZ_ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -I. \
                  -Wall -Wextra -Wshadow -Wstrict-prototypes \
                  -Wmissing-prototypes -Wformat=2 \
                  $(shell $(PKG_CONFIG) --cflags $(PKGS)) $(FUZZ_CFLAGS) \
                  $(FUZZ_SAN) -fsanitize=fuzzer-no-link -MMD -MP
FUZZ_LIB_OBJ = $(LIB_SRC:%.c=$(FUZZ_BUILD)/%.o)
FUZZ_BIN = $(FUZZ:%=$(FUZZ_BUILD)/fuzz_%)

$(FUZZ_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_ALL_CFLAGS) -c -o $@ $<

$(FUZZ_BUILD)/libsievefs.a: $(FUZZ_LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/fuzz/%.o $(FUZZ_BUILD)/libsievefs.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(LIBS)

.SECONDARY: $(FUZZ:%=$(FUZZ_BUILD)/fuzz/%.o)

fuzz: $(FUZZ_BIN)

fuzz-run: $(FUZZ_BIN)
	FUZZ_BUILD=$(FUZZ_BUILD) bash fuzz/run $(FUZZ)

clean:
	rm -rf build build-asan build-fuzz sievefs web/dist

.PHONY: all units test test-pg test-s3 test-deploy test-deploy-faults test-deploy-web test-serve-pg test-serve-s3 test-migrate check-asan install clean fuzz fuzz-run web web-deps

-include $(LIB_OBJ:.o=.d) $(MAIN_OBJ:.o=.d) $(UNIT_BIN:=.d) $(BUILD)/tests/unit/tstore.d \
         $(FUZZ_LIB_OBJ:.o=.d) $(FUZZ:%=$(FUZZ_BUILD)/fuzz/%.d)
