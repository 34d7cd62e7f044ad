/* Allocation wrappers with per-thread counting and optional failure injection. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"

#include "common/banned.h"

static _Thread_local size_t alloc_count;
static _Thread_local size_t alloc_fail_nth;
static _Thread_local size_t alloc_failed_at;

static int should_fail(void)
{
#ifdef CCP_FAULT_INJECTION
    if (alloc_fail_nth != 0 && alloc_count + 1 == alloc_fail_nth) {
        alloc_failed_at = alloc_fail_nth;
        alloc_fail_nth = 0;
        return 1;
    }
#endif
    return 0;
}

void *ccp_malloc(size_t n)
{
    void *p;

    if (should_fail()) {
        return NULL;
    }
    p = malloc(n == 0 ? 1 : n);
    if (p != NULL) {
        alloc_count++;
    }
    return p;
}

void *ccp_calloc(size_t nmemb, size_t size)
{
    void *p;

    if (should_fail()) {
        return NULL;
    }
    p = calloc(nmemb == 0 ? 1 : nmemb, size == 0 ? 1 : size);
    if (p != NULL) {
        alloc_count++;
    }
    return p;
}

void *ccp_realloc(void *old, size_t n)
{
    void *p;

    if (should_fail()) {
        return NULL;
    }
    p = realloc(old, n == 0 ? 1 : n);
    if (p != NULL) {
        alloc_count++;
    }
    return p;
}

char *ccp_strndup(const char *s, size_t n)
{
    char *p = ccp_malloc(n + 1);

    if (p == NULL) {
        return NULL;
    }
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *ccp_strdup(const char *s)
{
    return ccp_strndup(s, strlen(s));
}

void ccp_free(void *p)
{
    free(p);
}

void ccp_alloc_reset(void)
{
    alloc_count = 0;
    alloc_fail_nth = 0;
    alloc_failed_at = 0;
}

void ccp_alloc_get_stats(struct ccp_alloc_stats *out)
{
    out->count = alloc_count;
    out->failed_at = alloc_failed_at;
}

int ccp_alloc_fail_at(size_t nth)
{
#ifdef CCP_FAULT_INJECTION
    alloc_fail_nth = nth == 0 ? 0 : alloc_count + nth;
    alloc_failed_at = 0;
    return 1;
#else
    (void)nth;
    return 0;
#endif
}
