/* Read-only memory maps of data files (tokenizer rank tables): mapped, not
 * read, so a CGI process pays almost nothing to load a vocabulary. */
#ifndef CCP_COMMON_VOCAB_H
#define CCP_COMMON_VOCAB_H

#include <stddef.h>

#include "common/compiler.h"
#include "common/err.h"

struct vocab_map {
    const void *ptr; /* page-aligned, read-only; NULL when not mapped */
    size_t len;
};

/* Map dir/file read-only. CCP_OK; CCP_DECLINED when the file does not exist
 * (try another directory); CCP_ERR_INVALID when it cannot be opened, read or
 * is empty; CCP_ERR_TOO_LARGE for a path over PATH_MAX. *out is written only
 * on success. */
CCP_NODISCARD enum ccp_err vocab_map_file(const char *dir, const char *file, struct vocab_map *out);
/* Unmap; a zeroed struct is a no-op. */
void vocab_unmap(struct vocab_map *m);

#endif /* CCP_COMMON_VOCAB_H */
