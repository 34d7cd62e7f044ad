/* fcgi/models.c: GET /v1/models (and /v1/models/<id>): the Claude model
 * names clients may ask for, in the Anthropic list format. Every name is
 * served by BIG_MODEL_NAME or SMALL_MODEL_NAME upstream. */
#include "config.h"

#include <string.h>

#include "common/buf.h"
#include "fcgi/handler_int.h"

#include "common/banned.h"

struct model {
    const char *id;
    const char *display_name;
    const char *created_at; /* RFC 3339 */
};

/* Newest first, as the Anthropic API lists them. */
static const struct model models[] = {
    {"claude-opus-5-5", "Claude Opus 5.5", "2026-09-01T00:00:00Z"},
    {"claude-sonnet-5-5", "Claude Sonnet 5.5", "2026-09-01T00:00:00Z"},
    {"claude-haiku-5-5", "Claude Haiku 5.5", "2026-09-01T00:00:00Z"},
    {"claude-sonnet-4-5-20250929", "Claude Sonnet 4.5", "2025-09-29T00:00:00Z"},
    {"claude-opus-4-1-20250805", "Claude Opus 4.1", "2025-08-05T00:00:00Z"},
    {"claude-opus-4-20250514", "Claude Opus 4", "2025-05-14T00:00:00Z"},
    {"claude-sonnet-4-20250514", "Claude Sonnet 4", "2025-05-14T00:00:00Z"},
    {"claude-3-7-sonnet-20250219", "Claude Sonnet 3.7", "2025-02-19T00:00:00Z"},
    {"claude-3-5-haiku-20241022", "Claude Haiku 3.5", "2024-10-22T00:00:00Z"},
};

static enum ccp_err append_model(struct buf *b, const struct model *m)
{
    return buf_appendf(
        b, "{\"type\":\"model\",\"id\":\"%s\",\"display_name\":\"%s\",\"created_at\":\"%s\"}",
        m->id, m->display_name, m->created_at);
}

static enum ccp_err list_json(struct buf *b)
{
    enum ccp_err rc = buf_append_cstr(b, "{\"data\":[");
    size_t i;

    for (i = 0; rc == CCP_OK && i < CCP_ARRAY_LEN(models); i++) {
        if (i > 0) {
            rc = buf_putc(b, ',');
        }
        if (rc == CCP_OK) {
            rc = append_model(b, &models[i]);
        }
    }
    if (rc == CCP_OK) {
        rc = buf_appendf(b, "],\"has_more\":false,\"first_id\":\"%s\",\"last_id\":\"%s\"}",
                         models[0].id, models[CCP_ARRAY_LEN(models) - 1].id);
    }
    return rc;
}

void wk_route_models(struct wk_req *r)
{
    static const char prefix[] = "/v1/models/";
    struct tr_error err;
    struct buf b;
    enum ccp_err rc = CCP_OK;
    const struct model *one = NULL;
    size_t i;

    memset(&err, 0, sizeof(err));
    buf_init(&b, 16 * 1024);
    if (strncmp(r->path, prefix, sizeof(prefix) - 1) == 0) {
        const char *id = r->path + sizeof(prefix) - 1;

        for (i = 0; i < CCP_ARRAY_LEN(models); i++) {
            if (strcmp(models[i].id, id) == 0) {
                one = &models[i];
            }
        }
        if (one == NULL) {
            tr_error_set(&err, CCP_ERR_INVALID, "model %.100s not found", id);
            err.status = 404;
            err.type = "not_found_error";
            wk_send_error(r, &err);
            goto out;
        }
        rc = append_model(&b, one);
    } else {
        rc = list_json(&b); /* ?limit= and paging are ignored: the list is short */
    }
    if (rc != CCP_OK) {
        tr_error_set(&err, rc, "could not build the model list");
        wk_send_error(r, &err);
        goto out;
    }
    wk_send_json(r, 200, NULL, b.ptr, b.len);

out:
    buf_release(&b);
}
