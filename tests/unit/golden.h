/* Helpers for golden-case tests: find case folders under
 * $CCP_TEST_DATA/translate/<kind>/, read their files, compare JSON. */
#ifndef CCP_TESTS_UNIT_GOLDEN_H
#define CCP_TESTS_UNIT_GOLDEN_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "common/err.h"

/* The folder of tests/data (from CCP_TEST_DATA, else "tests/data"). */
const char *golden_data_dir(void);

/* Read a whole file into a malloc'd NUL-terminated buffer; NULL if absent.
 * *len gets its length when len is not NULL. */
char *golden_read(const char *dir, const char *name, size_t *len);

/* True if dir/name exists. */
bool golden_exists(const char *dir, const char *name);

/* Write data to dir/name (used with CCP_GOLDEN_UPDATE=1 to print new
 * expectations; CI never sets it). */
void golden_write(const char *dir, const char *name, const char *data, size_t len);

/* Sorted list of case folders (full paths) under translate/<kind>/.
 * Returns the count; *out is a malloc'd array of malloc'd strings. */
size_t golden_cases(const char *kind, char ***out);
void golden_cases_free(char **cases, size_t n);

/* Compare two JSON texts after parsing. On mismatch prints both (pretty) to
 * stdout with the label and returns false. */
bool golden_json_equal(const char *label, const char *expected, const char *actual);

struct buf;
struct tr_error;
struct tr_reqinfo;

/* Allocation torture (--enable-fault-injection builds): run(ctx, out, err)
 * once as it is, then once with each of its allocations through
 * common/alloc.h failing in turn. Each failing run must give CCP_ERR_NOMEM
 * with a 503 and leave out empty, or (a failed size hint, see buf_presize)
 * CCP_OK with exactly the first run's output. out_max bounds out. */
typedef enum ccp_err (*golden_torture_fn)(void *ctx, struct buf *out, struct tr_error *err);
void golden_torture(golden_torture_fn run, void *ctx, size_t out_max);

/* A case's info.json "aliases": [[upstream, client], ...] into info (j may
 * be NULL; at most TR_MAX_TOOL_ALIASES are taken). */
void golden_info_aliases(struct tr_reqinfo *info, struct json_object *j);

/* Run one cmocka group with a test per case folder: fn gets the folder path
 * as *state. Returns cmocka's result. */
typedef void (*golden_fn)(void **state);
int golden_run(const char *group, const char *kind, golden_fn fn);

#endif /* CCP_TESTS_UNIT_GOLDEN_H */
