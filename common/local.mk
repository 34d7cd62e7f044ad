# common/: buffers, strings, logging, configuration, errors, allocation.
noinst_LIBRARIES += libccp_common.a
libccp_common_a_SOURCES = \
	common/alloc.c common/alloc.h \
	common/banned.h \
	common/buf.c common/buf.h \
	common/compiler.h \
	common/conf.c common/conf.h \
	common/err.c common/err.h \
	common/log.c common/log.h \
	common/str.c common/str.h
