# clientcert: build the C module for Lua 5.4 and for LuaJIT (separate outputs),
# run the specs, lint, and the memory checks. `make help` lists the targets.

CC       ?= gcc
CFLAGS   ?= -O2 -g
WARN     = -std=c99 -Wall -Wextra -pedantic -Werror=implicit-function-declaration
PICFLAGS = -fPIC -fvisibility=hidden
SSL_CFLAGS := $(shell pkg-config --cflags openssl 2>/dev/null)
SSL_LIBS   := $(shell pkg-config --libs openssl 2>/dev/null || echo -lssl -lcrypto)
LUA54_INC  ?= $(shell pkg-config --cflags lua5.4 2>/dev/null || echo -I/usr/include/lua5.4)
LUAJIT_INC ?= $(shell pkg-config --cflags luajit 2>/dev/null || echo -I/usr/include/luajit-2.1)

SRC  = csrc/common.c csrc/names.c csrc/cert.c csrc/bundle.c csrc/crl.c csrc/pkcs12.c csrc/store.c csrc/crlcheck.c csrc/codes.c csrc/sysio.c csrc/dir.c csrc/calendar.c csrc/probe.c csrc/revocation.c csrc/bounded.c csrc/pattern.c csrc/core.c
HDR  = csrc/compat.h csrc/clientcert.h
OUT54 = build/lua5.4/clientcert/core.so
OUTJIT = build/luajit/clientcert/core.so

.PHONY: all lua54 luajit test test54 testjit lint clean help asan oom valgrind install uninstall rock rock-install fuzz fuzz-build fuzz-seeds bench bench-hostile bench-nginx

all: lua54 luajit ## build both modules

lua54: $(OUT54) ## build the Lua 5.4 module only (build/lua5.4/)
luajit: $(OUTJIT) ## build the LuaJIT module only (build/luajit/)

$(OUT54): $(SRC) $(HDR)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CFLAGS) $(PICFLAGS) $(LUA54_INC) $(SSL_CFLAGS) -shared -o $@ $(SRC) $(SSL_LIBS)

$(OUTJIT): $(SRC) $(HDR)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CFLAGS) $(PICFLAGS) $(LUAJIT_INC) $(SSL_CFLAGS) -shared -o $@ $(SRC) $(SSL_LIBS)

test: all ## run the specs under Lua 5.4 and LuaJIT; ends with "N passed, N failed"
	@bash spec/run

test54: lua54 ## the specs under Lua 5.4 only
	@bash spec/run lua5.4

testjit: luajit ## the specs under LuaJIT only
	@bash spec/run luajit

lint: ## warnings-as-errors C build and luacheck
	$(CC) $(WARN) -Werror $(PICFLAGS) $(LUA54_INC) -fsyntax-only $(SRC)
	$(CC) $(WARN) -Werror $(PICFLAGS) $(LUAJIT_INC) -fsyntax-only $(SRC)
	$(CC) $(WARN) -Werror $(SSL_CFLAGS) -fsyntax-only spec/conformance/pkits_openssl.c
	luacheck lua spec bin examples bench

# OpenSSL's own verdicts on the NIST PKITS runs (spec/conformance/pkits_spec.lua builds it)
build/conformance/pkits_openssl: spec/conformance/pkits_openssl.c
	@mkdir -p build/conformance
	$(CC) $(WARN) -O2 $(SSL_CFLAGS) -o $@ $< $(SSL_LIBS)

OUTASAN = build/asan/clientcert/core.so
SAN_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LIBASAN := $(shell $(CC) -print-file-name=libasan.so)
SPEC_PATHS = --lpath='./lua/?.lua;./lua/?/init.lua;./spec/?.lua'

$(OUTASAN): $(SRC) $(HDR)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) -O1 -g $(SAN_FLAGS) $(PICFLAGS) $(LUA54_INC) $(SSL_CFLAGS) -shared -o $@ $(SRC) $(SSL_LIBS)

# The memory checks run the specs whose C runs in this busted process. They leave
# out those that drive other processes (spec/run runs them): packaging_spec (make
# install, luarocks make), the nginx specs (the gate's C runs in nginx's workers; the
# probe's against nginx is probe_spec's against openssl s_server).
MEMCHECK_SPECS = --exclude-pattern='^packaging_spec' --exclude-pattern='nginx_spec' spec
# The test PKI is made once per run into a new directory (spec/helpers/pki.lua).
WITH_TEST_PKI = pki=$$(mktemp -d /tmp/clientcert-pki.XXXXXX) && trap 'rm -rf "$$pki"' EXIT && \
	  export CLIENTCERT_TEST_PKI="$$pki/pki" &&

asan: $(OUTASAN) ## the specs under AddressSanitizer + UBSan (stock lua5.4, runtime preloaded)
	$(WITH_TEST_PKI) LD_PRELOAD=$(LIBASAN) ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/.ci/lsan.supp:print_suppressions=0 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  lua5.4 /usr/bin/busted $(SPEC_PATHS) --cpath='./build/asan/?.so' -o utfTerminal $(MEMCHECK_SPECS)

# fuzz/oom.c: every case of fuzz/oom.lua with a Lua allocator that fails at each
# allocation in turn (a raise between an OpenSSL allocation and its free must leak
# nothing); AddressSanitizer and LeakSanitizer without suppressions: the harness
# closes its Lua state, so any leak at exit is real.
build/oom/oom: fuzz/oom.c $(SRC) $(HDR)
	@mkdir -p build/oom
	$(CC) $(WARN) -O1 -g $(SAN_FLAGS) $(LUA54_INC) $(SSL_CFLAGS) -o $@ fuzz/oom.c $(SRC) -llua5.4 $(SSL_LIBS)

oom: build/oom/oom ## core functions under a Lua allocator failing at every allocation in turn: no leak, no crash (ASan)
	@test -f build/oom/pki/alice.p12 || bash spec/fixtures/mkpki.sh build/oom/pki > /dev/null
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  build/oom/oom fuzz/oom.lua build/oom/pki

valgrind: lua54 ## the specs under valgrind memcheck: no error, no definite leak
	$(WITH_TEST_PKI) valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
	  --show-leak-kinds=definite lua5.4 /usr/bin/busted $(SPEC_PATHS) --cpath='./build/lua5.4/?.so' -o utfTerminal \
	  $(MEMCHECK_SPECS)

# Installation: both runtimes' files straight into PREFIX, where the stock
# interpreters search (Debian lua5.4 and luajit: PREFIX/{share,lib}/lua/5.4 and
# .../5.1), and the clientcert command into PREFIX/bin. Nothing is built in place:
# the modules come from build/, so no clientcert/core.so is ever left in the
# checkout for LuaJIT's "./?.so" to pick up. DESTDIR stages a package.
PREFIX  ?= /usr/local
DESTDIR ?=
LUA54_LMOD = $(DESTDIR)$(PREFIX)/share/lua/5.4
LUA54_CMOD = $(DESTDIR)$(PREFIX)/lib/lua/5.4
JIT_LMOD   = $(DESTDIR)$(PREFIX)/share/lua/5.1
JIT_CMOD   = $(DESTDIR)$(PREFIX)/lib/lua/5.1
BINDIR     = $(DESTDIR)$(PREFIX)/bin
LUA_SRC    = $(wildcard lua/clientcert/*.lua)
CLI_SRC    = $(wildcard lua/clientcert/cli/*.lua)

install: all ## install for Lua 5.4 and LuaJIT/OpenResty, and the clientcert command, under PREFIX (/usr/local; as root)
	install -d $(LUA54_LMOD)/clientcert/cli $(LUA54_CMOD)/clientcert $(JIT_LMOD)/clientcert/cli $(JIT_CMOD)/clientcert $(BINDIR)
	install -m 0644 $(OUT54) $(LUA54_CMOD)/clientcert/core.so
	install -m 0644 $(LUA_SRC) $(LUA54_LMOD)/clientcert/
	install -m 0644 $(CLI_SRC) $(LUA54_LMOD)/clientcert/cli/
	install -m 0644 $(OUTJIT) $(JIT_CMOD)/clientcert/core.so
	install -m 0644 $(LUA_SRC) $(JIT_LMOD)/clientcert/
	install -m 0644 $(CLI_SRC) $(JIT_LMOD)/clientcert/cli/
	install -m 0755 bin/clientcert $(BINDIR)/clientcert

uninstall: ## remove what install put in place (and a clientcert rock an older `make install` registered with LuaRocks)
	@if command -v luarocks >/dev/null 2>&1 && luarocks --lua-version=5.4 show clientcert >/dev/null 2>&1; then \
	  echo "luarocks --lua-version=5.4 remove clientcert"; luarocks --lua-version=5.4 remove clientcert; fi
	rm -rf $(LUA54_LMOD)/clientcert $(LUA54_CMOD)/clientcert $(JIT_LMOD)/clientcert $(JIT_CMOD)/clientcert
	rm -f $(BINDIR)/clientcert

# LuaRocks (`luarocks make`, build.type = "make" in clientcert-scm-1.rockspec):
# `rock` builds for the Lua whose headers are in LUA_INCDIR into build/rock/ (not
# into the checkout's module paths), `rock-install` copies into the rock's dirs.
ROCK_OUT = build/rock/clientcert/core.so
ROCK_SSL_CFLAGS = $(if $(OPENSSL_INCDIR),-I$(OPENSSL_INCDIR),$(SSL_CFLAGS))
ROCK_SSL_LIBS   = $(if $(OPENSSL_LIBDIR),-L$(OPENSSL_LIBDIR)) $(SSL_LIBS)

rock: ## (run by luarocks make) build core.so for LUA_INCDIR into build/rock
	@test -n "$(LUA_INCDIR)" || { echo "make rock: LUA_INCDIR is not set (run by luarocks make)"; exit 2; }
	@mkdir -p $(dir $(ROCK_OUT))
	$(CC) $(WARN) $(CFLAGS) $(PICFLAGS) -I$(LUA_INCDIR) $(ROCK_SSL_CFLAGS) -shared -o $(ROCK_OUT) $(SRC) $(ROCK_SSL_LIBS)

rock-install: ## (run by luarocks make) copy the module and Lua files into INST_LIBDIR / INST_LUADIR
	@test -n "$(INST_LIBDIR)" -a -n "$(INST_LUADIR)" || { echo "make rock-install: INST_LIBDIR/INST_LUADIR not set"; exit 2; }
	install -d $(INST_LIBDIR)/clientcert $(INST_LUADIR)/clientcert/cli
	install -m 0644 $(ROCK_OUT) $(INST_LIBDIR)/clientcert/core.so
	install -m 0644 $(LUA_SRC) $(INST_LUADIR)/clientcert/
	install -m 0644 $(CLI_SRC) $(INST_LUADIR)/clientcert/cli/

FUZZ_CC ?= clang
FUZZ_FLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_TARGETS = parse parse_all parse_crl verify ocsp
FUZZ_SECONDS ?= 15
FUZZ_SEED ?= 0
CORPUS = ../shared/conformance/parse-corpus

build/fuzz/%: fuzz/fuzz.c $(SRC) $(HDR)
	@mkdir -p build/fuzz
	$(FUZZ_CC) $(FUZZ_FLAGS) -DFUZZ_TARGET=$(FUZZ_ID_$*) $(LUA54_INC) $(SSL_CFLAGS) -o $@ \
	  fuzz/fuzz.c $(SRC) -llua5.4 $(SSL_LIBS)

FUZZ_ID_parse = 1
FUZZ_ID_parse_all = 2
FUZZ_ID_parse_crl = 3
FUZZ_ID_verify = 4
FUZZ_ID_ocsp = 5

fuzz-build: $(addprefix build/fuzz/,$(FUZZ_TARGETS)) ## build the libFuzzer targets (clang)

fuzz-seeds: ## seed corpora: the parse corpus, and chains from the test PKI for verify
	@mkdir -p build/fuzz/seeds/certs build/fuzz/seeds/crls build/fuzz/seeds/verify
	find $(CORPUS) -type f \( -name '*.pem' -o -name '*.der' -o -name '*.crt' \) | grep -v -i crl \
	  | xargs -I{} cp {} build/fuzz/seeds/certs/
	find $(CORPUS) -type f -iname '*crl*' | xargs -I{} cp {} build/fuzz/seeds/crls/
	bash spec/fixtures/mkpki.sh build/fuzz/pki > /dev/null
	lua5.4 fuzz/seed-verify.lua build/fuzz/pki build/fuzz/seeds/verify
	cp build/fuzz/pki/*.crl build/fuzz/seeds/crls/
	@mkdir -p build/fuzz/seeds/ocsp
	bash spec/fixtures/revocation.sh build/fuzz/rev 1 2 3 4 5 > /dev/null
	for l in good revoked unknown; do \
	  openssl ocsp -issuer build/fuzz/rev/inter.pem -cert build/fuzz/rev/leaf-$$l.pem -no_nonce \
	    -reqout build/fuzz/rev/req-$$l.der > /dev/null && \
	  openssl ocsp -index build/fuzz/rev/index.txt -rsigner build/fuzz/rev/responder.pem \
	    -rkey build/fuzz/rev/responder.key -CA build/fuzz/rev/inter.pem -nmin 60 \
	    -reqin build/fuzz/rev/req-$$l.der -respout build/fuzz/seeds/ocsp/$$l.der > /dev/null || exit 1; \
	done
	cp build/fuzz/rev/www/*.crl build/fuzz/seeds/ocsp/

fuzz: fuzz-build fuzz-seeds ## run each fuzzer FUZZ_SECONDS (15) with FUZZ_SEED (0 = random); crashers go to fuzz/crashers/
	@mkdir -p fuzz/crashers build/fuzz/work
	@set -e; for t in $(FUZZ_TARGETS); do \
	  case $$t in parse_crl) seeds=crls;; verify) seeds=verify;; ocsp) seeds=ocsp;; *) seeds=certs;; esac; \
	  mkdir -p build/fuzz/work/$$t; \
	  echo "-- fuzzing $$t for $(FUZZ_SECONDS)s"; \
	  ASAN_OPTIONS=detect_leaks=1 build/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -seed=$(FUZZ_SEED) -max_len=65536 \
	    -rss_limit_mb=2048 -artifact_prefix=fuzz/crashers/$$t- -print_final_stats=1 \
	    build/fuzz/work/$$t build/fuzz/seeds/$$seeds 2>&1 | grep -E "^(#[0-9]+ +DONE|stat::number_of_executed_units|==|SUMMARY|clientcert raised)" || true; \
	done
	@if ls fuzz/crashers/*-* >/dev/null 2>&1; then echo "fuzz: crashers in fuzz/crashers/"; exit 1; fi
	@echo "fuzz: no crash, leak or raise"

build/bench/raw_openssl: bench/raw_openssl.c
	@mkdir -p build/bench
	$(CC) -std=c99 -D_POSIX_C_SOURCE=199309L -O2 -Wall -Wextra $(SSL_CFLAGS) -o $@ $< $(SSL_LIBS)

# the bench PKIs (bench/mkpki.sh, fixed dates), made again when the script changes
build/bench/pki-%/done: bench/mkpki.sh spec/fixtures/pki-lib.sh
	bash bench/mkpki.sh build/bench/pki-$* $* > /dev/null
	@touch $@

build/bench/raw_scan: bench/raw_scan.c
	@mkdir -p build/bench
	$(CC) -std=c99 -O2 -Wall -Wextra -pedantic $(SSL_CFLAGS) -o $@ $< $(SSL_LIBS)

bench: all build/bench/raw_openssl build/bench/raw_scan build/bench/pki-rsa/done build/bench/pki-ec/done ## one table: clientcert against raw OpenSSL, Lua 5.4 and LuaJIT, RSA-2048 and P-256 (BENCH_ROUNDS, BENCH_N)
	LUA_PATH='./lua/?.lua;./lua/?/init.lua;;' LUA_CPATH='./build/lua5.4/?.so;;' \
	  lua5.4 bench/bench.lua build/bench/pki-rsa build/bench/pki-ec build/bench/raw_openssl $(BENCH_ROUNDS) $(BENCH_N)
	for L in lua5.4 luajit; do LUA_PATH='./lua/?.lua;./lua/?/init.lua;;' LUA_CPATH="./build/$$L/?.so;;" $$L bench/scan.lua build/bench/scan-pki build/bench/raw_scan; done
	bash spec/fixtures/revocation.sh build/bench/rev 1 2 3 4 5 > /dev/null
	openssl ocsp -issuer build/bench/rev/inter.pem -cert build/bench/rev/leaf-good.pem -no_nonce \
	  -reqout build/bench/rev/bench.req > /dev/null
	openssl ocsp -index build/bench/rev/index.txt -rsigner build/bench/rev/responder.pem \
	  -rkey build/bench/rev/responder.key -CA build/bench/rev/inter.pem -nmin 600 \
	  -reqin build/bench/rev/bench.req -respout build/bench/rev/bench-good.ocsp > /dev/null
	for L in lua5.4 luajit; do LUA_PATH='./lua/?.lua;./lua/?/init.lua;;' LUA_CPATH="./build/$$L/?.so;;" \
	  $$L bench/revocation.lua build/bench/rev $(BENCH_ROUNDS) $(BENCH_N); done

bench-hostile: lua54 ## time and peak memory on hostile inputs (large bundles, long chains, huge CRL)
	bash bench/mkhostile.sh build/bench/hostile
	LUA_PATH='./lua/?.lua;./lua/?/init.lua;;' LUA_CPATH='./build/lua5.4/?.so;;' \
	  lua5.4 bench/hostile.lua build/bench/hostile

bench-nginx: luajit ## requests/s of a gated nginx location against a static one (ab; keepalive and new handshakes)
	bash bench/nginx.sh $(BENCH_NGINX_N)
	bash bench/nginx-revocation.sh $(BENCH_NGINX_N)

BENCH_ROUNDS ?= 7
BENCH_N ?= 300
BENCH_NGINX_N ?= 3000

clean: ## remove build/
	rm -rf build

help: ## this list
	@grep -E '^[a-z0-9-]+:.*##' Makefile | sed 's/:.*##/ -/'
