# translate/: pure translation. Owners: request.c (requests, model mapping,
# count estimate); response.c, stream.c, errmap.c (answers and errors).
noinst_LIBRARIES += libccp_translate.a
libccp_translate_a_SOURCES = \
	translate/translate.h \
	translate/request.c \
	translate/request_msg.c \
	translate/request_int.h \
	translate/limits.c \
	translate/model_rules.c \
	translate/jsonw.c \
	translate/jparse.c translate/jparse.h \
	translate/response.c \
	translate/stream.c \
	translate/errmap.c \
	translate/errmap_int.h translate/json_int.h \
	translate/sse.c \
	translate/sse_int.h
libccp_translate_a_CFLAGS = $(AM_CFLAGS) $(JSON_C_CFLAGS)
