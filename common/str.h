/* struct str: a borrowed view of bytes, not NUL-terminated. */
#ifndef CCP_COMMON_STR_H
#define CCP_COMMON_STR_H

#include <stdbool.h>
#include <stddef.h>

struct str {
    const char *ptr;
    size_t len;
};

#define STR_LIT(s) ((struct str){(s), sizeof(s) - 1})

/* A view of a NUL-terminated string (NULL gives an empty view). */
struct str str_from_cstr(const char *s);
bool str_eq(struct str a, struct str b);
bool str_eq_cstr(struct str a, const char *s);
/* ASCII case-insensitive comparison. */
bool str_caseeq_cstr(struct str a, const char *s);
bool str_starts_with(struct str a, const char *prefix);
/* True if needle occurs in a (ASCII case-insensitive). */
bool str_contains_nocase(struct str a, const char *needle);
/* Trim ASCII spaces and tabs on both ends. */
struct str str_trim(struct str a);

#endif /* CCP_COMMON_STR_H */
