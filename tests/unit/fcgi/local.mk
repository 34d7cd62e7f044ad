# unit tests of the worker's pure metrics parts (libccp_metrics.a)
check_PROGRAMS += tests/unit/fcgi/test_metrics
TESTS += tests/unit/fcgi/test_metrics
tests_unit_fcgi_test_metrics_SOURCES = tests/unit/fcgi/test_metrics.c
tests_unit_fcgi_test_metrics_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_fcgi_test_metrics_CFLAGS = $(TEST_CFLAGS)
tests_unit_fcgi_test_metrics_LDADD = libccp_metrics.a $(TEST_LIBS) -lm
