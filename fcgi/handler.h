/* fcgi/handler.h: serve one request (routing, limits, answers) on a wk_io,
 * the same under FastCGI and CGI. */
#ifndef CCP_FCGI_HANDLER_H
#define CCP_FCGI_HANDLER_H

#include "common/conf.h"
#include "fcgi/io.h"
#include "fcgi/opts.h"
#include "fcgi/rcache.h"
#include "fcgi/tokens.h"
#include "fcgi/upstream.h"
#include "translate/translate.h"

/* What one serving thread owns. */
struct wk_worker {
    const struct conf *conf;    /* borrowed, read-only */
    struct tr_opts opts;        /* derived from conf by wk_worker_init; session_id per request */
    struct wk_rules rules;      /* MODEL_RULES parsed, opts.rules points here */
    struct wk_upstream *up;     /* this thread's upstream handle */
    struct wk_rcache *rc;       /* the process's response cache, shared; NULL: none */
    struct wk_tokens *tok;      /* the process's count_tokens state, shared; NULL: estimates */
    struct tr_bpe_scratch *bpe; /* this thread's tokenizer memory, made on first use */
    struct wk_fanout_conns *fanout; /* this thread's coordinator connections (fcgi/fanout.h) */
};

/* Fill w for conf c and response cache rc (borrowed, may be NULL) and create
 * its upstream handle. CCP_OK, CCP_ERR_INVALID (MODEL_RULES; checked at
 * start-up by wk_opts_check) or CCP_ERR_NOMEM. */
CCP_NODISCARD enum ccp_err wk_worker_init(struct wk_worker *w, const struct conf *c,
                                          struct wk_rcache *rc);
/* Free what wk_worker_init made. Safe on a zeroed struct. */
void wk_worker_release(struct wk_worker *w);

/* Serve the request on io completely (answer written and flushed, or the
 * client gone). Logs one summary line. Can't fail. */
void wk_handle(struct wk_worker *w, struct wk_io *io);

#endif /* CCP_FCGI_HANDLER_H */
