/* Error names and the assertion handler. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "common/err.h"

#include "common/banned.h"

const char *ccp_strerror(enum ccp_err e)
{
    switch (e) {
    case CCP_OK:
        return "ok";
    case CCP_ERR_NOMEM:
        return "nomem";
    case CCP_ERR_INVALID:
        return "invalid";
    case CCP_ERR_TOO_LARGE:
        return "too_large";
    case CCP_ERR_UNSUPPORTED:
        return "unsupported";
    case CCP_ERR_UPSTREAM:
        return "upstream";
    case CCP_ERR_UPSTREAM_PROTO:
        return "upstream_proto";
    case CCP_ERR_TIMEOUT:
        return "timeout";
    case CCP_ERR_CACHE:
        return "cache";
    case CCP_ERR_COORD:
        return "coord";
    case CCP_ERR_INTERNAL:
        return "internal";
    case CCP_DECLINED:
        return "declined";
    }
    return "unknown";
}

void ccp_assert_fail(const char *expr, const char *file, int line)
{
    /* stderr directly: the logger may be what is broken */
    fprintf(stderr, "ccproxy: assertion failed at %s:%d: %s\n", file, line, expr);
    fflush(stderr);
    abort();
}
