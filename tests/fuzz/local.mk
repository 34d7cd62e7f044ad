# tests/fuzz/: fuzz targets of translate/ and cache/ (STYLE.md §12). Under
# `make check` each is linked with tests/fuzz/replay_main.c and replays its
# committed corpus (tests/fuzz/corpus/<name>/, seeded from the golden cases).
# tests/fuzz/run-libfuzzer.sh builds them with clang and libFuzzer and runs
# each for a bounded time (run-tests.sh does, when clang is installed).
FUZZ_TR_TARGETS = tests/fuzz/fuzz_anthropic_request tests/fuzz/fuzz_openai_response \
	tests/fuzz/fuzz_sse_stream tests/fuzz/fuzz_json tests/fuzz/fuzz_chunk
check_PROGRAMS += $(FUZZ_TR_TARGETS) tests/fuzz/fuzz_cache_key
TESTS += $(FUZZ_TR_TARGETS) tests/fuzz/fuzz_cache_key
FUZZ_TR_LIBS = libccp_translate.a libccp_common.a $(JSON_C_LIBS) $(PCRE2_LIBS)
FUZZ_CORPUS_DIR = $(abs_top_srcdir)/tests/fuzz/corpus

tests_fuzz_fuzz_anthropic_request_SOURCES = tests/fuzz/fuzz_anthropic_request.c \
	tests/fuzz/replay_main.c
tests_fuzz_fuzz_anthropic_request_CPPFLAGS = $(AM_CPPFLAGS) \
	-DCCP_FUZZ_CORPUS='"$(FUZZ_CORPUS_DIR)/anthropic_request"'
tests_fuzz_fuzz_anthropic_request_LDADD = $(FUZZ_TR_LIBS)

tests_fuzz_fuzz_openai_response_SOURCES = tests/fuzz/fuzz_openai_response.c \
	tests/fuzz/replay_main.c
tests_fuzz_fuzz_openai_response_CPPFLAGS = $(AM_CPPFLAGS) \
	-DCCP_FUZZ_CORPUS='"$(FUZZ_CORPUS_DIR)/openai_response"'
tests_fuzz_fuzz_openai_response_LDADD = $(FUZZ_TR_LIBS)

tests_fuzz_fuzz_sse_stream_SOURCES = tests/fuzz/fuzz_sse_stream.c tests/fuzz/replay_main.c
tests_fuzz_fuzz_sse_stream_CPPFLAGS = $(AM_CPPFLAGS) \
	-DCCP_FUZZ_CORPUS='"$(FUZZ_CORPUS_DIR)/sse_stream"'
tests_fuzz_fuzz_sse_stream_LDADD = $(FUZZ_TR_LIBS)

tests_fuzz_fuzz_json_SOURCES = tests/fuzz/fuzz_json.c tests/fuzz/replay_main.c \
	tests/unit/jparse_same.h
tests_fuzz_fuzz_json_CPPFLAGS = $(AM_CPPFLAGS) \
	-DCCP_FUZZ_CORPUS='"$(FUZZ_CORPUS_DIR)/json"'
tests_fuzz_fuzz_json_LDADD = $(FUZZ_TR_LIBS)

tests_fuzz_fuzz_chunk_SOURCES = tests/fuzz/fuzz_chunk.c tests/fuzz/replay_main.c \
	tests/unit/chunk_same.h
tests_fuzz_fuzz_chunk_CPPFLAGS = $(AM_CPPFLAGS) \
	-DCCP_FUZZ_CORPUS='"$(FUZZ_CORPUS_DIR)/chunk"'
tests_fuzz_fuzz_chunk_LDADD = $(FUZZ_TR_LIBS)

tests_fuzz_fuzz_cache_key_SOURCES = tests/fuzz/fuzz_cache_key.c tests/fuzz/replay_main.c
tests_fuzz_fuzz_cache_key_CPPFLAGS = $(AM_CPPFLAGS) \
	-DCCP_FUZZ_CORPUS='"$(FUZZ_CORPUS_DIR)/cache_key"'
tests_fuzz_fuzz_cache_key_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS)
tests_fuzz_fuzz_cache_key_LDADD = $(CACHE_LIBS) libccp_common.a $(JSON_C_LIBS)

EXTRA_DIST += tests/fuzz/corpus/anthropic_request tests/fuzz/corpus/openai_response \
	tests/fuzz/corpus/sse_stream tests/fuzz/corpus/json tests/fuzz/corpus/chunk \
	tests/fuzz/corpus/cache_key tests/fuzz/ccproxy.dict \
	tests/fuzz/run-libfuzzer.sh
