/* fcgi/metrics_int.h: the worker's metrics hooks that need the worker's
 * types (configuration, libcurl handles, upstream results). */
#ifndef CCP_FCGI_METRICS_INT_H
#define CCP_FCGI_METRICS_INT_H

#include <stdbool.h>

#include <curl/curl.h>

#include "common/conf.h"
#include "fcgi/metrics.h"
#include "fcgi/upstream.h"

/* At start-up, before threads: load the pricing (built-in, then
 * PRICING_FILE) and attach to the shared metrics file (METRICS_SHM_PATH, or
 * one named after the FastCGI socket on fd 0). CCP_ERR_INVALID (logged) if
 * PRICING_FILE is bad; a shared file that cannot be used only logs a warning
 * and keeps this process's numbers. */
CCP_NODISCARD enum ccp_err wk_metrics_init(const struct conf *c, bool cgi);
/* The prices loaded by wk_metrics_init. */
const struct wk_pricing *wk_metrics_pricing(void);

/* Called once per easy handle: counts the upstream connections it opens and
 * closes (the open-connections gauge). */
void wk_metrics_curl_setup(CURL *e);
/* Called after each upstream call (each retry too): status class, failures,
 * latency, time to first byte, HTTP version, new connections. */
void wk_metrics_upstream_attempt(CURL *e, const struct wk_upstream_result *res);
/* Called by a retry loop before each repeated upstream call. */
void wk_metrics_upstream_retry(void);

#endif /* CCP_FCGI_METRICS_INT_H */
