/* Borrowed string views. */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "common/str.h"

#include "common/banned.h"

struct str str_from_cstr(const char *s)
{
    struct str r = {s != NULL ? s : "", s != NULL ? strlen(s) : 0};
    return r;
}

bool str_eq(struct str a, struct str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

bool str_eq_cstr(struct str a, const char *s)
{
    return str_eq(a, str_from_cstr(s));
}

bool str_caseeq_cstr(struct str a, const char *s)
{
    size_t n = strlen(s);
    return a.len == n && (n == 0 || strncasecmp(a.ptr, s, n) == 0);
}

bool str_starts_with(struct str a, const char *prefix)
{
    size_t n = strlen(prefix);
    return a.len >= n && memcmp(a.ptr, prefix, n) == 0;
}

static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

bool str_contains_nocase(struct str a, const char *needle)
{
    size_t n = strlen(needle), i, j;

    if (n == 0) {
        return true;
    }
    for (i = 0; i + n <= a.len; i++) {
        for (j = 0; j < n; j++) {
            if (lower((unsigned char)a.ptr[i + j]) != lower((unsigned char)needle[j])) {
                break;
            }
        }
        if (j == n) {
            return true;
        }
    }
    return false;
}

struct str str_trim(struct str a)
{
    while (a.len > 0 && (a.ptr[0] == ' ' || a.ptr[0] == '\t')) {
        a.ptr++;
        a.len--;
    }
    while (a.len > 0 && (a.ptr[a.len - 1] == ' ' || a.ptr[a.len - 1] == '\t')) {
        a.len--;
    }
    return a;
}
