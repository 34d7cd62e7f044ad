# unit and golden tests of translate/; one binary per source file.
# tests/unit/golden.c/.h: shared helpers to walk tests/data/translate/<kind>/*.
TR_TESTS = tests/unit/translate/test_request tests/unit/translate/test_response \
	tests/unit/translate/test_stream tests/unit/translate/test_errmap \
	tests/unit/translate/test_jsonw tests/unit/translate/test_jparse
check_PROGRAMS += $(TR_TESTS)
TESTS += $(TR_TESTS)
tests_unit_translate_test_request_SOURCES = tests/unit/translate/test_request.c tests/unit/golden.c tests/unit/golden.h
tests_unit_translate_test_request_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_translate_test_request_CFLAGS = $(TEST_CFLAGS)
tests_unit_translate_test_request_LDADD = $(TEST_LIBS)
tests_unit_translate_test_response_SOURCES = tests/unit/translate/test_response.c tests/unit/golden.c tests/unit/golden.h
tests_unit_translate_test_response_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_translate_test_response_CFLAGS = $(TEST_CFLAGS)
tests_unit_translate_test_response_LDADD = $(TEST_LIBS)
tests_unit_translate_test_stream_SOURCES = tests/unit/translate/test_stream.c tests/unit/golden.c tests/unit/golden.h
tests_unit_translate_test_stream_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_translate_test_stream_CFLAGS = $(TEST_CFLAGS)
tests_unit_translate_test_stream_LDADD = $(TEST_LIBS)
tests_unit_translate_test_errmap_SOURCES = tests/unit/translate/test_errmap.c tests/unit/golden.c tests/unit/golden.h
tests_unit_translate_test_errmap_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_translate_test_errmap_CFLAGS = $(TEST_CFLAGS)
tests_unit_translate_test_errmap_LDADD = $(TEST_LIBS)
tests_unit_translate_test_jsonw_SOURCES = tests/unit/translate/test_jsonw.c
tests_unit_translate_test_jsonw_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_translate_test_jsonw_CFLAGS = $(TEST_CFLAGS)
tests_unit_translate_test_jsonw_LDADD = $(TEST_LIBS)
tests_unit_translate_test_jparse_SOURCES = tests/unit/translate/test_jparse.c tests/unit/golden.c \
	tests/unit/golden.h tests/unit/jparse_same.h tests/unit/chunk_same.h
tests_unit_translate_test_jparse_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_translate_test_jparse_CFLAGS = $(TEST_CFLAGS)
tests_unit_translate_test_jparse_LDADD = $(TEST_LIBS)
