# Tokenizer: translate/bpe.c (pure BPE over a rank table, PCRE2 JIT pre-tokens),
# common/vocab.c (mmap of the table), tools/ccproxy-tokens (CLI), data/*.bpe
# (rank tables made by data/gen-vocab.mjs from the npm package tiktoken).
libccp_translate_a_SOURCES += translate/bpe.c translate/bpe.h translate/count.c
libccp_translate_a_CFLAGS += $(PCRE2_CFLAGS)
libccp_common_a_SOURCES += common/vocab.c common/vocab.h

BPE_DIRS_CPPFLAGS = -DCCP_PKGDATADIR='"$(pkgdatadir)"' -DCCP_SRCDATADIR='"$(abs_top_srcdir)/data"'

bin_PROGRAMS += ccproxy-tokens
ccproxy_tokens_SOURCES = tools/ccproxy-tokens.c
ccproxy_tokens_CPPFLAGS = $(AM_CPPFLAGS) $(BPE_DIRS_CPPFLAGS)
ccproxy_tokens_CFLAGS = $(AM_CFLAGS) $(PCRE2_CFLAGS)
ccproxy_tokens_LDADD = libccp_translate.a libccp_common.a $(PCRE2_LIBS)

dist_pkgdata_DATA = data/o200k_base.bpe data/cl100k_base.bpe
EXTRA_DIST += data/gen-vocab.mjs data/README.md data/LICENSE.tiktoken bench/tokenizer.sh

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/translate/test_bpe
TESTS += tests/unit/translate/test_bpe
tests_unit_translate_test_bpe_SOURCES = tests/unit/translate/test_bpe.c
tests_unit_translate_test_bpe_CPPFLAGS = $(TEST_CPPFLAGS) $(BPE_DIRS_CPPFLAGS) \
	-DCCP_DEFAULT_SHARED_DIR='"$(abs_top_srcdir)/../shared"'
tests_unit_translate_test_bpe_CFLAGS = $(TEST_CFLAGS)
tests_unit_translate_test_bpe_LDADD = $(TEST_LIBS) $(PCRE2_LIBS)
endif

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/translate/test_count
TESTS += tests/unit/translate/test_count
tests_unit_translate_test_count_SOURCES = tests/unit/translate/test_count.c tests/unit/golden.c \
	tests/unit/golden.h
tests_unit_translate_test_count_CPPFLAGS = $(TEST_CPPFLAGS) $(BPE_DIRS_CPPFLAGS)
tests_unit_translate_test_count_CFLAGS = $(TEST_CFLAGS)
tests_unit_translate_test_count_LDADD = $(TEST_LIBS) $(PCRE2_LIBS)
endif
EXTRA_DIST += tests/data/translate/count docs/tokens.md

# bench/count_tokens: tr_count_tokens timed in-process (bench/count_tokens.sh);
# built by `make check` (not a test), or `make bench/count_tokens`
check_PROGRAMS += bench/count_tokens
bench_count_tokens_SOURCES = bench/count_tokens.c
bench_count_tokens_CFLAGS = $(AM_CFLAGS) $(PCRE2_CFLAGS) $(JSON_C_CFLAGS)
bench_count_tokens_LDADD = libccp_translate.a libccp_cache.a libccp_common.a $(PCRE2_LIBS) \
	$(JSON_C_LIBS) $(MEMCACHED_LIBS) $(OPENSSL_LIBS) $(PTHREAD_LIBS)
EXTRA_DIST += bench/count_tokens.sh bench/gen-cc-request.py
