/* fcgi/opts.h: the translation options of a worker thread, derived from the
 * configuration (MODEL_RULES parsed once per thread), and the per-request
 * parts (the Claude Code session header). */
#ifndef CCP_FCGI_OPTS_H
#define CCP_FCGI_OPTS_H

#include <stddef.h>

#include "common/compiler.h"
#include "common/conf.h"
#include "common/err.h"
#include "translate/translate.h"

#define WK_MAX_MODEL_RULES 64
#define WK_MODEL_RULES_TEXT 8192

/* Storage for the parsed MODEL_RULES; tr_opts.rules points into it. */
struct wk_rules {
    struct tr_model_rule rules[WK_MAX_MODEL_RULES];
    size_t n;
    char strings[WK_MODEL_RULES_TEXT];
};

/* Fill *o (and *rules, which must outlive *o) from c: models, limits,
 * MODEL_RULES, user/prompt_cache_key switches. `max_out` is the cap on one
 * translated body. CCP_ERR_INVALID with msg set when MODEL_RULES does not
 * parse. */
CCP_NODISCARD enum ccp_err wk_opts_init(struct tr_opts *o, struct wk_rules *rules,
                                        const struct conf *c, size_t max_out, char *msg,
                                        size_t msgcap);

/* Check MODEL_RULES of c at start-up: CCP_OK, or CCP_ERR_INVALID with a
 * message naming the bad rule in msg. */
CCP_NODISCARD enum ccp_err wk_opts_check(const struct conf *c, char *msg, size_t msgcap);

/* The session id header of a request, if it is usable (1-128 printable
 * ASCII bytes without spaces), else NULL. */
const char *wk_opts_session_id(const char *header);

#endif /* CCP_FCGI_OPTS_H */
