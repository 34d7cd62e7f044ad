/* fcgi/opts.c: translation options from the configuration (MODEL_RULES,
 * user/prompt_cache_key switches) and the request's session header. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "fcgi/opts.h"

#include "common/banned.h"

#define SESSION_ID_MAX 128

enum ccp_err wk_opts_init(struct tr_opts *o, struct wk_rules *rules, const struct conf *c,
                          size_t max_out, char *msg, size_t msgcap)
{
    enum ccp_err rc = CCP_OK;
    char why[256] = "";

    memset(o, 0, sizeof(*o));
    memset(rules, 0, sizeof(*rules));
    o->big_model = c->big_model;
    o->small_model = c->small_model;
    o->max_json_depth = c->max_json_depth;
    o->max_out = max_out;
    o->no_user = !c->upstream_user;
    o->no_prompt_cache_key = !c->prompt_cache_key;
    o->max_messages = c->max_messages;
    o->max_content_blocks = c->max_content_blocks;
    o->max_string_bytes = c->max_string_bytes;
    o->max_sse_line = c->max_sse_line_bytes;
    if (c->model_rules != NULL && c->model_rules[0] != '\0') {
        rc = tr_model_rules_parse(c->model_rules, rules->rules, CCP_ARRAY_LEN(rules->rules),
                                  &rules->n, rules->strings, sizeof(rules->strings), why,
                                  sizeof(why));
        if (rc == CCP_OK) {
            o->rules = rules->rules;
            o->nrules = rules->n;
        } else {
            (void)snprintf(msg, msgcap, "%s%s",
                           strncmp(why, "MODEL_RULES", 11) == 0 ? "" : "MODEL_RULES: ", why);
        }
    }
    return rc;
}

enum ccp_err wk_opts_check(const struct conf *c, char *msg, size_t msgcap)
{
    struct wk_rules *rules = ccp_malloc(sizeof(*rules));
    struct tr_opts o;
    enum ccp_err rc;

    if (rules == NULL) {
        (void)snprintf(msg, msgcap, "out of memory checking MODEL_RULES");
        return CCP_ERR_NOMEM;
    }
    rc = wk_opts_init(&o, rules, c, 0, msg, msgcap);
    ccp_free(rules);
    return rc;
}

const char *wk_opts_session_id(const char *header)
{
    size_t i;

    if (header == NULL || header[0] == '\0') {
        return NULL;
    }
    for (i = 0; header[i] != '\0'; i++) {
        unsigned char ch = (unsigned char)header[i];

        if (i >= SESSION_ID_MAX || ch <= 0x20 || ch >= 0x7f) {
            return NULL;
        }
    }
    return header;
}
