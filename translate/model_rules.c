/* translate/model_rules.c: per-model capability rules (built-in table,
 * overrides from tr_opts, the MODEL_RULES text parser) and the shortening of
 * long tool names with a stable hash. */
#include "config.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "translate/translate.h"

#include "common/banned.h"

/* The built-in rules, first match per field wins; "*" ends the table and
 * sets every field. Caps are the documented maximum output of each family. */
static const struct tr_model_rule builtin_rules[] = {
    {"gpt-5*", TR_MAXF_MAX_COMPLETION_TOKENS, 128000, TR_NO, TR_YES, TR_YES, TR_NO},
    {"o1-mini*", TR_MAXF_MAX_COMPLETION_TOKENS, 65536, TR_NO, TR_NO, TR_NO, TR_NO},
    {"o1*", TR_MAXF_MAX_COMPLETION_TOKENS, 100000, TR_NO, TR_YES, TR_YES, TR_NO},
    {"o3*", TR_MAXF_MAX_COMPLETION_TOKENS, 100000, TR_NO, TR_YES, TR_YES, TR_NO},
    {"o4*", TR_MAXF_MAX_COMPLETION_TOKENS, 100000, TR_NO, TR_YES, TR_YES, TR_NO},
    {"gpt-4.1*", TR_MAXF_MAX_TOKENS, 32768, TR_YES, TR_NO, TR_YES, TR_NO},
    {"gpt-4o*", TR_MAXF_MAX_TOKENS, 16384, TR_YES, TR_NO, TR_YES, TR_NO},
    {"gpt-3.5*", TR_MAXF_MAX_TOKENS, 4096, TR_YES, TR_NO, TR_NO, TR_NO},
    {"deepseek-reasoner*", TR_MAXF_MAX_TOKENS, 65536, TR_NO, TR_NO, TR_NO, TR_YES},
    {"deepseek-chat*", TR_MAXF_MAX_TOKENS, 8192, TR_YES, TR_NO, TR_NO, TR_NO},
    {"kimi-k2-thinking*", TR_MAXF_MAX_TOKENS, 0, TR_YES, TR_NO, TR_NO, TR_YES},
    {"*", TR_MAXF_MAX_TOKENS, 0, TR_YES, TR_NO, TR_YES, TR_NO},
};

/* Case-insensitive glob, '*' only. Iterative with one backtrack point, so
 * linear in practice and never recursive. */
static bool glob_match(const char *p, const char *s)
{
    const char *star = NULL, *retry = NULL;

    while (*s != '\0') {
        if (*p == '*') {
            star = p++;
            retry = s;
        } else if (*p != '\0' && tolower((unsigned char)*p) == tolower((unsigned char)*s)) {
            p++;
            s++;
        } else if (star != NULL) {
            p = star + 1;
            s = ++retry;
        } else {
            return false;
        }
    }
    while (*p == '*') {
        p++;
    }
    return *p == '\0';
}

static bool rule_matches(const struct tr_model_rule *r, const char *model)
{
    const char *slash = strrchr(model, '/');

    if (r->pattern == NULL) {
        return false;
    }
    if (strchr(r->pattern, '/') == NULL && slash != NULL) {
        model = slash + 1;
    }
    return glob_match(r->pattern, model);
}

/* Apply the fields r sets that are still unset in *acc. */
static void merge(struct tr_model_rule *acc, const struct tr_model_rule *r, bool *cap_set)
{
    if (acc->max_field == TR_MAXF_UNSET) {
        acc->max_field = r->max_field;
    }
    if (!*cap_set && r->max_output != 0) {
        acc->max_output = r->max_output;
        *cap_set = true;
    }
    if (acc->sampling == TR_UNSET) {
        acc->sampling = r->sampling;
    }
    if (acc->effort == TR_UNSET) {
        acc->effort = r->effort;
    }
    if (acc->vision == TR_UNSET) {
        acc->vision = r->vision;
    }
    if (acc->replay == TR_UNSET) {
        acc->replay = r->replay;
    }
}

void tr_model_caps(const struct tr_opts *o, const char *model, struct tr_model_caps *caps)
{
    struct tr_model_rule acc;
    bool cap_set = false;
    size_t i;

    memset(&acc, 0, sizeof(acc));
    for (i = 0; o->rules != NULL && i < o->nrules; i++) {
        if (rule_matches(&o->rules[i], model)) {
            merge(&acc, &o->rules[i], &cap_set);
        }
    }
    for (i = 0; i < CCP_ARRAY_LEN(builtin_rules); i++) {
        if (rule_matches(&builtin_rules[i], model)) {
            merge(&acc, &builtin_rules[i], &cap_set);
        }
    }
    caps->max_field = acc.max_field != TR_MAXF_UNSET ? acc.max_field : TR_MAXF_MAX_TOKENS;
    caps->max_output = acc.max_output;
    caps->sampling = acc.sampling != TR_NO;
    caps->effort = acc.effort == TR_YES;
    caps->vision = acc.vision != TR_NO;
    caps->replay = acc.replay == TR_YES;
}

/* ---- MODEL_RULES parser --------------------------------------------------- */

struct span {
    const char *p;
    size_t n;
};

static struct span trim(const char *p, size_t n)
{
    struct span s;

    while (n > 0 && isspace((unsigned char)*p)) {
        p++;
        n--;
    }
    while (n > 0 && isspace((unsigned char)p[n - 1])) {
        n--;
    }
    s.p = p;
    s.n = n;
    return s;
}

static bool span_is(struct span s, const char *lit)
{
    return s.n == strlen(lit) && strncmp(s.p, lit, s.n) == 0;
}

static bool parse_tri(struct span v, enum tr_tri *out)
{
    if (span_is(v, "yes")) {
        *out = TR_YES;
    } else if (span_is(v, "no")) {
        *out = TR_NO;
    } else {
        return false;
    }
    return true;
}

static bool parse_count(struct span v, unsigned long *out)
{
    unsigned long n = 0;
    size_t i;

    if (v.n == 0 || v.n > 9) {
        return false;
    }
    for (i = 0; i < v.n; i++) {
        if (v.p[i] < '0' || v.p[i] > '9') {
            return false;
        }
        n = n * 10 + (unsigned long)(v.p[i] - '0');
    }
    *out = n;
    return true;
}

/* One key=value into *r; false on an unknown key or bad value. */
static bool parse_kv(struct span kv, struct tr_model_rule *r)
{
    const char *eq = memchr(kv.p, '=', kv.n);
    struct span k, v;

    if (eq == NULL) {
        return false;
    }
    k = trim(kv.p, (size_t)(eq - kv.p));
    v = trim(eq + 1, kv.n - (size_t)(eq - kv.p) - 1);
    if (span_is(k, "max_field")) {
        if (span_is(v, "max_tokens")) {
            r->max_field = TR_MAXF_MAX_TOKENS;
        } else if (span_is(v, "max_completion_tokens")) {
            r->max_field = TR_MAXF_MAX_COMPLETION_TOKENS;
        } else {
            return false;
        }
        return true;
    }
    if (span_is(k, "max_output")) {
        return parse_count(v, &r->max_output);
    }
    if (span_is(k, "sampling")) {
        return parse_tri(v, &r->sampling);
    }
    if (span_is(k, "effort")) {
        return parse_tri(v, &r->effort);
    }
    if (span_is(k, "vision")) {
        return parse_tri(v, &r->vision);
    }
    if (span_is(k, "replay")) {
        return parse_tri(v, &r->replay);
    }
    return false;
}

/* One `pattern:kv,kv` rule (trimmed, non-empty) into *r, its pattern copied
 * at strings + *used. */
static enum ccp_err parse_rule(struct span rule, struct tr_model_rule *r, char *strings, size_t cap,
                               size_t *used, char *msg, size_t msgcap)
{
    const char *colon = memchr(rule.p, ':', rule.n), *end = rule.p + rule.n, *p, *comma;
    struct span pat;

    memset(r, 0, sizeof(*r));
    if (colon == NULL) {
        (void)snprintf(msg, msgcap, "rule \"%.*s\": expected pattern:key=value", (int)rule.n,
                       rule.p);
        return CCP_ERR_INVALID;
    }
    pat = trim(rule.p, (size_t)(colon - rule.p));
    if (pat.n == 0) {
        (void)snprintf(msg, msgcap, "rule \"%.*s\": empty pattern", (int)rule.n, rule.p);
        return CCP_ERR_INVALID;
    }
    if (cap - *used < pat.n + 1) {
        (void)snprintf(msg, msgcap, "MODEL_RULES: too long");
        return CCP_ERR_TOO_LARGE;
    }
    memcpy(strings + *used, pat.p, pat.n);
    strings[*used + pat.n] = '\0';
    r->pattern = strings + *used;
    *used += pat.n + 1;
    for (p = colon + 1; p < end; p = comma + 1) {
        struct span kv;
        comma = memchr(p, ',', (size_t)(end - p));
        if (comma == NULL) {
            comma = end;
        }
        kv = trim(p, (size_t)(comma - p));
        if (kv.n > 0 && !parse_kv(kv, r)) {
            (void)snprintf(msg, msgcap, "rule \"%.*s\": bad setting \"%.*s\"", (int)pat.n, pat.p,
                           (int)kv.n, kv.p);
            return CCP_ERR_INVALID;
        }
    }
    return CCP_OK;
}

enum ccp_err tr_model_rules_parse(const char *text, struct tr_model_rule *rules, size_t nmax,
                                  size_t *n, char *strings, size_t cap, char *msg, size_t msgcap)
{
    const char *p = text != NULL ? text : "", *semi;
    size_t count = 0, used = 0;
    enum ccp_err rc = CCP_OK;

    if (msgcap > 0) {
        msg[0] = '\0';
    }
    for (; rc == CCP_OK; p = semi + 1) {
        struct span rule;
        semi = strchr(p, ';');
        if (semi == NULL) {
            semi = p + strlen(p);
        }
        rule = trim(p, (size_t)(semi - p));
        if (rule.n > 0) {
            if (count == nmax) {
                (void)snprintf(msg, msgcap, "MODEL_RULES: more than %zu rules", nmax);
                rc = CCP_ERR_TOO_LARGE;
                break;
            }
            rc = parse_rule(rule, &rules[count], strings, cap, &used, msg, msgcap);
            count++;
        }
        if (*semi == '\0') {
            break;
        }
    }
    if (rc == CCP_OK) {
        *n = count;
    }
    return rc;
}

/* ---- tool names ------------------------------------------------------------ */

/* Bytes of the client name kept in front of the hash. */
#define KEEP_PREFIX (TR_TOOL_NAME_MAX - 9)

const char *tr_tool_name_upstream(const char *name, char *dst)
{
    size_t n = strlen(name), i;
    uint32_t h = 2166136261u; /* FNV-1a, 32 bits */

    if (n <= TR_TOOL_NAME_MAX) {
        memcpy(dst, name, n + 1);
        return dst;
    }
    for (i = 0; i < n; i++) {
        h ^= (unsigned char)name[i];
        h *= 16777619u;
    }
    memcpy(dst, name, KEEP_PREFIX);
    (void)snprintf(dst + KEEP_PREFIX, TR_TOOL_NAME_MAX + 1 - KEEP_PREFIX, "_%08x", (unsigned)h);
    return dst;
}

const char *tr_tool_name_client(const struct tr_reqinfo *info, const char *name, size_t nlen)
{
    size_t i;

    for (i = 0; info != NULL && i < info->naliases && i < TR_MAX_TOOL_ALIASES; i++) {
        if (strlen(info->aliases[i].upstream) == nlen &&
            memcmp(info->aliases[i].upstream, name, nlen) == 0) {
            return info->aliases[i].client;
        }
    }
    return NULL;
}
