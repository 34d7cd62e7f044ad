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
