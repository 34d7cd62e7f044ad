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
