/* Allocation wrappers: every allocation of ours goes through these, so tests
 * can count them and (with --enable-fault-injection) fail the Nth one. */
#ifndef CCP_COMMON_ALLOC_H
#define CCP_COMMON_ALLOC_H

#include <stddef.h>

/* malloc/calloc/realloc/strdup that return NULL on failure (never abort). */
void *ccp_malloc(size_t n);
void *ccp_calloc(size_t nmemb, size_t size);
void *ccp_realloc(void *p, size_t n);
char *ccp_strdup(const char *s);
/* Copy n bytes of s and add a NUL. NULL on failure. */
char *ccp_strndup(const char *s, size_t n);
/* free(); NULL is a no-op. */
void ccp_free(void *p);

/* Free and set the pointer to NULL (HAProxy ha_free). */
#define CCP_FREE(p)                                                                                \
    do {                                                                                           \
        ccp_free(p);                                                                               \
        (p) = NULL;                                                                                \
    } while (0)

/* Statistics of this thread's allocations since the last ccp_alloc_reset(). */
struct ccp_alloc_stats {
    size_t count;     /* successful allocations (malloc, calloc, realloc, strdup) */
    size_t failed_at; /* 0, or the ordinal that was failed by injection */
};

void ccp_alloc_reset(void);
void ccp_alloc_get_stats(struct ccp_alloc_stats *out);
/* Fail the nth allocation (1-based) from now on in this thread; 0 disables.
 * Effective only in --enable-fault-injection builds; returns 0 if not. */
int ccp_alloc_fail_at(size_t nth);

#endif /* CCP_COMMON_ALLOC_H */
