# cache/: keys and entries (pure), in-process LRU, memcached store -> libccp_cache.a.
# Programs linking it add $(CACHE_LIBS).
noinst_LIBRARIES += libccp_cache.a
libccp_cache_a_SOURCES = \
	cache/cache.h \
	cache/entry.c \
	cache/key.c \
	cache/lru.c \
	cache/store.c
libccp_cache_a_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS) $(MEMCACHED_CFLAGS)
CACHE_LIBS = libccp_cache.a $(MEMCACHED_LIBS) $(OPENSSL_LIBS) $(PTHREAD_LIBS)

# unit tests of cache/; test_store starts a real memcached on 127.0.0.1.
if HAVE_CMOCKA
CACHE_TESTS = tests/unit/cache/test_key tests/unit/cache/test_entry tests/unit/cache/test_lru \
	tests/unit/cache/test_store
check_PROGRAMS += $(CACHE_TESTS)
TESTS += $(CACHE_TESTS)
CACHE_TEST_LIBS = $(CACHE_LIBS) $(TEST_LIBS)
tests_unit_cache_test_key_SOURCES = tests/unit/cache/test_key.c
tests_unit_cache_test_key_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_cache_test_key_CFLAGS = $(TEST_CFLAGS)
tests_unit_cache_test_key_LDADD = $(CACHE_TEST_LIBS)
tests_unit_cache_test_entry_SOURCES = tests/unit/cache/test_entry.c
tests_unit_cache_test_entry_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_cache_test_entry_CFLAGS = $(TEST_CFLAGS)
tests_unit_cache_test_entry_LDADD = $(CACHE_TEST_LIBS)
tests_unit_cache_test_lru_SOURCES = tests/unit/cache/test_lru.c
tests_unit_cache_test_lru_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_cache_test_lru_CFLAGS = $(TEST_CFLAGS)
tests_unit_cache_test_lru_LDADD = $(CACHE_TEST_LIBS)
tests_unit_cache_test_store_SOURCES = tests/unit/cache/test_store.c
tests_unit_cache_test_store_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_cache_test_store_CFLAGS = $(TEST_CFLAGS)
tests_unit_cache_test_store_LDADD = $(CACHE_TEST_LIBS)
endif
