# fcgi/: the worker binary ccproxy-fcgi (FastCGI thread pool, or one CGI request).
bin_PROGRAMS += ccproxy-fcgi
ccproxy_fcgi_SOURCES = \
	fcgi/main.c \
	fcgi/io.c fcgi/io.h \
	fcgi/handler.c fcgi/handler.h fcgi/handler_int.h \
	fcgi/messages.c \
	fcgi/models.c \
	fcgi/rcache.c fcgi/rcache.h \
	fcgi/retry.c fcgi/retry.h \
	fcgi/tokens.c fcgi/tokens.h \
	fcgi/upstream.c fcgi/upstream.h
ccproxy_fcgi_CPPFLAGS = $(AM_CPPFLAGS) $(BPE_DIRS_CPPFLAGS)
ccproxy_fcgi_CFLAGS = $(AM_CFLAGS) $(CURL_CFLAGS) $(JSON_C_CFLAGS)
ccproxy_fcgi_LDADD = libccp_translate.a libccp_cache.a libccp_common.a \
	$(CURL_LIBS) $(JSON_C_LIBS) $(FCGI_LIBS) $(MEMCACHED_LIBS) $(OPENSSL_LIBS) \
	$(PCRE2_LIBS) $(PTHREAD_LIBS) -lm
