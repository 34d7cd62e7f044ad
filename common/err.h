/* The one error enum of CCProxy, and assertions for internal invariants. */
#ifndef CCP_COMMON_ERR_H
#define CCP_COMMON_ERR_H

#include "common/compiler.h"

enum ccp_err {
    CCP_OK = 0,
    CCP_ERR_NOMEM,          /* an allocation failed */
    CCP_ERR_INVALID,        /* bad client input */
    CCP_ERR_TOO_LARGE,      /* a configured limit was exceeded */
    CCP_ERR_UNSUPPORTED,    /* valid, but not something we can do */
    CCP_ERR_UPSTREAM,       /* the upstream failed or answered with an error */
    CCP_ERR_UPSTREAM_PROTO, /* the upstream sent something we cannot parse */
    CCP_ERR_TIMEOUT,
    CCP_ERR_CACHE,
    CCP_ERR_COORD,
    CCP_ERR_INTERNAL,
    CCP_DECLINED /* not an error: "not handled here, go on" */
};

/* Short constant name of an error code ("nomem", "invalid", ...). Never NULL. */
const char *ccp_strerror(enum ccp_err e);

/* Log file:line and the expression, then abort. */
CCP_NORETURN CCP_COLD void ccp_assert_fail(const char *expr, const char *file, int line);

/* Always compiled in; only for internal invariants, never for peer bytes. */
#define CCP_ASSERT(x)                                                                              \
    do {                                                                                           \
        if (CCP_UNLIKELY(!(x))) {                                                                  \
            ccp_assert_fail(#x, __FILE__, __LINE__);                                               \
        }                                                                                          \
    } while (0)

#ifdef CCP_DEBUG
#define CCP_DEBUG_ASSERT(x) CCP_ASSERT(x)
#else
#define CCP_DEBUG_ASSERT(x) ((void)0)
#endif

#endif /* CCP_COMMON_ERR_H */
