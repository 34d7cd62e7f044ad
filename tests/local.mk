# tests/: unit tests (cmocka) over common/ and translate/, with golden cases
# in tests/data/. Integration and end-to-end suites (pytest, real servers)
# are run by run-tests.sh, not by `make check`.
TEST_CPPFLAGS = $(AM_CPPFLAGS) -DCCP_UNIT_TEST
TEST_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
TEST_LIBS = libccp_translate.a libccp_common.a $(CMOCKA_LIBS) $(JSON_C_LIBS)
AM_TESTS_ENVIRONMENT = CMOCKA_MESSAGE_OUTPUT=STDOUT; export CMOCKA_MESSAGE_OUTPUT; \
	CCP_TEST_DATA=$(abs_top_srcdir)/tests/data; export CCP_TEST_DATA;
EXTRA_DIST += tests/data

if HAVE_CMOCKA
include tests/unit/common/local.mk
include tests/unit/translate/local.mk
include tests/unit/fcgi/local.mk
endif

# A deliberate heap overflow, leak and signed overflow (tests/tools/asan_canary.c),
# built by `make check` in the ASan build only and never run as a test:
# run-tests.sh runs it to prove its sanitizer log scan catches a report.
if ENABLE_ASAN
check_PROGRAMS += tests/tools/asan_canary
tests_tools_asan_canary_SOURCES = tests/tools/asan_canary.c
endif
