/* Byte-level BPE tokenizer: tiktoken's encode_ordinary for o200k_base and
 * cl100k_base (special-token strings are plain text). Pure: the rank table
 * comes in as bytes (see data/README.md for its layout); no I/O here. */
#ifndef CCP_TRANSLATE_BPE_H
#define CCP_TRANSLATE_BPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"
#include "common/err.h"

enum tr_bpe_encoding { TR_BPE_O200K_BASE = 0, TR_BPE_CL100K_BASE = 1 };

/* An encoder: a borrowed rank table plus the compiled pre-tokenizer.
 * Read-only once made, so one encoder may serve many threads, each with its
 * own struct tr_bpe_scratch. */
struct tr_bpe;
/* Per-thread working memory: regex match data, merge arrays, piece cache. */
struct tr_bpe_scratch;

/* Token ids as they are produced. Zero-initialize; release with
 * tr_bpe_ids_release(). */
struct tr_bpe_ids {
    uint32_t *ids;
    size_t len;
    size_t cap;
};

/* "o200k_base" / "cl100k_base". Never NULL. */
const char *tr_bpe_encoding_name(enum tr_bpe_encoding enc);
/* Parse an encoding name. CCP_OK, or CCP_ERR_INVALID for an unknown name. */
CCP_NODISCARD enum ccp_err tr_bpe_encoding_parse(const char *name, enum tr_bpe_encoding *out);
/* The file name of the rank table of enc ("o200k_base.bpe"). Never NULL. */
const char *tr_bpe_table_name(enum tr_bpe_encoding enc);

/* Make an encoder over table[0..len) (borrowed: it must outlive the encoder).
 * The table is checked (header, bounds, offsets) before use.
 * CCP_ERR_INVALID for a malformed table, CCP_ERR_NOMEM, or CCP_ERR_INTERNAL if
 * the regex does not compile. *out is written only on success. */
CCP_NODISCARD enum ccp_err tr_bpe_new(enum tr_bpe_encoding enc, const void *table, size_t len,
                                      struct tr_bpe **out);
/* Free an encoder; NULL is a no-op. */
void tr_bpe_free(struct tr_bpe *v);
/* Number of ranks in the table (the ids are 0..n-1). Can't fail. */
size_t tr_bpe_vocab_size(const struct tr_bpe *v);
/* The bytes of token id, or NULL when id is out of range. Can't fail. */
const unsigned char *tr_bpe_token(const struct tr_bpe *v, uint32_t id, size_t *len);

/* Working memory for one thread. CCP_ERR_NOMEM or CCP_OK. */
CCP_NODISCARD enum ccp_err tr_bpe_scratch_new(struct tr_bpe_scratch **out);
void tr_bpe_scratch_free(struct tr_bpe_scratch *st);

/* Append the ids of s[0..n) to out. Any bytes are accepted: invalid UTF-8
 * that no pre-token can hold is encoded as its own run of bytes. On failure
 * (CCP_ERR_NOMEM) out keeps its previous length. */
CCP_NODISCARD enum ccp_err tr_bpe_encode(const struct tr_bpe *v, struct tr_bpe_scratch *st,
                                         const char *s, size_t n, struct tr_bpe_ids *out);
/* Count the tokens of s[0..n) into *count, like tr_bpe_encode without the ids.
 * st may be NULL: a scratch is then made and freed inside (slower for many
 * calls). CCP_OK or CCP_ERR_NOMEM; *count is written only on success. */
CCP_NODISCARD enum ccp_err tr_bpe_count_with(const struct tr_bpe *v, struct tr_bpe_scratch *st,
                                             const char *s, size_t n, size_t *count);
CCP_NODISCARD enum ccp_err tr_bpe_count(const struct tr_bpe *v, const char *s, size_t n,
                                        size_t *count);

/* The pre-tokens of s[0..n): the end offset of each into ends[0..cap), their
 * number into *count (stops at cap). fast: as tr_bpe_encode does (an ASCII
 * path, PCRE2 where it cannot decide); false: PCRE2 alone. For tests, which
 * check the two agree. CCP_OK, CCP_ERR_NOMEM or CCP_ERR_INTERNAL. */
CCP_NODISCARD enum ccp_err tr_bpe_split(const struct tr_bpe *v, struct tr_bpe_scratch *st,
                                        const char *s, size_t n, bool fast, size_t *ends,
                                        size_t cap, size_t *count);

void tr_bpe_ids_release(struct tr_bpe_ids *ids);

#endif /* CCP_TRANSLATE_BPE_H */
