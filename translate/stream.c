/* translate/stream.c: the streaming state machine, OpenAI chat.completion.chunk
 * SSE in (any chunking), Anthropic Messages SSE events out.
 *
 * Choices made here (documented for the worker and for reviewers):
 * - message_start (then one ping) goes out at the first upstream line that
 *   is data or a comment, so the client sees bytes as soon as the upstream
 *   answers. Its usage is the first chunk's usage if that chunk has one,
 *   else input_tokens 0, and always output_tokens 1, like Anthropic's.
 * - Each upstream comment (": keepalive", ": OPENROUTER PROCESSING") after
 *   that becomes an `event: ping`, so keepalives reach the client.
 * - Each `data:` line is one JSON chunk (OpenAI never splits a chunk over
 *   several data lines); `event:`, `id:` and `retry:` lines are ignored.
 *   A chunk of the common shape (text, reasoning, tool call fragments, a
 *   finish reason) is read by tr_jparse_chunk without json-c objects; the
 *   rest (usage, errors, anything unusual) through json-c. Both readings
 *   end in apply_choice, so the events do not depend on which read it.
 * - Blocks: reasoning (reasoning_content or reasoning) → thinking block,
 *   closed with an empty signature_delta; content (and refusal) → text
 *   block; each tool call, keyed by its `index`, → tool_use block. A block
 *   of another kind closes the open one.
 * - Parallel tool calls whose fragments interleave: while the open tool
 *   block's arguments are not yet a complete JSON value, fragments of other
 *   calls are buffered. At that call's next fragment after the open one is
 *   complete, the open block closes and the buffered call opens with its
 *   buffered arguments as one delta, then streams on; calls still buffered
 *   when another kind of block starts or the message ends go out as whole
 *   blocks in upstream index order. The decisions depend on the parsed
 *   chunks only, never on how bytes were split. Argument bytes for a block
 *   already closed (other than whitespace) cannot be delivered in a
 *   well-formed stream: the stream fails rather than run a truncated call.
 * - A tool name shortened by the request translation (longer than 64
 *   bytes) is mapped back to the client's name (tr_reqinfo aliases).
 * - finish_reason is remembered; message_delta and message_stop go out at
 *   [DONE], or at tr_stream_finish if a finish_reason was seen, so usage sent
 *   in a later chunk (stream_options.include_usage) is included. "stop" with
 *   tool calls becomes tool_use, since the client must run them.
 * - Without upstream usage, output_tokens is estimated as one per four bytes
 *   of generated text.
 * - Errors (upstream {"error":...} chunk, bad JSON, an early end) are sent
 *   as `event: error` right after the last event, without closing blocks,
 *   as Anthropic does; the stream then ignores further input. */
#include "config.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "common/alloc.h"
#include "common/str.h"
#include "translate/errmap_int.h"
#include "translate/jparse.h"
#include "translate/json_int.h"
#include "translate/sse_int.h"
#include "translate/translate.h"

#include "common/banned.h"

#define EV_MAX_DEFAULT ((size_t)64 << 20)

enum blk { BLK_NONE, BLK_TEXT, BLK_THINKING, BLK_TOOL };

/* A tool call whose fragments arrived while another tool block was open. */
struct pend_tool {
    int64_t idx;
    struct buf id, name, args;
};

/* Where a JSON value being streamed stands (for "are the arguments whole"). */
struct json_scan {
    int depth;
    bool begun, in_str, esc;
};

struct tr_stream {
    struct tr_sse sse;
    struct json_tokener *tok; /* for the chunks json-c reads; made on first need */
    int tok_depth;            /* the depth tok was made with */
    struct buf chunk;         /* tr_jparse_chunk's unescaped strings */
    struct buf ev;            /* the event being built; appended to `out` whole */
    char *msg_id;
    char model[sizeof(((struct tr_reqinfo *)0)->client_model)];
    struct tr_reqinfo names; /* only the tool name aliases are set */
    int depth;

    bool started;  /* message_start sent */
    bool finished; /* message_stop sent */
    bool failed;   /* event: error sent (or could not be) */
    bool saw_finish;
    struct tr_error fail_err;

    enum blk open;
    unsigned long index;      /* index of the open block */
    unsigned long next_index; /* index of the next block */
    int64_t tool;             /* upstream index of the open tool call */
    bool tool_args;           /* the open tool block got argument bytes */
    bool any_tool;
    int64_t *seen; /* upstream tool indices that had a block */
    size_t nseen, capseen;
    struct json_scan scan;  /* the open tool block's arguments so far */
    struct pend_tool *pend; /* buffered calls (see the top of the file) */
    size_t npend, cappend;
    size_t max; /* cap on one buffered argument string */

    const char *finish; /* upstream finish_reason mapped, or NULL */
    bool have_usage;
    unsigned long prompt, completion, cached;
    unsigned long gen_bytes; /* generated text, for the estimate */

    struct buf *out; /* during a feed */
};

/* ---- event writing ------------------------------------------------------ */

/* Events are built from literal pieces and numbers without printf, which
 * was a sixth of the time of a stream. */
static enum ccp_err put(struct buf *b, const char *s, enum ccp_err rc)
{
    return rc == CCP_OK ? buf_append_cstr(b, s) : rc;
}

/* n in decimal. */
static enum ccp_err put_ulong(struct buf *b, unsigned long n, enum ccp_err rc)
{
    char d[24];
    size_t i = sizeof(d);

    do {
        d[--i] = (char)('0' + n % 10);
        n /= 10;
    } while (n > 0);
    return rc == CCP_OK ? buf_append(b, d + i, sizeof(d) - i) : rc;
}

static enum ccp_err ev_start(struct tr_stream *st, const char *type)
{
    enum ccp_err rc;

    buf_reset(&st->ev);
    rc = put(&st->ev, "event: ", CCP_OK);
    rc = put(&st->ev, type, rc);
    return put(&st->ev, "\ndata: ", rc);
}

/* Finish the event and append it to out, whole or not at all. */
static enum ccp_err ev_end(struct tr_stream *st, enum ccp_err rc)
{
    if (rc == CCP_OK) {
        rc = buf_append(&st->ev, "\n\n", 2);
    }
    if (rc == CCP_OK) {
        rc = buf_append(st->out, st->ev.ptr, st->ev.len);
    }
    return rc;
}

static enum ccp_err ev_simple(struct tr_stream *st, const char *type, const char *json)
{
    enum ccp_err rc = ev_start(st, type);

    if (rc == CCP_OK) {
        rc = buf_append_cstr(&st->ev, json);
    }
    return ev_end(st, rc);
}

static enum ccp_err put_str(struct buf *b, const char *s, size_t n, enum ccp_err rc)
{
    return rc == CCP_OK ? buf_append_json_string(b, s, n) : rc;
}

static unsigned long input_tokens(const struct tr_stream *st)
{
    return st->prompt > st->cached ? st->prompt - st->cached : 0;
}

static enum ccp_err emit_message_start(struct tr_stream *st)
{
    enum ccp_err rc = ev_start(st, "message_start");

    rc = put(&st->ev, "{\"type\":\"message_start\",\"message\":{\"id\":", rc);
    rc = put_str(&st->ev, st->msg_id, strlen(st->msg_id), rc);
    rc = put(&st->ev, ",\"type\":\"message\",\"role\":\"assistant\",\"model\":", rc);
    rc = put_str(&st->ev, st->model, strlen(st->model), rc);
    rc = put(&st->ev, ",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":", rc);
    if (rc == CCP_OK) {
        rc = buf_appendf(&st->ev,
                         "{\"input_tokens\":%lu,\"cache_creation_input_tokens\":0,"
                         "\"cache_read_input_tokens\":%lu,\"output_tokens\":1}}}",
                         input_tokens(st), st->cached);
    }
    rc = ev_end(st, rc);
    if (rc == CCP_OK) {
        rc = ev_simple(st, "ping", "{\"type\":\"ping\"}");
    }
    return rc;
}

/* Send message_start if not yet sent; *now tells whether this call sent it. */
static enum ccp_err ensure_started(struct tr_stream *st, bool *now)
{
    enum ccp_err rc = CCP_OK;

    if (now != NULL) {
        *now = false;
    }
    if (!st->started) {
        rc = emit_message_start(st);
        if (rc == CCP_OK) {
            st->started = true;
            if (now != NULL) {
                *now = true;
            }
        }
    }
    return rc;
}

static enum ccp_err emit_delta(struct tr_stream *st, const char *dtype, const char *key,
                               const char *s, size_t n)
{
    enum ccp_err rc = ev_start(st, "content_block_delta");

    rc = put(&st->ev, "{\"type\":\"content_block_delta\",\"index\":", rc);
    rc = put_ulong(&st->ev, st->index, rc);
    rc = put(&st->ev, ",\"delta\":{\"type\":\"", rc);
    rc = put(&st->ev, dtype, rc);
    rc = put(&st->ev, "\",\"", rc);
    rc = put(&st->ev, key, rc);
    rc = put(&st->ev, "\":", rc);
    rc = put_str(&st->ev, s, n, rc);
    rc = put(&st->ev, "}}", rc);
    return ev_end(st, rc);
}

static enum ccp_err close_block(struct tr_stream *st)
{
    enum ccp_err rc = CCP_OK;

    if (st->open == BLK_NONE) {
        return CCP_OK;
    }
    if (st->open == BLK_THINKING) {
        rc = emit_delta(st, "signature_delta", "signature", "", 0);
    } else if (st->open == BLK_TOOL && !st->tool_args) {
        rc = emit_delta(st, "input_json_delta", "partial_json", "{}", 2);
    }
    if (rc == CCP_OK) {
        rc = ev_start(st, "content_block_stop");
    }
    if (rc == CCP_OK) {
        rc = put(&st->ev, "{\"type\":\"content_block_stop\",\"index\":", rc);
        rc = put_ulong(&st->ev, st->index, rc);
        rc = put(&st->ev, "}", rc);
        rc = ev_end(st, rc);
    }
    if (rc == CCP_OK) {
        st->open = BLK_NONE;
    }
    return rc;
}

static enum ccp_err close_all(struct tr_stream *st);

/* Open a text or thinking block (closing another kind first, and sending
 * buffered tool calls). */
static enum ccp_err open_block(struct tr_stream *st, enum blk kind)
{
    enum ccp_err rc;
    const char *cb = kind == BLK_TEXT
                         ? "{\"type\":\"text\",\"text\":\"\"}}"
                         : "{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}}";

    if (st->open == kind) {
        return CCP_OK;
    }
    rc = close_all(st);
    if (rc == CCP_OK) {
        rc = ev_start(st, "content_block_start");
    }
    if (rc == CCP_OK) {
        rc = buf_appendf(
            &st->ev,
            "{\"type\":\"content_block_start\",\"index\":%lu,\"content_block\":", st->next_index);
        rc = put(&st->ev, cb, rc);
        rc = ev_end(st, rc);
    }
    if (rc == CCP_OK) {
        st->open = kind;
        st->index = st->next_index++;
    }
    return rc;
}

/* ---- errors ------------------------------------------------------------- */

/* Send message_start if needed, then event: error for e; the stream is then
 * over. Returns the output buffer's result. */
static enum ccp_err send_error(struct tr_stream *st, const struct tr_error *e)
{
    enum ccp_err rc;

    st->failed = true;
    st->fail_err = *e;
    rc = ensure_started(st, NULL);
    if (rc == CCP_OK) {
        buf_reset(&st->ev);
        rc = tr_error_sse(e, &st->ev);
    }
    if (rc == CCP_OK) {
        rc = buf_append(st->out, st->ev.ptr, st->ev.len);
    }
    return rc;
}

/* send_error, returning e->code (or the buffer's error). */
static enum ccp_err fail(struct tr_stream *st, const struct tr_error *e)
{
    enum ccp_err rc = send_error(st, e);

    return rc != CCP_OK ? rc : e->code;
}

static enum ccp_err fail_code(struct tr_stream *st, enum ccp_err code, const char *msg)
{
    struct tr_error e;

    tr_error_set(&e, code, "%s", msg);
    return fail(st, &e);
}

/* ---- chunk handling ----------------------------------------------------- */

static void take_usage(struct tr_stream *st, struct json_object *chunk)
{
    struct json_object *u, *d;

    if (!json_object_object_get_ex(chunk, "usage", &u) ||
        !json_object_is_type(u, json_type_object)) {
        return;
    }
    st->have_usage = true;
    st->prompt = tr_json_ulong(u, "prompt_tokens");
    st->completion = tr_json_ulong(u, "completion_tokens");
    st->cached = 0;
    if (json_object_object_get_ex(u, "prompt_tokens_details", &d) &&
        json_object_is_type(d, json_type_object)) {
        st->cached = tr_json_ulong(d, "cached_tokens");
    }
    if (st->cached == 0) {
        st->cached = tr_json_ulong(u, "prompt_cache_hit_tokens"); /* DeepSeek */
    }
    if (st->cached > st->prompt) {
        st->cached = st->prompt;
    }
}

static enum ccp_err add_text(struct tr_stream *st, enum blk kind, const char *s, size_t n)
{
    enum ccp_err rc;

    if (s == NULL || n == 0) {
        return CCP_OK;
    }
    rc = open_block(st, kind);
    if (rc == CCP_OK) {
        rc = kind == BLK_TEXT ? emit_delta(st, "text_delta", "text", s, n)
                              : emit_delta(st, "thinking_delta", "thinking", s, n);
    }
    st->gen_bytes += n;
    return rc;
}

static bool tool_seen(const struct tr_stream *st, int64_t idx)
{
    size_t i;

    for (i = 0; i < st->nseen; i++) {
        if (st->seen[i] == idx) {
            return true;
        }
    }
    return false;
}

static void scan_json(struct json_scan *j, const char *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        char ch = p[i];

        if (j->in_str) {
            if (j->esc) {
                j->esc = false;
            } else if (ch == '\\') {
                j->esc = true;
            } else if (ch == '"') {
                j->in_str = false;
            }
        } else if (ch == '"') {
            j->in_str = true;
            j->begun = true;
        } else if (ch == '{' || ch == '[') {
            j->depth++;
            j->begun = true;
        } else if (ch == '}' || ch == ']') {
            j->depth--;
        } else if (ch != ' ' && ch != '\t' && ch != '\r' && ch != '\n') {
            j->begun = true;
        }
    }
}

/* The open tool block's arguments form a whole JSON object or array. */
static bool args_whole(const struct tr_stream *st)
{
    return st->scan.begun && st->scan.depth <= 0 && !st->scan.in_str;
}

static bool only_space(const char *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n') {
            return false;
        }
    }
    return true;
}

/* Open a tool_use block for upstream call idx (closing the open block). */
static enum ccp_err open_tool(struct tr_stream *st, int64_t idx, const char *id, size_t idlen,
                              const char *name, size_t namelen)
{
    char gen[sizeof(st->model) + 48];
    enum ccp_err rc;

    if (st->nseen == st->capseen) {
        size_t ncap = st->capseen ? st->capseen * 2 : 8;
        int64_t *p = ccp_realloc(st->seen, ncap * sizeof(*p));
        if (p == NULL) {
            return CCP_ERR_NOMEM;
        }
        st->seen = p;
        st->capseen = ncap;
    }
    rc = close_block(st);
    if (rc != CCP_OK) {
        return rc;
    }
    if (name != NULL && tr_tool_name_client(&st->names, name, namelen) != NULL) {
        name = tr_tool_name_client(&st->names, name, namelen); /* a shortened name */
        namelen = strlen(name);
    }
    if (id == NULL || idlen == 0) { /* a deterministic id, unique per message */
        int k = snprintf(gen, sizeof(gen), "toolu_%s_%lu", st->msg_id, st->next_index);
        id = gen;
        idlen = k > 0 && (size_t)k < sizeof(gen) ? (size_t)k : 0;
    }
    rc = ev_start(st, "content_block_start");
    if (rc == CCP_OK) {
        rc = buf_appendf(&st->ev,
                         "{\"type\":\"content_block_start\",\"index\":%lu,\"content_block\":"
                         "{\"type\":\"tool_use\",\"id\":",
                         st->next_index);
    }
    rc = put_str(&st->ev, id, idlen, rc);
    rc = put(&st->ev, ",\"name\":", rc);
    rc = put_str(&st->ev, name != NULL ? name : "", namelen, rc);
    rc = put(&st->ev, ",\"input\":{}}}", rc);
    rc = ev_end(st, rc);
    if (rc == CCP_OK) {
        st->seen[st->nseen++] = idx;
        st->open = BLK_TOOL;
        st->tool = idx;
        st->tool_args = false;
        memset(&st->scan, 0, sizeof(st->scan));
        st->any_tool = true;
        st->index = st->next_index++;
    }
    return rc;
}

/* Argument bytes for the open tool block. */
static enum ccp_err tool_args(struct tr_stream *st, const char *args, size_t alen)
{
    enum ccp_err rc = CCP_OK;

    if (args != NULL && alen > 0) {
        rc = emit_delta(st, "input_json_delta", "partial_json", args, alen);
        st->tool_args = true;
        st->gen_bytes += alen;
        scan_json(&st->scan, args, alen);
    }
    return rc;
}

static struct pend_tool *pend_find(struct tr_stream *st, int64_t idx)
{
    size_t i;

    for (i = 0; i < st->npend; i++) {
        if (st->pend[i].idx == idx) {
            return &st->pend[i];
        }
    }
    return NULL;
}

static void pend_release(struct pend_tool *p)
{
    buf_release(&p->id);
    buf_release(&p->name);
    buf_release(&p->args);
}

/* Buffer a fragment of call idx (id, name, arguments; each may be NULL). */
static enum ccp_err pend_add(struct tr_stream *st, int64_t idx, const char *id, size_t idlen,
                             const char *name, size_t namelen, const char *args, size_t alen)
{
    struct pend_tool *p = pend_find(st, idx);
    enum ccp_err rc = CCP_OK;

    if (p == NULL) {
        if (st->npend == st->cappend) {
            size_t ncap = st->cappend ? st->cappend * 2 : 4;
            struct pend_tool *np = ccp_realloc(st->pend, ncap * sizeof(*np));
            if (np == NULL) {
                return CCP_ERR_NOMEM;
            }
            st->pend = np;
            st->cappend = ncap;
        }
        p = &st->pend[st->npend++];
        p->idx = idx;
        buf_init(&p->id, 1024);
        buf_init(&p->name, 1024);
        buf_init(&p->args, st->max);
    }
    /* OpenAI sends id and name once, in the call's first fragment */
    if (id != NULL && idlen > 0 && p->id.len == 0) {
        rc = buf_append(&p->id, id, idlen);
    }
    if (rc == CCP_OK && name != NULL && namelen > 0 && p->name.len == 0) {
        rc = buf_append(&p->name, name, namelen);
    }
    if (rc == CCP_OK && args != NULL && alen > 0) {
        rc = buf_append(&p->args, args, alen);
    }
    return rc;
}

/* Open the buffered call p as the open block, its arguments so far as one
 * delta, and forget it. */
static enum ccp_err pend_open(struct tr_stream *st, struct pend_tool *p)
{
    struct pend_tool copy = *p;
    enum ccp_err rc;

    *p = st->pend[--st->npend]; /* unordered removal; flushing sorts */
    rc = open_tool(st, copy.idx, copy.id.ptr, copy.id.len, copy.name.ptr, copy.name.len);
    if (rc == CCP_OK) {
        rc = tool_args(st, copy.args.ptr, copy.args.len);
    }
    pend_release(&copy);
    return rc;
}

/* Close the open block, then send every buffered call as a whole block, in
 * upstream index order. */
static enum ccp_err close_all(struct tr_stream *st)
{
    enum ccp_err rc = close_block(st);

    while (rc == CCP_OK && st->npend > 0) {
        size_t i, lo = 0;

        for (i = 1; i < st->npend; i++) {
            if (st->pend[i].idx < st->pend[lo].idx) {
                lo = i;
            }
        }
        rc = pend_open(st, &st->pend[lo]);
        if (rc == CCP_OK) {
            rc = close_block(st);
        }
    }
    return rc;
}

/* A tool call element of delta.tool_calls (an object) as the chunk reader
 * gives it (jparse.h). */
static void tool_from_json(struct json_object *tc, struct tr_chunk_tool *t)
{
    struct json_object *v, *fn = NULL;

    memset(t, 0, sizeof(*t));
    if (json_object_object_get_ex(tc, "function", &fn) &&
        json_object_is_type(fn, json_type_object)) {
        t->args = tr_json_str(fn, "arguments", &t->args_len);
        t->name = tr_json_str(fn, "name", &t->name_len);
    }
    t->id = tr_json_str(tc, "id", &t->id_len);
    if (json_object_object_get_ex(tc, "index", &v) && json_object_is_type(v, json_type_int)) {
        t->has_index = true;
        t->index = json_object_get_int64(v);
    }
}

static enum ccp_err add_tool_fragment(struct tr_stream *st, const struct tr_chunk_tool *t)
{
    int64_t idx;
    const char *args = t->args, *id = t->id, *name = t->name;
    size_t alen = t->args_len, idlen = t->id_len, namelen = t->name_len;
    struct pend_tool *p;
    enum ccp_err rc;

    if (t->has_index) {
        idx = t->index;
    } else if (id != NULL || name != NULL) {
        idx = INT64_MIN + (int64_t)(st->nseen + st->npend); /* no index but an id: a new call */
    } else {
        idx = st->open == BLK_TOOL ? st->tool : 0;
    }
    if (st->open == BLK_TOOL && st->tool == idx) {
        return tool_args(st, args, alen);
    }
    if (tool_seen(st, idx)) {
        if (args == NULL || only_space(args, alen)) {
            return CCP_OK;
        }
        return fail_code(st, CCP_ERR_UPSTREAM_PROTO,
                         "upstream sent arguments for a tool call after its block ended");
    }
    if (st->open == BLK_TOOL && !args_whole(st)) {
        /* the open call is not finished: keep this one for later */
        return pend_add(st, idx, id, idlen, name, namelen, args, alen);
    }
    p = pend_find(st, idx);
    if (p != NULL) {
        /* its turn: the open call is whole; the buffered one streams on */
        rc = pend_add(st, idx, id, idlen, name, namelen, args, alen);
        return rc == CCP_OK ? pend_open(st, p) : rc;
    }
    rc = open_tool(st, idx, id, idlen, name, namelen);
    return rc == CCP_OK ? tool_args(st, args, alen) : rc;
}

/* f (n bytes) read as the C string json-c's path compared: up to a NUL. */
static bool finish_is(const char *f, size_t n, const char *word)
{
    size_t w = strlen(word);

    return n >= w && memcmp(f, word, w) == 0 && (n == w || f[w] == '\0');
}

static const char *map_finish(const char *f, size_t n)
{
    if (finish_is(f, n, "length")) {
        return "max_tokens";
    }
    if (finish_is(f, n, "tool_calls") || finish_is(f, n, "function_call")) {
        return "tool_use";
    }
    if (finish_is(f, n, "content_filter")) {
        return "refusal";
    }
    return "end_turn";
}

/* A choice's texts, its tool calls (ck's, or those of the json-c array
 * tool_calls when not NULL) and its finish reason, in that order,
 * whichever reader took them out of the chunk. */
static enum ccp_err apply_choice(struct tr_stream *st, const struct tr_chunk *ck,
                                 struct json_object *tool_calls)
{
    const char *s = ck->s[TR_CHUNK_REASONING_CONTENT];
    size_t n = ck->n[TR_CHUNK_REASONING_CONTENT], i;
    struct tr_chunk_tool t;
    enum ccp_err rc;

    if (s == NULL || n == 0) {
        s = ck->s[TR_CHUNK_REASONING];
        n = ck->n[TR_CHUNK_REASONING];
    }
    rc = add_text(st, BLK_THINKING, s, n);
    if (rc == CCP_OK) {
        rc = add_text(st, BLK_TEXT, ck->s[TR_CHUNK_CONTENT], ck->n[TR_CHUNK_CONTENT]);
    }
    if (rc == CCP_OK) {
        rc = add_text(st, BLK_TEXT, ck->s[TR_CHUNK_REFUSAL], ck->n[TR_CHUNK_REFUSAL]);
    }
    for (i = 0; rc == CCP_OK && tool_calls != NULL && i < json_object_array_length(tool_calls);
         i++) {
        struct json_object *tc = json_object_array_get_idx(tool_calls, i);

        if (json_object_is_type(tc, json_type_object)) { /* (the rest is skipped) */
            tool_from_json(tc, &t);
            rc = add_tool_fragment(st, &t);
        }
    }
    for (i = 0; rc == CCP_OK && tool_calls == NULL && i < ck->ntools; i++) {
        rc = add_tool_fragment(st, &ck->tool[i]);
    }
    if (rc == CCP_OK && !st->failed && ck->s[TR_CHUNK_FINISH_REASON] != NULL) {
        st->finish = map_finish(ck->s[TR_CHUNK_FINISH_REASON], ck->n[TR_CHUNK_FINISH_REASON]);
        st->saw_finish = true;
    }
    return rc;
}

static enum ccp_err handle_choice(struct tr_stream *st, struct json_object *ch)
{
    struct json_object *delta, *v, *tools = NULL;
    struct tr_chunk ck;
    int f;

    if (json_object_object_get_ex(ch, "index", &v) && json_object_get_int64(v) != 0) {
        return CCP_OK; /* n > 1 is not asked for; only the first choice counts */
    }
    memset(&ck, 0, sizeof(ck));
    if (json_object_object_get_ex(ch, "delta", &delta) &&
        json_object_is_type(delta, json_type_object)) {
        for (f = 0; f < TR_CHUNK_FINISH_REASON; f++) { /* the texts, in delta */
            ck.s[f] = tr_json_str(delta, tr_chunk_field_key[f], &ck.n[f]);
        }
        if (json_object_object_get_ex(delta, "tool_calls", &v) &&
            json_object_is_type(v, json_type_array)) {
            tools = v;
        }
    }
    ck.s[TR_CHUNK_FINISH_REASON] =
        tr_json_str(ch, tr_chunk_field_key[TR_CHUNK_FINISH_REASON], &ck.n[TR_CHUNK_FINISH_REASON]);
    return apply_choice(st, &ck, tools);
}

static enum ccp_err finish_message(struct tr_stream *st)
{
    const char *reason = st->finish != NULL ? st->finish : "end_turn";
    unsigned long out_tokens = st->have_usage ? st->completion : (st->gen_bytes + 3) / 4;
    enum ccp_err rc = ensure_started(st, NULL);

    if (st->any_tool && strcmp(reason, "end_turn") == 0) {
        reason = "tool_use";
    }
    if (rc == CCP_OK) {
        rc = close_all(st);
    }
    if (rc == CCP_OK) {
        rc = ev_start(st, "message_delta");
    }
    if (rc == CCP_OK) {
        rc = buf_appendf(&st->ev,
                         "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"%s\","
                         "\"stop_sequence\":null},\"usage\":{\"input_tokens\":%lu,"
                         "\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":%lu,"
                         "\"output_tokens\":%lu}}",
                         reason, input_tokens(st), st->cached, out_tokens);
        rc = ev_end(st, rc);
    }
    if (rc == CCP_OK) {
        rc = ev_simple(st, "message_stop", "{\"type\":\"message_stop\"}");
    }
    if (rc == CCP_OK) {
        st->finished = true;
    }
    return rc;
}

static enum ccp_err handle_data(struct tr_stream *st, struct str v)
{
    struct json_object *chunk, *choices;
    struct tr_chunk ck;
    enum ccp_err rc;
    size_t i;

    v = str_trim(v);
    if (v.len == 0) {
        return CCP_OK;
    }
    if (str_eq_cstr(v, "[DONE]")) {
        return finish_message(st);
    }
    /* the common chunk (text, reasoning, a finish reason) without building
     * json-c objects; the rest as json-c reads it */
    if (tr_jparse_chunk(v.ptr, v.len, st->tok_depth, &st->chunk, &ck)) {
        rc = ensure_started(st, NULL);
        if (rc == CCP_OK && ck.choice) {
            rc = apply_choice(st, &ck, NULL);
        }
        return rc;
    }
    chunk = tr_json_parse_tok(&st->tok, v.ptr, v.len, st->tok_depth);
    if (chunk == NULL) {
        return fail_code(st, CCP_ERR_UPSTREAM_PROTO,
                         "upstream sent a stream event that is not JSON");
    }
    if (tr_is_error_doc(chunk)) {
        struct tr_error e;
        tr_error_from_upstream_obj(&e, chunk);
        json_object_put(chunk);
        return fail(st, &e);
    }
    if (!json_object_is_type(chunk, json_type_object)) {
        json_object_put(chunk);
        return fail_code(st, CCP_ERR_UPSTREAM_PROTO,
                         "upstream sent a stream event that is not an object");
    }
    take_usage(st, chunk);
    rc = ensure_started(st, NULL);
    if (rc == CCP_OK && json_object_object_get_ex(chunk, "choices", &choices) &&
        json_object_is_type(choices, json_type_array)) {
        for (i = 0; rc == CCP_OK && !st->failed && i < json_object_array_length(choices); i++) {
            struct json_object *ch = json_object_array_get_idx(choices, i);
            if (json_object_is_type(ch, json_type_object)) {
                rc = handle_choice(st, ch);
            }
        }
    }
    json_object_put(chunk);
    return rc;
}

static enum ccp_err on_line(void *ctx, const struct tr_sse_line *line)
{
    struct tr_stream *st = ctx;
    bool now;
    enum ccp_err rc = CCP_OK;

    if (st->failed || st->finished || line->blank) {
        return CCP_OK;
    }
    if (line->comment) {
        rc = ensure_started(st, &now);
        if (rc == CCP_OK && !now) {
            rc = ev_simple(st, "ping", "{\"type\":\"ping\"}");
        }
    } else if (str_eq_cstr(line->field, "data")) {
        rc = handle_data(st, line->value);
    }
    if (rc != CCP_OK && !st->failed) {
        /* our output (or memory) ran out: nothing more can be sent */
        tr_error_set(&st->fail_err, rc, "could not write the translated stream");
        st->failed = true;
    }
    return rc;
}

/* ---- API ---------------------------------------------------------------- */

struct tr_stream *tr_stream_new(const struct tr_opts *o, const struct tr_reqinfo *info,
                                const char *msg_id)
{
    struct tr_stream *st = ccp_calloc(1, sizeof(*st));
    size_t max = o->max_out > 0 ? o->max_out : EV_MAX_DEFAULT;

    if (st == NULL) {
        return NULL;
    }
    st->msg_id = ccp_strdup(msg_id != NULL ? msg_id : "");
    st->tok_depth = tr_json_depth(o->max_json_depth);
    if (st->msg_id == NULL) {
        tr_stream_free(st);
        return NULL;
    }
    tr_sse_init(&st->sse, o->max_sse_line > 0 && o->max_sse_line < max ? o->max_sse_line : max);
    /* one event may be larger than its line: invalid UTF-8 grows threefold */
    buf_init(&st->ev, max > SIZE_MAX / 4 ? SIZE_MAX / 2 : max * 3 + 4096);
    buf_init(&st->chunk, max); /* unescaping never makes a line's string longer */
    st->depth = o->max_json_depth;
    st->max = max;
    memcpy(st->model, info->client_model, sizeof(st->model));
    st->names.naliases =
        info->naliases < TR_MAX_TOOL_ALIASES ? info->naliases : TR_MAX_TOOL_ALIASES;
    memcpy(st->names.aliases, info->aliases, st->names.naliases * sizeof(st->names.aliases[0]));
    st->model[sizeof(st->model) - 1] = '\0';
    return st;
}

static enum ccp_err stopped(const struct tr_stream *st, struct tr_error *err)
{
    *err = st->fail_err;
    return st->fail_err.code;
}

/* After a failing feed, fill *err with what went wrong. Errors from the
 * line parser itself (a line over the cap, no memory for it) still get an
 * error event. */
static enum ccp_err feed_result(struct tr_stream *st, enum ccp_err rc, struct tr_error *err)
{
    if (rc == CCP_OK) {
        return CCP_OK;
    }
    if (!st->failed) {
        if (rc == CCP_ERR_TOO_LARGE) {
            rc = fail_code(st, CCP_ERR_UPSTREAM_PROTO,
                           "upstream sent an SSE line over the size limit");
        } else {
            rc = fail_code(st, rc, "could not buffer the upstream stream");
        }
    }
    *err = st->fail_err;
    return rc;
}

enum ccp_err tr_stream_feed(struct tr_stream *st, const char *p, size_t n, struct buf *out,
                            struct tr_error *err)
{
    enum ccp_err rc;

    if (st->failed) {
        return stopped(st, err);
    }
    if (st->finished) {
        return CCP_OK;
    }
    st->out = out;
    rc = tr_sse_feed(&st->sse, p, n, on_line, st);
    rc = feed_result(st, rc, err);
    st->out = NULL;
    return rc;
}

enum ccp_err tr_stream_finish(struct tr_stream *st, struct buf *out, struct tr_error *err)
{
    enum ccp_err rc = CCP_OK;

    if (st->failed) {
        return stopped(st, err);
    }
    st->out = out;
    if (!st->finished) {
        rc = tr_sse_flush(&st->sse, on_line, st);
    }
    if (rc == CCP_OK && !st->finished && !st->failed) {
        if (st->saw_finish) {
            rc = finish_message(st);
        } else {
            rc = fail_code(st, CCP_ERR_UPSTREAM,
                           "upstream stream ended before the answer was complete");
        }
    }
    rc = feed_result(st, rc, err);
    st->out = NULL;
    return rc;
}

enum ccp_err tr_stream_fail(struct tr_stream *st, const struct tr_error *err, struct buf *out)
{
    enum ccp_err rc;

    if (st->failed || st->finished) {
        return CCP_OK;
    }
    st->out = out;
    rc = send_error(st, err);
    st->out = NULL;
    return rc;
}

void tr_stream_usage(const struct tr_stream *st, unsigned long *in, unsigned long *out)
{
    if (in != NULL) {
        *in = st->prompt;
    }
    if (out != NULL) {
        *out = st->have_usage ? st->completion : (st->gen_bytes + 3) / 4;
    }
}

unsigned long tr_stream_cached_tokens(const struct tr_stream *st)
{
    return st->cached;
}

void tr_stream_free(struct tr_stream *st)
{
    size_t i;

    if (st == NULL) {
        return;
    }
    tr_sse_release(&st->sse);
    buf_release(&st->ev);
    buf_release(&st->chunk);
    if (st->tok != NULL) {
        json_tokener_free(st->tok);
    }
    for (i = 0; i < st->npend; i++) {
        pend_release(&st->pend[i]);
    }
    ccp_free(st->pend);
    ccp_free(st->seen);
    ccp_free(st->msg_id);
    ccp_free(st);
}
