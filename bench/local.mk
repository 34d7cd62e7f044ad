# bench/: benchmark tools (not part of the product, not built by `make`):
# `make bench-progs` builds them; bench/run.sh does that itself.
EXTRA_PROGRAMS += mock_upstream floor_fcgi translate_bench store_bench load_client
mock_upstream_SOURCES = bench/mock_upstream.c
mock_upstream_CPPFLAGS = $(AM_CPPFLAGS) -D_GNU_SOURCE
floor_fcgi_SOURCES = bench/floor_fcgi.c
floor_fcgi_LDADD = $(FCGI_LIBS) $(PTHREAD_LIBS)
translate_bench_SOURCES = bench/translate_bench.c
translate_bench_LDADD = libccp_translate.a libccp_common.a $(JSON_C_LIBS) -lm
# load_client: the HTTP/1.1 client of bench/run.sh (time to first byte, completeness).
load_client_SOURCES = bench/load_client.c
load_client_CPPFLAGS = $(AM_CPPFLAGS) -D_GNU_SOURCE
load_client_LDADD = -lm
# store_bench: per-op latency of the memcached store against a running memcached.
store_bench_SOURCES = bench/store_bench.c
store_bench_CFLAGS = $(AM_CFLAGS) $(JSON_C_CFLAGS)
store_bench_LDADD = $(CACHE_LIBS) libccp_common.a $(JSON_C_LIBS)
CLEANFILES += $(EXTRA_PROGRAMS)
EXTRA_DIST += bench/run.sh bench/tokenizer.sh bench/report.py \
	bench/bodies/gen.py bench/bodies/cc_requests.py bench/bodies/small.json

bench-progs: $(EXTRA_PROGRAMS)
.PHONY: bench-progs
