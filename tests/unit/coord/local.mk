# unit tests of coord/: the protocol, the daemon's sessions, and the client
# against the real ccproxy-coordd (found through CCP_COORDD).
COORD_TESTS = tests/unit/coord/test_proto tests/unit/coord/test_session \
	tests/unit/coord/test_client
check_PROGRAMS += $(COORD_TESTS)
TESTS += $(COORD_TESTS)
AM_TESTS_ENVIRONMENT += CCP_COORDD=$(abs_top_builddir)/ccproxy-coordd; export CCP_COORDD;
tests_unit_coord_test_proto_SOURCES = tests/unit/coord/test_proto.c
tests_unit_coord_test_proto_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_coord_test_proto_CFLAGS = $(TEST_CFLAGS)
tests_unit_coord_test_proto_LDADD = libccp_coord.a $(TEST_LIBS)
tests_unit_coord_test_session_SOURCES = tests/unit/coord/test_session.c coord/session.c
tests_unit_coord_test_session_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_coord_test_session_CFLAGS = $(TEST_CFLAGS)
tests_unit_coord_test_session_LDADD = libccp_coord.a $(TEST_LIBS)
tests_unit_coord_test_client_SOURCES = tests/unit/coord/test_client.c
tests_unit_coord_test_client_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_coord_test_client_CFLAGS = $(TEST_CFLAGS)
tests_unit_coord_test_client_LDADD = libccp_coord.a $(TEST_LIBS)
