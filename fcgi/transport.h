/* fcgi/transport.h: the shared upstream transport (UPSTREAM_MULTI). One curl
 * multi handle per process, driven by its own thread; request threads hand
 * it their easy handles and read the body back through a bounded queue. */
#ifndef CCP_FCGI_TRANSPORT_H
#define CCP_FCGI_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>

#include "common/compiler.h"
#include "common/conf.h"
#include "common/err.h"

/* One request thread's transfer slot, reused for each of its calls. */
struct wk_xfer;

/* Start the transport thread and its multi handle. `c` is borrowed and must
 * outlive wk_transport_stop. CCP_OK, CCP_ERR_NOMEM or CCP_ERR_INTERNAL. */
CCP_NODISCARD enum ccp_err wk_transport_start(const struct conf *c);
/* Stop and join the thread; every transfer must have finished. */
void wk_transport_stop(void);

/* A slot for `easy`, which it sets up as its own (write callback, private
 * pointer). NULL on allocation failure. */
struct wk_xfer *wk_xfer_new(CURL *easy);
void wk_xfer_free(struct wk_xfer *x);

/* Note that bytes arrived (for the silence limit) and, once the status line
 * is in, the HTTP version the upstream answered with: call from callbacks
 * of the easy handle (header callback), which run on the transport thread. */
void wk_xfer_touch(struct wk_xfer *x);

/* How the request thread consumes a transfer. */
struct wk_xfer_hooks {
    /* Each body chunk, in order, with the HTTP status; false stops the transfer. */
    bool (*data)(void *ctx, int status, const char *p, size_t n);
    /* Optional: called at least every 200 ms while waiting; false stops it. */
    bool (*alive)(void *ctx);
    /* Optional: called after each batch of chunks handed over together (all
     * that had arrived), before waiting again; false stops the transfer. */
    bool (*drain)(void *ctx);
    void *ctx;
};

/* How a transfer ended. */
struct wk_xfer_end {
    CURLcode cc;
    bool stopped; /* a hook returned false */
    bool silent;  /* nothing arrived for read_timeout_s */
};

/* Run the easy handle's (fully set up) transfer of `url` (its CURLOPT_URL)
 * on the transport thread and pass its body to `hooks` on this thread;
 * returns when it has ended and the transport no longer holds the handle.
 * The transport sets CURLOPT_PIPEWAIT: on only where the transfer may
 * multiplex (https, UPSTREAM_HTTP2, an origin not seen answering HTTP/1.x). */
void wk_xfer_run(struct wk_xfer *x, const char *url, const struct wk_xfer_hooks *hooks,
                 struct wk_xfer_end *end);

#endif /* CCP_FCGI_TRANSPORT_H */
