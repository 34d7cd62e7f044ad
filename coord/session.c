/* ccproxy-coordd sessions: the table of live streams by key, and each
 * stream's frames kept for replay. No I/O; loop.c moves the bytes. */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/alloc.h"
#include "coord/coordd_int.h"
#include "coord/proto.h"

#include "common/banned.h"

static size_t key_hash(const void *key, size_t len)
{
    const unsigned char *p = key;
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    size_t i;

    for (i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return (size_t)(h ^ (h >> 32));
}

enum ccp_err coord_table_init(struct coord_table *t, size_t max_sessions)
{
    size_t n = 64;

    while (n < max_sessions && n < ((size_t)1 << 20)) {
        n *= 2;
    }
    t->buckets = ccp_calloc(n, sizeof(*t->buckets));
    if (t->buckets == NULL) {
        return CCP_ERR_NOMEM;
    }
    t->n_buckets = n;
    t->count = 0;
    return CCP_OK;
}

void coord_table_release(struct coord_table *t)
{
    CCP_FREE(t->buckets);
    t->n_buckets = 0;
    t->count = 0;
}

struct coord_session *coord_table_find(const struct coord_table *t, const void *key, size_t len)
{
    struct coord_session *s;

    s = t->buckets[key_hash(key, len) & (t->n_buckets - 1)];
    while (s != NULL) {
        if (s->key_len == len && memcmp(s->key, key, len) == 0) {
            return s;
        }
        s = s->hnext;
    }
    return NULL;
}

enum ccp_err coord_session_new(struct coord_table *t, const void *key, size_t len,
                               size_t event_bytes_max, struct coord_session **out)
{
    struct coord_session *s;
    size_t b;

    s = ccp_calloc(1, sizeof(*s));
    if (s == NULL) {
        return CCP_ERR_NOMEM;
    }
    s->key = ccp_malloc(len);
    if (s->key == NULL) {
        ccp_free(s);
        return CCP_ERR_NOMEM;
    }
    memcpy(s->key, key, len);
    s->key_len = len;
    s->event_bytes_max = event_bytes_max;
    /* room for the terminal frame (END, ABORT or ERROR) beyond the events */
    buf_init(&s->stream,
             event_bytes_max + COORD_FRAME_HEADER +
                 (COORD_ERROR_MAX > COORD_REASON_MAX ? COORD_ERROR_MAX : COORD_REASON_MAX));
    b = key_hash(key, len) & (t->n_buckets - 1);
    s->hnext = t->buckets[b];
    t->buckets[b] = s;
    s->in_table = true;
    t->count++;
    *out = s;
    return CCP_OK;
}

void coord_table_remove(struct coord_table *t, struct coord_session *s)
{
    struct coord_session **pp;

    if (!s->in_table) {
        return;
    }
    pp = &t->buckets[key_hash(s->key, s->key_len) & (t->n_buckets - 1)];
    while (*pp != NULL && *pp != s) {
        pp = &(*pp)->hnext;
    }
    CCP_ASSERT(*pp == s);
    *pp = s->hnext;
    s->hnext = NULL;
    s->in_table = false;
    t->count--;
}

void coord_session_free(struct coord_session *s)
{
    if (s == NULL) {
        return;
    }
    CCP_ASSERT(!s->in_table && s->leader == NULL && s->followers == NULL);
    buf_release(&s->stream);
    CCP_FREE(s->ends);
    CCP_FREE(s->key);
    ccp_free(s);
}

static enum ccp_err push_end(struct coord_session *s)
{
    size_t *n;
    size_t ncap;

    if (s->n_frames == s->cap_frames) {
        ncap = s->cap_frames == 0 ? 64 : s->cap_frames * 2;
        n = ccp_realloc(s->ends, ncap * sizeof(*n));
        if (n == NULL) {
            return CCP_ERR_NOMEM;
        }
        s->ends = n;
        s->cap_frames = ncap;
    }
    s->ends[s->n_frames++] = s->stream.len;
    return CCP_OK;
}

/* Append one frame and record where it ends; the stream is unchanged on failure. */
static enum ccp_err append_frame(struct coord_session *s, enum coord_type type, const void *p,
                                 size_t len)
{
    size_t old = s->stream.len;
    enum ccp_err rc;

    rc = coord_encode(&s->stream, type, p, len, s->stream.max);
    if (rc != CCP_OK) {
        return rc;
    }
    rc = push_end(s);
    if (rc != CCP_OK) {
        s->stream.len = old;
        s->stream.ptr[old] = '\0';
    }
    return rc;
}

enum ccp_err coord_session_event(struct coord_session *s, const void *p, size_t len)
{
    CCP_ASSERT(!s->finished);
    if (len > s->event_bytes_max || COORD_FRAME_HEADER > s->event_bytes_max - len ||
        s->stream.len > s->event_bytes_max - len - COORD_FRAME_HEADER) {
        return CCP_ERR_TOO_LARGE;
    }
    return append_frame(s, COORD_EVENT, p, len);
}

enum ccp_err coord_session_finish(struct coord_session *s, bool ok, const char *reason)
{
    size_t rlen = reason != NULL ? strlen(reason) : 0;

    CCP_ASSERT(!s->finished);
    s->finished = true;
    if (rlen > COORD_REASON_MAX) {
        rlen = COORD_REASON_MAX;
    }
    return append_frame(s, ok ? COORD_END : COORD_ABORT, reason, rlen);
}

enum ccp_err coord_session_finish_error(struct coord_session *s, const void *p, size_t len)
{
    CCP_ASSERT(!s->finished && s->n_frames == 0);
    s->finished = true;
    return append_frame(s, COORD_ERROR, p, len);
}

size_t coord_session_frames_before(const struct coord_session *s, size_t off)
{
    size_t lo = 0, hi = s->n_frames;

    /* the first i with ends[i] > off */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->ends[mid] <= off) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

size_t coord_session_frame_end(const struct coord_session *s, size_t off)
{
    size_t i;

    if (off == 0) {
        return 0;
    }
    i = coord_session_frames_before(s, off - 1);
    return i < s->n_frames ? s->ends[i] : s->stream.len;
}
