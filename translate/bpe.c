/* Byte-level BPE (tiktoken encode_ordinary): PCRE2 JIT pre-tokenization, then
 * rank-ordered merges per pre-token, with a whole-token fast path, a small
 * cache of merged pieces and a heap for long pieces (O(n log n), not O(n^2)). */
#include "config.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "common/alloc.h"
#include "common/banned.h"
#include "translate/bpe.h"

#define NO_RANK UINT32_MAX
#define TABLE_MAGIC "CCPBPE1"
#define TABLE_HEADER 32u
#define CACHE_SLOTS 4096u /* power of two */
#define CACHE_KEY 38u     /* longest piece kept in the cache */
#define CACHE_IDS 6u      /* most ids of a cached piece */
#define HEAP_FROM 16u     /* pieces at least this long merge with the heap */
#define PAIR_BITS 15u     /* pair cache: 2^PAIR_BITS entries */
#define JIT_STACK_MAX (8u * 1024u * 1024u)

/* Unicode White_Space, which is what Rust's regex (tiktoken's core) means by
 * \s; PCRE2's \s differs (U+180E), and JavaScript's too (U+FEFF). */
#define WS                                                                                         \
    "\\t-\\r\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}"                   \
    "\\x{202F}\\x{205F}\\x{3000}"
#define CONTR "(?i:'s|'t|'re|'ve|'m|'ll|'d)"
#define UPPER "[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]"
#define LOWER "[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]"
#define TAIL "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

/* tiktoken's pat_str of each encoding, with \s and \S spelled out as WS. */
static const char pat_o200k[] = "[^\\r\\n\\p{L}\\p{N}]?" UPPER "*" LOWER "+" CONTR "?"
                                "|[^\\r\\n\\p{L}\\p{N}]?" UPPER "+" LOWER "*" CONTR "?"
                                "|\\p{N}{1,3}"
                                "| ?[^" WS "\\p{L}\\p{N}]+[\\r\\n/]*"
                                "|[" WS "]*[\\r\\n]+|[" WS "]+(?![^" WS "])|[" WS "]+";
static const char pat_cl100k[] = CONTR "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+"
                                       "|\\p{N}{1,3}"
                                       "| ?[^" WS "\\p{L}\\p{N}]+[\\r\\n]*"
                                       "|[" WS "]*[\\r\\n]+|[" WS "]+(?![^" WS "])|[" WS "]+";

struct tr_bpe {
    bool cl100k;           /* cl100k_base's pattern, else o200k_base's */
    const uint32_t *offs;  /* n + 1 offsets of token bytes in blob, by rank */
    const uint32_t *slots; /* open-addressing hash: rank + 1, 0 = empty */
    const unsigned char *blob;
    uint32_t n;
    uint32_t mask;
    uint32_t maxlen;
    uint32_t blob_len;
    uint32_t byte_rank[256];
    pcre2_code *re;
};

struct cache_entry {
    uint8_t len;
    uint8_t nids;
    unsigned char key[CACHE_KEY];
    uint32_t ids[CACHE_IDS];
};

/* Rank of the token made of tokens l and r (or NO_RANK), by (l << 32 | r). */
struct pair_entry {
    uint64_t key;
    uint32_t rank;
};

struct tr_bpe_scratch {
    const struct tr_bpe *owner; /* the encoder whose ranks the caches hold */
    struct pair_entry *pairs;   /* 2^PAIR_BITS entries; key UINT64_MAX = empty */
    uint32_t *bytes2;           /* rank of each two-byte string, filled as met */
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    pcre2_jit_stack *jit;
    struct cache_entry *cache; /* CACHE_SLOTS entries */
    size_t cap;                /* size of the arrays below */
    uint32_t *a;               /* boundaries (small pieces) or next (heap) */
    uint32_t *b;               /* pair ranks (small) or prev (heap) */
    uint32_t *c;               /* pair rank per node (heap) */
    uint32_t *d;               /* token rank per node (heap) */
    uint64_t *heap;
};

/* Where ids go: appended to out, or only counted when out is NULL. */
struct sink {
    struct tr_bpe_ids *out;
    size_t count;
};

static const char *const enc_names[] = {"o200k_base", "cl100k_base"};
static const char *const table_names[] = {"o200k_base.bpe", "cl100k_base.bpe"};

const char *tr_bpe_encoding_name(enum tr_bpe_encoding enc)
{
    return (unsigned)enc < CCP_ARRAY_LEN(enc_names) ? enc_names[enc] : "unknown";
}

const char *tr_bpe_table_name(enum tr_bpe_encoding enc)
{
    return (unsigned)enc < CCP_ARRAY_LEN(table_names) ? table_names[enc] : "unknown";
}

enum ccp_err tr_bpe_encoding_parse(const char *name, enum tr_bpe_encoding *out)
{
    for (size_t i = 0; i < CCP_ARRAY_LEN(enc_names); i++) {
        if (strcmp(name, enc_names[i]) == 0) {
            *out = (enum tr_bpe_encoding)i;
            return CCP_OK;
        }
    }
    return CCP_ERR_INVALID;
}

/* Must match hash() in data/gen-vocab.mjs: FNV-1a 32 with a final mix. */
static inline uint32_t tr_bpe_hash(const unsigned char *p, size_t n)
{
    uint32_t h = 0x811c9dc5u;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ p[i]) * 0x01000193u;
    }
    h = (h ^ (h >> 15)) * 0x2c1b3c6du;
    return h ^ (h >> 13);
}

/* memcmp(a, b, n) == 0 for the short strings of a vocabulary, inlined. */
static inline bool same(const unsigned char *a, const unsigned char *b, size_t n)
{
    uint64_t x, y;
    uint32_t x4, y4;
    if (n >= 8) {
        for (size_t i = 0; i + 8 <= n; i += 8) {
            memcpy(&x, a + i, 8);
            memcpy(&y, b + i, 8);
            if (x != y) {
                return false;
            }
        }
        memcpy(&x, a + n - 8, 8);
        memcpy(&y, b + n - 8, 8);
        return x == y;
    }
    if (n >= 4) {
        memcpy(&x4, a, 4);
        memcpy(&y4, b, 4);
        if (x4 != y4) {
            return false;
        }
        memcpy(&x4, a + n - 4, 4);
        memcpy(&y4, b + n - 4, 4);
        return x4 == y4;
    }
    for (size_t i = 0; i < n; i++) {
        if (a[i] != b[i]) {
            return false;
        }
    }
    return true;
}

static inline uint32_t lookup_h(const struct tr_bpe *v, const unsigned char *p, size_t n,
                                uint32_t h)
{
    if (n > v->maxlen) {
        return NO_RANK;
    }
    uint32_t i = h & v->mask;
    for (uint32_t probes = 0; probes <= v->mask; probes++, i = (i + 1) & v->mask) {
        uint32_t r = v->slots[i];
        if (r == 0) {
            return NO_RANK;
        }
        r--;
        if (CCP_UNLIKELY(r >= v->n)) {
            return NO_RANK; /* a damaged table: never read outside it */
        }
        uint32_t o = v->offs[r];
        if (v->offs[r + 1] - o == n && o <= v->blob_len - n && same(v->blob + o, p, n)) {
            return r;
        }
    }
    return NO_RANK;
}

static inline uint32_t lookup(const struct tr_bpe *v, const unsigned char *p, size_t n)
{
    if (n > v->maxlen) {
        return NO_RANK;
    }
    return lookup_h(v, p, n, tr_bpe_hash(p, n));
}

static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Check the header and every offset, so lookups never leave the table. */
static enum ccp_err check_table(struct tr_bpe *v, const unsigned char *t, size_t len)
{
    if (len < TABLE_HEADER || memcmp(t, TABLE_MAGIC, 8) != 0) {
        return CCP_ERR_INVALID;
    }
    uint32_t n = rd32(t + 8), bits = rd32(t + 12), blob_len = rd32(t + 16);
    uint32_t maxlen = rd32(t + 20);
    if (n < 256 || bits < 9 || bits > 28 || ((uintptr_t)t & 3u) != 0 || maxlen == 0 ||
        maxlen > blob_len) {
        return CCP_ERR_INVALID;
    }
    size_t nslots = (size_t)1 << bits;
    size_t need = TABLE_HEADER + 4 * ((size_t)n + 1) + 4 * nslots + blob_len;
    if (len != need || nslots <= n) {
        return CCP_ERR_INVALID;
    }
    v->offs = (const uint32_t *)(const void *)(t + TABLE_HEADER);
    v->slots = v->offs + n + 1;
    v->blob = (const unsigned char *)(v->slots + nslots);
    v->n = n;
    v->mask = (uint32_t)(nslots - 1);
    v->maxlen = maxlen;
    v->blob_len = blob_len;
    /* Offsets and slots are checked where they are read (lookup_h), so a
     * process that encodes a few words touches only a few pages. */
    for (unsigned c = 0; c < 256; c++) {
        unsigned char byte = (unsigned char)c;
        v->byte_rank[c] = lookup(v, &byte, 1);
        if (v->byte_rank[c] == NO_RANK) {
            return CCP_ERR_INVALID; /* byte-level BPE needs every byte */
        }
    }
    return CCP_OK;
}

enum ccp_err tr_bpe_new(enum tr_bpe_encoding enc, const void *table, size_t len,
                        struct tr_bpe **out)
{
    enum ccp_err rc = CCP_ERR_NOMEM;
    struct tr_bpe *v = ccp_calloc(1, sizeof(*v));
    if (v == NULL) {
        goto out;
    }
    rc = CCP_ERR_INVALID;
    if ((unsigned)enc >= CCP_ARRAY_LEN(enc_names)) {
        goto out;
    }
    rc = check_table(v, table, len);
    if (rc != CCP_OK) {
        goto out;
    }
    v->cl100k = enc == TR_BPE_CL100K_BASE;
    const char *pat = enc == TR_BPE_O200K_BASE ? pat_o200k : pat_cl100k;
    int errcode = 0;
    PCRE2_SIZE erroff = 0;
    v->re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED,
                          PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &errcode, &erroff, NULL);
    rc = CCP_ERR_INTERNAL;
    if (v->re == NULL) {
        goto out;
    }
    if (pcre2_jit_compile(v->re, PCRE2_JIT_COMPLETE) != 0) {
        goto out;
    }
    *out = v;
    v = NULL;
    rc = CCP_OK;
out:
    tr_bpe_free(v);
    return rc;
}

void tr_bpe_free(struct tr_bpe *v)
{
    if (v == NULL) {
        return;
    }
    pcre2_code_free(v->re);
    ccp_free(v);
}

size_t tr_bpe_vocab_size(const struct tr_bpe *v)
{
    return v->n;
}

const unsigned char *tr_bpe_token(const struct tr_bpe *v, uint32_t id, size_t *len)
{
    if (id >= v->n || v->offs[id + 1] < v->offs[id] || v->offs[id + 1] > v->blob_len) {
        return NULL;
    }
    *len = v->offs[id + 1] - v->offs[id];
    return v->blob + v->offs[id];
}

enum ccp_err tr_bpe_scratch_new(struct tr_bpe_scratch **out)
{
    enum ccp_err rc = CCP_ERR_NOMEM;
    struct tr_bpe_scratch *st = ccp_calloc(1, sizeof(*st));
    if (st == NULL) {
        goto out;
    }
    st->md = pcre2_match_data_create(1, NULL);
    st->mctx = pcre2_match_context_create(NULL);
    st->jit = pcre2_jit_stack_create(32u * 1024u, JIT_STACK_MAX, NULL);
    st->cache = ccp_calloc(CACHE_SLOTS, sizeof(*st->cache));
    st->pairs = ccp_malloc(((size_t)1 << PAIR_BITS) * sizeof(*st->pairs));
    st->bytes2 = ccp_malloc(65536 * sizeof(*st->bytes2));
    if (st->md == NULL || st->mctx == NULL || st->jit == NULL || st->cache == NULL ||
        st->pairs == NULL || st->bytes2 == NULL) {
        goto out;
    }
    pcre2_jit_stack_assign(st->mctx, NULL, st->jit);
    *out = st;
    st = NULL;
    rc = CCP_OK;
out:
    tr_bpe_scratch_free(st);
    return rc;
}

void tr_bpe_scratch_free(struct tr_bpe_scratch *st)
{
    if (st == NULL) {
        return;
    }
    pcre2_match_data_free(st->md);
    pcre2_match_context_free(st->mctx);
    pcre2_jit_stack_free(st->jit);
    ccp_free(st->cache);
    ccp_free(st->pairs);
    ccp_free(st->bytes2);
    ccp_free(st->a);
    ccp_free(st->b);
    ccp_free(st->c);
    ccp_free(st->d);
    ccp_free(st->heap);
    ccp_free(st);
}

void tr_bpe_ids_release(struct tr_bpe_ids *ids)
{
    CCP_FREE(ids->ids);
    ids->len = 0;
    ids->cap = 0;
}

static enum ccp_err emit(struct sink *sk, uint32_t id)
{
    sk->count++;
    struct tr_bpe_ids *o = sk->out;
    if (o == NULL) {
        return CCP_OK;
    }
    if (o->len == o->cap) {
        size_t cap = o->cap < 256 ? 256 : o->cap * 2;
        uint32_t *p = ccp_realloc(o->ids, cap * sizeof(*p));
        if (p == NULL) {
            return CCP_ERR_NOMEM;
        }
        o->ids = p;
        o->cap = cap;
    }
    o->ids[o->len++] = id;
    return CCP_OK;
}

static enum ccp_err reserve(struct tr_bpe_scratch *st, size_t n)
{
    if (n <= st->cap) {
        return CCP_OK;
    }
    size_t cap = n < 1024 ? 1024 : n + n / 2;
    uint32_t *a = ccp_malloc(cap * sizeof(*a)), *b = ccp_malloc(cap * sizeof(*b));
    uint32_t *c = ccp_malloc(cap * sizeof(*c)), *d = ccp_malloc(cap * sizeof(*d));
    uint64_t *h = ccp_malloc(cap * 2 * sizeof(*h));
    if (a == NULL || b == NULL || c == NULL || d == NULL || h == NULL) {
        ccp_free(a);
        ccp_free(b);
        ccp_free(c);
        ccp_free(d);
        ccp_free(h);
        return CCP_ERR_NOMEM;
    }
    ccp_free(st->a);
    ccp_free(st->b);
    ccp_free(st->c);
    ccp_free(st->d);
    ccp_free(st->heap);
    st->a = a;
    st->b = b;
    st->c = c;
    st->d = d;
    st->heap = h;
    st->cap = cap;
    return CCP_OK;
}

/* Rank of the token p[0..n) made of tokens l and r, through the pair cache. */
static inline uint32_t pair_rank(const struct tr_bpe *v, struct tr_bpe_scratch *st,
                                 const unsigned char *p, size_t n, uint32_t l, uint32_t r)
{
    uint64_t key = (uint64_t)l << 32 | r;
    struct pair_entry *e = &st->pairs[(key * 0x9e3779b97f4a7c15ull) >> (64 - PAIR_BITS)];
    if (e->key == key) {
        return e->rank;
    }
    uint32_t rank = lookup(v, p, n);
    e->key = key;
    e->rank = rank;
    return rank;
}

/* Rank of the two bytes p[0..2), through a table of all byte pairs (rank + 1,
 * NO_RANK as itself, 0 = not looked up yet). */
static inline uint32_t pair2_rank(const struct tr_bpe *v, struct tr_bpe_scratch *st,
                                  const unsigned char *p)
{
    uint32_t *e = &st->bytes2[(unsigned)p[0] << 8 | p[1]];
    if (CCP_LIKELY(*e != 0)) {
        return *e == NO_RANK ? NO_RANK : *e - 1;
    }
    uint32_t r = lookup(v, p, 2);
    *e = r == NO_RANK ? NO_RANK : r + 1;
    return r;
}

/* Small pieces: keep boundaries in an array and rescan the pair ranks for the
 * lowest (leftmost on ties), as tiktoken does; fine while n is small.
 * Writes the ranks to ids[0..*m). */
static void merge_small(const struct tr_bpe *v, struct tr_bpe_scratch *st, const unsigned char *p,
                        size_t n, uint32_t *ids, size_t *m_out)
{
    uint32_t *bd = st->a, *pr = st->b, *tk = ids;
    size_t m = n; /* parts; part k is p[bd[k]..bd[k+1]), token tk[k] */
    for (size_t k = 0; k < n; k++) {
        bd[k] = (uint32_t)k;
        tk[k] = v->byte_rank[p[k]];
    }
    bd[n] = (uint32_t)n;
    for (size_t k = 0; k + 1 < m; k++) {
        pr[k] = pair2_rank(v, st, p + k);
    }
    while (m > 1) {
        uint32_t best = NO_RANK;
        size_t at = 0;
        for (size_t k = 0; k + 1 < m; k++) {
            if (pr[k] < best) {
                best = pr[k];
                at = k;
            }
        }
        if (best == NO_RANK) {
            break;
        }
        /* parts at and at+1 become token best: drop boundary, token and pair at+1 */
        tk[at] = best;
        memmove(bd + at + 1, bd + at + 2, (m - at - 1) * sizeof(*bd));
        memmove(tk + at + 1, tk + at + 2, (m - at - 2) * sizeof(*tk));
        if (at + 2 < m) {
            memmove(pr + at + 1, pr + at + 2, (m - at - 2) * sizeof(*pr));
        }
        m--;
        if (at + 1 < m) {
            pr[at] = pair_rank(v, st, p + bd[at], bd[at + 2] - bd[at], tk[at], tk[at + 1]);
        }
        if (at > 0) {
            pr[at - 1] =
                pair_rank(v, st, p + bd[at - 1], bd[at + 1] - bd[at - 1], tk[at - 1], tk[at]);
        }
    }
    *m_out = m;
}

static void heap_push(uint64_t *h, size_t *len, uint64_t key)
{
    size_t i = (*len)++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (h[up] <= key) {
            break;
        }
        h[i] = h[up];
        i = up;
    }
    h[i] = key;
}

static uint64_t heap_pop(uint64_t *h, size_t *len)
{
    uint64_t top = h[0], last = h[--(*len)];
    size_t i = 0, n = *len;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) {
            break;
        }
        if (c + 1 < n && h[c + 1] < h[c]) {
            c++;
        }
        if (last <= h[c]) {
            break;
        }
        h[i] = h[c];
        i = c;
    }
    if (n > 0) {
        h[i] = last;
    }
    return top;
}

/* Long pieces: nodes keyed by start byte in a linked list, candidate pairs in
 * a min-heap of (rank, start); stale entries are skipped when popped. The
 * order of merges is tiktoken's: lowest rank first, leftmost on ties. */
static uint32_t *merge_heap(const struct tr_bpe *v, struct tr_bpe_scratch *st,
                            const unsigned char *p, size_t n, size_t *m_out)
{
    uint32_t *nx = st->a, *pv = st->b, *pr = st->c, *tok = st->d;
    uint64_t *h = st->heap;
    size_t hl = 0;
    for (size_t i = 0; i < n; i++) {
        nx[i] = (uint32_t)(i + 1);
        pv[i] = (uint32_t)(i - 1);
        tok[i] = v->byte_rank[p[i]];
        pr[i] = NO_RANK;
        if (i > 0) {
            pr[i - 1] = pair2_rank(v, st, p + i - 1);
            if (pr[i - 1] != NO_RANK) {
                h[hl++] = (uint64_t)pr[i - 1] << 32 | (i - 1);
            }
        }
    }
    /* heapify */
    for (size_t i = hl / 2; i-- > 0;) {
        uint64_t key = h[i];
        size_t j = i;
        for (;;) {
            size_t c = 2 * j + 1;
            if (c >= hl) {
                break;
            }
            if (c + 1 < hl && h[c + 1] < h[c]) {
                c++;
            }
            if (key <= h[c]) {
                break;
            }
            h[j] = h[c];
            j = c;
        }
        h[j] = key;
    }
    while (hl > 0) {
        uint64_t top = heap_pop(h, &hl);
        uint32_t r = (uint32_t)(top >> 32), i = (uint32_t)top;
        if (pr[i] != r) {
            continue; /* dead node, or its pair changed since */
        }
        uint32_t j = nx[i], k = nx[j];
        tok[i] = r;
        nx[i] = k;
        if (k < n) {
            pv[k] = i;
        }
        pr[j] = NO_RANK;
        pr[i] = k < n ? pair_rank(v, st, p + i, nx[k] - i, r, tok[k]) : NO_RANK;
        if (pr[i] != NO_RANK) {
            heap_push(h, &hl, (uint64_t)pr[i] << 32 | i);
        }
        if (i > 0) {
            uint32_t g = pv[i];
            pr[g] = pair_rank(v, st, p + g, k - g, tok[g], r);
            if (pr[g] != NO_RANK) {
                heap_push(h, &hl, (uint64_t)pr[g] << 32 | g);
            }
        }
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i = nx[i]) {
        pr[m++] = tok[i]; /* m <= i: overwrites only pairs already done with */
    }
    *m_out = m;
    return pr;
}

/* Encode one pre-token. */
static enum ccp_err encode_piece(const struct tr_bpe *v, struct tr_bpe_scratch *st,
                                 const unsigned char *p, size_t n, struct sink *sk)
{
    if (n == 1) {
        return emit(sk, v->byte_rank[p[0]]);
    }
    uint32_t h = 0;
    if (n <= v->maxlen) {
        h = tr_bpe_hash(p, n);
        uint32_t r = lookup_h(v, p, n, h);
        if (r != NO_RANK) {
            return emit(sk, r);
        }
    }
    enum ccp_err rc = reserve(st, n + 1);
    if (rc != CCP_OK) {
        return rc;
    }
    struct cache_entry *ce = NULL;
    if (n <= CACHE_KEY) {
        ce = &st->cache[h & (CACHE_SLOTS - 1)];
        if (ce->len == n && same(ce->key, p, n)) {
            for (size_t k = 0; k < ce->nids; k++) {
                rc = emit(sk, ce->ids[k]);
                if (rc != CCP_OK) {
                    return rc;
                }
            }
            return CCP_OK;
        }
    }
    uint32_t small[HEAP_FROM];
    uint32_t *ids = small;
    size_t m = 0;
    if (n >= HEAP_FROM) {
        ids = merge_heap(v, st, p, n, &m);
    } else {
        merge_small(v, st, p, n, ids, &m);
    }
    if (ce != NULL && m <= CACHE_IDS) {
        ce->len = (uint8_t)n;
        ce->nids = (uint8_t)m;
        memcpy(ce->key, p, n);
        memcpy(ce->ids, ids, m * sizeof(*ids));
    }
    for (size_t k = 0; k < m; k++) {
        rc = emit(sk, ids[k]);
        if (rc != CCP_OK) {
            return rc;
        }
    }
    return CCP_OK;
}

/* ASCII pre-tokenizer: the same pieces as the patterns above for ASCII text,
 * without the regex engine. It classifies only bytes below 0x80; whenever the
 * piece would depend on a byte at or above it (a letter, digit, space or
 * case-folding of another script), it answers BAIL and PCRE2 decides. */
#define C_LOWER 1u
#define C_UPPER 2u
#define C_DIGIT 4u
#define C_WS 8u     /* \t-\r and space */
#define C_NL 16u    /* \r \n */
#define C_PUNCT 32u /* neither letter, digit nor space: [^\s\p{L}\p{N}] */
#define C_HIGH 64u  /* a byte >= 0x80: unknown here */
#define C_LETTER (C_LOWER | C_UPPER)
#define BAIL SIZE_MAX

static const uint8_t ascii_class[128] = {
    /* 0x00-0x08 */ 32,
    32,
    32,
    32,
    32,
    32,
    32,
    32,
    32,
    /* \t \n \v \f \r */ 8,
    8 | 16,
    8,
    8,
    8 | 16,
    /* 0x0e-0x1f */ 32,
    32,
    32,
    32,
    32,
    32,
    32,
    32,
    32,
    32,
    32,
    32,
    32,
    32,
    32,
    32,
    32,
    32,
    /* space ! " # $ % & ' ( ) * + , - . / */ 8,
    32,
    32,
    32,
    32,
    32,
    32,
    32,
    32,
    32,
    32,
    32,
    32,
    32,
    32,
    32,
    /* 0-9 */ 4,
    4,
    4,
    4,
    4,
    4,
    4,
    4,
    4,
    4,
    /* : ; < = > ? @ */ 32,
    32,
    32,
    32,
    32,
    32,
    32,
    /* A-Z */ 2,
    2,
    2,
    2,
    2,
    2,
    2,
    2,
    2,
    2,
    2,
    2,
    2,
    2,
    2,
    2,
    2,
    2,
    2,
    2,
    2,
    2,
    2,
    2,
    2,
    2,
    /* [ \ ] ^ _ ` */ 32,
    32,
    32,
    32,
    32,
    32,
    /* a-z */ 1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    /* { | } ~ DEL */ 32,
    32,
    32,
    32,
    32};

/* Class of s[i]; 0 past the end. */
static inline unsigned cls_at(const unsigned char *s, size_t n, size_t i)
{
    if (i >= n) {
        return 0;
    }
    return s[i] < 0x80 ? ascii_class[s[i]] : C_HIGH;
}

/* Length of (?i:'s|'t|'re|'ve|'m|'ll|'d) at s[e] (0 for none), or BAIL. */
static size_t contraction(const unsigned char *s, size_t n, size_t e)
{
    if (e + 1 >= n || s[e] != '\'') {
        return 0;
    }
    unsigned c1 = s[e + 1];
    if (c1 >= 0x80) {
        return BAIL; /* caseless s also matches U+017F */
    }
    c1 |= 0x20; /* lower-cases letters; a non-letter never becomes one */
    if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') {
        return 2;
    }
    if ((c1 != 'r' && c1 != 'v' && c1 != 'l') || e + 2 >= n) {
        return 0;
    }
    unsigned c2 = s[e + 2];
    if (c2 >= 0x80) {
        return BAIL;
    }
    c2 |= 0x20;
    return c2 == (c1 == 'l' ? 'l' : 'e') ? 3 : 0;
}

/* The letters part of a piece starting at s[i] (a letter): its end, or BAIL. */
static size_t letters(bool cl100k, const unsigned char *s, size_t n, size_t i)
{
    size_t e = i;
    if (cl100k) {
        while (cls_at(s, n, e) & C_LETTER) {
            e++;
        }
        return (cls_at(s, n, e) & C_HIGH) ? BAIL : e; /* no contraction after */
    }
    size_t u = i;
    while (cls_at(s, n, u) & C_UPPER) {
        u++;
    }
    if (cls_at(s, n, u) & C_HIGH) {
        return BAIL;
    }
    e = u;
    while (cls_at(s, n, e) & C_LOWER) {
        e++;
    }
    if (cls_at(s, n, e) & C_HIGH) {
        return BAIL;
    }
    /* upper* lower+ when there is a lower, else upper+ lower* (lower* empty) */
    size_t k = contraction(s, n, e);
    return k == BAIL ? BAIL : e + k;
}

/* End of the piece that starts at s[pos] (pos < n, s[pos] < 0x80), or BAIL. */
static size_t ascii_piece(bool cl100k, const unsigned char *s, size_t n, size_t pos)
{
    unsigned c = ascii_class[s[pos]];
    if (cl100k && s[pos] == '\'') {
        size_t k = contraction(s, n, pos);
        if (k != 0) {
            return k == BAIL ? BAIL : pos + k;
        }
    }
    if (c & C_LETTER) {
        return letters(cl100k, s, n, pos);
    }
    unsigned c1 = cls_at(s, n, pos + 1);
    if (c1 & C_HIGH) {
        return BAIL;
    }
    if ((c & (C_PUNCT | C_WS)) && !(c & C_NL) && (c1 & C_LETTER)) {
        return letters(cl100k, s, n, pos + 1); /* [^\r\n\p{L}\p{N}]? then letters */
    }
    size_t e = pos;
    if (c & C_DIGIT) {
        while (e < pos + 3 && (cls_at(s, n, e) & C_DIGIT)) {
            e++;
        }
        return e < pos + 3 && (cls_at(s, n, e) & C_HIGH) ? BAIL : e;
    }
    size_t q = s[pos] == ' ' ? pos + 1 : pos;
    if (cls_at(s, n, q) & C_PUNCT) { /* " ?[^\s\p{L}\p{N}]+[\r\n/]*" */
        e = q;
        while (cls_at(s, n, e) & C_PUNCT) {
            e++;
        }
        if (cls_at(s, n, e) & C_HIGH) {
            return BAIL;
        }
        while (e < n && (s[e] == '\r' || s[e] == '\n' || (!cl100k && s[e] == '/'))) {
            e++;
        }
        return e;
    }
    /* c is white space: \s*[\r\n]+ | \s+(?!\S) | \s+ */
    size_t nl = BAIL;
    while (cls_at(s, n, e) & C_WS) {
        if (s[e] == '\r' || s[e] == '\n') {
            nl = e;
        }
        e++;
    }
    if (cls_at(s, n, e) & C_HIGH) {
        return BAIL;
    }
    if (nl != BAIL) {
        return nl + 1;
    }
    return e == n || e - 1 == pos ? e : e - 1;
}

/* The next pre-token at or after pos (pos < n): bytes [*a, *b), *a < *b.
 * Bytes [pos, *a) are held by none (invalid UTF-8). fast: try the ASCII path. */
static enum ccp_err next_piece(const struct tr_bpe *v, struct tr_bpe_scratch *st,
                               const unsigned char *u, size_t n, size_t pos, bool fast, size_t *a,
                               size_t *b)
{
    if (fast && u[pos] < 0x80) {
        size_t e = ascii_piece(v->cl100k, u, n, pos);
        if (e != BAIL) {
            *a = pos;
            *b = e;
            return CCP_OK;
        }
    }
    int m = pcre2_jit_match(v->re, (PCRE2_SPTR)u, n, pos, 0, st->md, st->mctx);
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(st->md);
    *a = n;
    *b = n;
    if (m > 0) {
        *a = ov[0];
        *b = ov[1];
    } else if (m != PCRE2_ERROR_NOMATCH) {
        return m == PCRE2_ERROR_NOMEMORY || m == PCRE2_ERROR_JIT_STACKLIMIT ? CCP_ERR_NOMEM
                                                                            : CCP_ERR_INTERNAL;
    }
    if (*a == *b && *a < n) {
        (*b)++; /* no pattern matches empty; never loop in place */
    }
    return CCP_OK;
}

static enum ccp_err run(const struct tr_bpe *v, struct tr_bpe_scratch *st, const char *s, size_t n,
                        struct sink *sk)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t pos = 0;
    enum ccp_err rc = CCP_OK;
    if (st->owner != v) {
        /* the caches hold another encoder's ranks (or nothing yet) */
        memset(st->pairs, 0xff, ((size_t)1 << PAIR_BITS) * sizeof(*st->pairs));
        memset(st->cache, 0, CACHE_SLOTS * sizeof(*st->cache));
        memset(st->bytes2, 0, 65536 * sizeof(*st->bytes2));
        st->owner = v;
    }
    while (pos < n) {
        size_t a = n, b = n;
        rc = next_piece(v, st, u, n, pos, true, &a, &b);
        if (rc != CCP_OK) {
            goto out;
        }
        if (a > pos) {
            /* bytes no pre-token holds (invalid UTF-8): a piece of their own */
            rc = encode_piece(v, st, u + pos, a - pos, sk);
            if (rc != CCP_OK) {
                goto out;
            }
        }
        if (b == a) {
            break; /* no match up to the end */
        }
        rc = encode_piece(v, st, u + a, b - a, sk);
        if (rc != CCP_OK) {
            goto out;
        }
        pos = b;
    }
out:
    return rc;
}

enum ccp_err tr_bpe_split(const struct tr_bpe *v, struct tr_bpe_scratch *st, const char *s,
                          size_t n, bool fast, size_t *ends, size_t cap, size_t *count)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t pos = 0, k = 0;
    enum ccp_err rc = CCP_OK;
    while (pos < n) {
        size_t a = n, b = n;
        rc = next_piece(v, st, u, n, pos, fast, &a, &b);
        if (rc != CCP_OK) {
            goto out;
        }
        for (size_t e = a > pos ? a : b; k < cap; e = b) {
            ends[k++] = e;
            if (e == b) {
                break;
            }
        }
        if (k == cap || b == a) {
            break;
        }
        pos = b;
    }
    *count = k;
out:
    return rc;
}

enum ccp_err tr_bpe_encode(const struct tr_bpe *v, struct tr_bpe_scratch *st, const char *s,
                           size_t n, struct tr_bpe_ids *out)
{
    struct sink sk = {out, 0};
    size_t keep = out->len;
    enum ccp_err rc = run(v, st, s, n, &sk);
    if (rc != CCP_OK) {
        out->len = keep;
    }
    return rc;
}

enum ccp_err tr_bpe_count_with(const struct tr_bpe *v, struct tr_bpe_scratch *st, const char *s,
                               size_t n, size_t *count)
{
    struct tr_bpe_scratch *own = NULL;
    enum ccp_err rc = CCP_OK;
    if (st == NULL) {
        rc = tr_bpe_scratch_new(&own);
        if (rc != CCP_OK) {
            goto out;
        }
        st = own;
    }
    struct sink sk = {NULL, 0};
    rc = run(v, st, s, n, &sk);
    if (rc == CCP_OK) {
        *count = sk.count;
    }
out:
    tr_bpe_scratch_free(own);
    return rc;
}

enum ccp_err tr_bpe_count(const struct tr_bpe *v, const char *s, size_t n, size_t *count)
{
    return tr_bpe_count_with(v, NULL, s, n, count);
}
