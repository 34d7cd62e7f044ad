# coord/: ccproxy-coordd, the streaming fan-out coordinator, and
# libccp_coord.a (the pure protocol and the client) for the worker and tests.
noinst_LIBRARIES += libccp_coord.a
libccp_coord_a_SOURCES = \
	coord/proto.c coord/proto.h \
	coord/client.c coord/client.h

bin_PROGRAMS += ccproxy-coordd
ccproxy_coordd_SOURCES = \
	coord/coordd_int.h \
	coord/main.c \
	coord/loop.c \
	coord/session.c
# accept4() is a GNU extension
ccproxy_coordd_CPPFLAGS = $(AM_CPPFLAGS) -D_GNU_SOURCE
ccproxy_coordd_LDADD = libccp_coord.a libccp_common.a

if HAVE_CMOCKA
include tests/unit/coord/local.mk
endif

# fuzz_coord_proto: decode never over-reads, encode after decode reproduces.
# Here it is linked with tests/fuzz/replay_main.c and replays the committed
# corpus under `make check`. For libFuzzer (clang), from the build dir:
#   clang -fsanitize=fuzzer,address,undefined -I$(top_srcdir) -I. \
#     $(top_srcdir)/tests/fuzz/fuzz_coord_proto.c $(top_srcdir)/coord/proto.c \
#     $(top_srcdir)/common/buf.c $(top_srcdir)/common/alloc.c $(top_srcdir)/common/err.c \
#     $(top_srcdir)/common/log.c -o fuzz_coord_proto
check_PROGRAMS += tests/fuzz/fuzz_coord_proto
TESTS += tests/fuzz/fuzz_coord_proto
tests_fuzz_fuzz_coord_proto_SOURCES = tests/fuzz/fuzz_coord_proto.c tests/fuzz/replay_main.c
tests_fuzz_fuzz_coord_proto_CPPFLAGS = $(AM_CPPFLAGS) \
	-DCCP_FUZZ_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus/coord_proto"'
tests_fuzz_fuzz_coord_proto_LDADD = libccp_coord.a libccp_common.a
EXTRA_DIST += tests/fuzz/corpus/coord_proto
