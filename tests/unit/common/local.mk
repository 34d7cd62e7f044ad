# unit tests of common/
check_PROGRAMS += tests/unit/common/test_buf tests/unit/common/test_conf
TESTS += tests/unit/common/test_buf tests/unit/common/test_conf
tests_unit_common_test_buf_SOURCES = tests/unit/common/test_buf.c
tests_unit_common_test_buf_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_common_test_buf_CFLAGS = $(TEST_CFLAGS)
tests_unit_common_test_buf_LDADD = $(TEST_LIBS)
tests_unit_common_test_conf_SOURCES = tests/unit/common/test_conf.c
tests_unit_common_test_conf_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_common_test_conf_CFLAGS = $(TEST_CFLAGS)
tests_unit_common_test_conf_LDADD = $(TEST_LIBS)
