/* fcgi/pricing.c: model prices (US dollars per million tokens) for the cost
 * and savings metrics: built-in defaults, a JSON override file, and lookup
 * by exact name or longest prefix. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "common/alloc.h"
#include "fcgi/metrics.h"

#include "common/banned.h"

/* List prices, standard tier, per million tokens: input, output, cached
 * input (OpenAI "cached input"; Anthropic "cache hits & refreshes").
 * Sources, as read in 2025 (keep the dates when updating):
 * - OpenAI: https://openai.com/api/pricing and platform.openai.com/docs/pricing
 *   (gpt-5 family from its launch 2025-08-07; o3 after the 2025-06-10 cut).
 * - Anthropic: https://www.anthropic.com/pricing and
 *   docs.anthropic.com/en/docs/about-claude/pricing (Opus 4.1 2025-08-05,
 *   Sonnet 4.5 2025-09-29, Haiku 4.5 2025-10-15, Opus 4.5 2025-11-24).
 * Sonnet 4/4.5 prompts over 200k tokens cost more; the base price is used. */
static const struct wk_price defaults[] = {
    {"gpt-5", 1.25, 10.00, 0.125},
    {"gpt-5-chat", 1.25, 10.00, 0.125},
    {"gpt-5-codex", 1.25, 10.00, 0.125},
    {"gpt-5-mini", 0.25, 2.00, 0.025},
    {"gpt-5-nano", 0.05, 0.40, 0.005},
    {"gpt-4.1", 2.00, 8.00, 0.50},
    {"gpt-4.1-mini", 0.40, 1.60, 0.10},
    {"gpt-4.1-nano", 0.10, 0.40, 0.025},
    {"gpt-4o", 2.50, 10.00, 1.25},
    {"gpt-4o-mini", 0.15, 0.60, 0.075},
    {"o3", 2.00, 8.00, 0.50},
    {"o3-mini", 1.10, 4.40, 0.55},
    {"o4-mini", 1.10, 4.40, 0.275},
    {"o1", 15.00, 60.00, 7.50},
    {"claude-opus-4-5", 5.00, 25.00, 0.50},
    {"claude-opus-4-1", 15.00, 75.00, 1.50},
    {"claude-opus-4", 15.00, 75.00, 1.50},
    {"claude-3-opus", 15.00, 75.00, 1.50},
    {"claude-sonnet-4-5", 3.00, 15.00, 0.30},
    {"claude-sonnet-4", 3.00, 15.00, 0.30},
    {"claude-3-7-sonnet", 3.00, 15.00, 0.30},
    {"claude-3-5-sonnet", 3.00, 15.00, 0.30},
    {"claude-haiku-4-5", 1.00, 5.00, 0.10},
    {"claude-3-5-haiku", 0.80, 4.00, 0.08},
    {"claude-3-haiku", 0.25, 1.25, 0.03},
};

void wk_pricing_defaults(struct wk_pricing *p)
{
    memset(p, 0, sizeof(*p));
    memcpy(p->v, defaults, sizeof(defaults));
    p->n = CCP_ARRAY_LEN(defaults);
}

static struct wk_price *find_exact(struct wk_pricing *p, const char *model)
{
    size_t i;

    for (i = 0; i < p->n; i++) {
        if (strcasecmp(p->v[i].model, model) == 0) {
            return &p->v[i];
        }
    }
    return NULL;
}

/* A price field: a finite number from 0 to 100000. */
static bool get_price(struct json_object *o, const char *key, double *out, bool required)
{
    struct json_object *v;
    double d;

    if (!json_object_object_get_ex(o, key, &v)) {
        return !required;
    }
    if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int)) {
        return false;
    }
    d = json_object_get_double(v);
    if (!isfinite(d) || d < 0 || d > 100000) {
        return false;
    }
    *out = d;
    return true;
}

enum ccp_err wk_pricing_parse(struct wk_pricing *p, const char *json, size_t len, char *errmsg,
                              size_t errlen)
{
    struct json_tokener *tok = NULL;
    struct json_object *root = NULL;
    struct wk_pricing *tmp = NULL;
    enum ccp_err rc = CCP_ERR_INVALID;

    if (len > 1024 * 1024) {
        snprintf(errmsg, errlen, "pricing: larger than 1 MiB");
        goto out;
    }
    tmp = ccp_malloc(sizeof(*tmp));
    tok = json_tokener_new_ex(8);
    if (tmp == NULL || tok == NULL) {
        rc = CCP_ERR_NOMEM;
        snprintf(errmsg, errlen, "pricing: out of memory");
        goto out;
    }
    *tmp = *p;
    root = json_tokener_parse_ex(tok, json, (int)len);
    if (root == NULL || json_tokener_get_error(tok) != json_tokener_success ||
        tok->char_offset != (int)len || !json_object_is_type(root, json_type_object)) {
        snprintf(errmsg, errlen, "pricing: not a JSON object of models");
        goto out;
    }
    json_object_object_foreach(root, key, val)
    {
        struct wk_price pr;
        struct wk_price *slot;

        memset(&pr, 0, sizeof(pr));
        if (key[0] == '\0' || strlen(key) >= WK_NAME_MAX) {
            snprintf(errmsg, errlen, "pricing: model names must have 1 to %d characters",
                     WK_NAME_MAX - 1);
            goto out;
        }
        memcpy(pr.model, key, strlen(key) + 1);
        if (!json_object_is_type(val, json_type_object) ||
            !get_price(val, "input", &pr.input, true) ||
            !get_price(val, "output", &pr.output, true)) {
            snprintf(errmsg, errlen,
                     "pricing: %.63s needs numbers \"input\" and \"output\" (USD per million "
                     "tokens, 0 to 100000)",
                     key);
            goto out;
        }
        pr.cached_input = pr.input;
        if (!get_price(val, "cached_input", &pr.cached_input, false)) {
            snprintf(errmsg, errlen, "pricing: %.63s: cached_input must be a number", key);
            goto out;
        }
        slot = find_exact(tmp, key);
        if (slot == NULL) {
            if (tmp->n == WK_PRICES_MAX) {
                snprintf(errmsg, errlen, "pricing: more than %d models", WK_PRICES_MAX);
                goto out;
            }
            slot = &tmp->v[tmp->n++];
        }
        *slot = pr;
    }
    *p = *tmp;
    rc = CCP_OK;

out:
    json_object_put(root);
    if (tok != NULL) {
        json_tokener_free(tok);
    }
    ccp_free(tmp);
    return rc;
}

enum ccp_err wk_pricing_load(struct wk_pricing *p, const char *path, char *errmsg, size_t errlen)
{
    char *data = NULL;
    FILE *f = fopen(path, "rb");
    size_t n = 0;
    enum ccp_err rc = CCP_ERR_INVALID;

    if (f == NULL) {
        snprintf(errmsg, errlen, "PRICING_FILE: cannot open %s: %s", path, strerror(errno));
        return CCP_ERR_INVALID;
    }
    data = ccp_malloc(1024 * 1024 + 1);
    if (data == NULL) {
        rc = CCP_ERR_NOMEM;
        goto out;
    }
    n = fread(data, 1, 1024 * 1024 + 1, f);
    if (ferror(f) || n > 1024 * 1024) {
        snprintf(errmsg, errlen, "PRICING_FILE: %s: unreadable or larger than 1 MiB", path);
        goto out;
    }
    rc = wk_pricing_parse(p, data, n, errmsg, errlen);
out:
    ccp_free(data);
    fclose(f);
    return rc;
}

/* model starts with prefix (case-insensitive) at a name boundary. */
static bool prefix_of(const char *prefix, const char *model)
{
    size_t n = strlen(prefix);

    return strncasecmp(prefix, model, n) == 0 &&
           (model[n] == '\0' || model[n] == '-' || model[n] == '@' || model[n] == ':');
}

const struct wk_price *wk_pricing_find(const struct wk_pricing *p, const char *model)
{
    const struct wk_price *best = NULL;
    const char *slash;
    size_t i, best_len = 0;

    if (model == NULL || model[0] == '\0') {
        return NULL;
    }
    slash = strrchr(model, '/'); /* "openai/gpt-5" (OpenRouter style) */
    if (slash != NULL && slash[1] != '\0') {
        model = slash + 1;
    }
    for (i = 0; i < p->n; i++) {
        size_t n = strlen(p->v[i].model);

        if (n > best_len && prefix_of(p->v[i].model, model)) {
            best = &p->v[i];
            best_len = n;
        }
    }
    return best;
}

uint64_t wk_cost_nusd(const struct wk_price *pr, uint64_t tokens_in, uint64_t cached,
                      uint64_t tokens_out)
{
    double nusd;

    if (pr == NULL) {
        return 0;
    }
    if (cached > tokens_in) {
        cached = tokens_in;
    }
    /* USD per million tokens = 1000 nano-USD per token */
    nusd = ((double)(tokens_in - cached) * pr->input + (double)cached * pr->cached_input +
            (double)tokens_out * pr->output) *
           1000.0;
    return (uint64_t)llround(nusd);
}
