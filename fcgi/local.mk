# fcgi/: the worker binary ccproxy-fcgi (FastCGI thread pool, or one CGI request).
# libccp_metrics.a: the worker's metrics parts that unit tests link (shared
# file, renderers, pricing, admin checks).
noinst_LIBRARIES += libccp_metrics.a
libccp_metrics_a_SOURCES = \
	fcgi/metrics.h \
	fcgi/metrics_shm.c \
	fcgi/metrics_render.c \
	fcgi/pricing.c \
	fcgi/admin.c
bin_PROGRAMS += ccproxy-fcgi
ccproxy_fcgi_SOURCES = \
	fcgi/main.c \
	fcgi/io.c fcgi/io.h \
	fcgi/handler.c fcgi/handler.h fcgi/handler_int.h \
	fcgi/messages.c \
	fcgi/fanout.c fcgi/fanout.h \
	fcgi/models.c \
	fcgi/opts.c fcgi/opts.h \
	fcgi/ping.c fcgi/ping.h \
	fcgi/rcache.c fcgi/rcache.h \
	fcgi/retry.c fcgi/retry.h \
	fcgi/tokens.c fcgi/tokens.h \
	fcgi/upstream.c fcgi/upstream.h fcgi/transport.c fcgi/transport.h \
	fcgi/metrics.c fcgi/metrics_int.h fcgi/metrics_curl.c \
	fcgi/status.c \
	fcgi/guard.h fcgi/auth.c fcgi/urlcheck.c fcgi/ratelimit.c fcgi/guard_req.c
ccproxy_fcgi_CPPFLAGS = $(AM_CPPFLAGS) $(BPE_DIRS_CPPFLAGS)
ccproxy_fcgi_CFLAGS = $(AM_CFLAGS) $(CURL_CFLAGS) $(JSON_C_CFLAGS) $(OPENSSL_CFLAGS) \
	$(MEMCACHED_CFLAGS)
ccproxy_fcgi_LDADD = libccp_metrics.a libccp_translate.a $(CACHE_LIBS) libccp_coord.a \
	libccp_common.a $(CURL_LIBS) $(JSON_C_LIBS) $(FCGI_LIBS) $(PCRE2_LIBS) \
	$(PTHREAD_LIBS) -lm
