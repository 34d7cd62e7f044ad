/* ccproxy-tokens: count or list the tiktoken ids (encode_ordinary) of UTF-8
 * text on stdin, for o200k_base or cl100k_base.
 * Usage: ccproxy-tokens [--encoding o200k_base|cl100k_base] [--count] */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/banned.h"
#include "common/buf.h"
#include "common/vocab.h"
#include "translate/bpe.h"

#define INPUT_MAX ((size_t)1 << 31)

static void usage(FILE *f)
{
    fputs("usage: ccproxy-tokens [--encoding o200k_base|cl100k_base] [--count]\n"
          "Reads UTF-8 on stdin; prints the token ids as a JSON array, or their count.\n"
          "Rank tables: $CCPROXY_DATA_DIR, else " CCP_PKGDATADIR ", else " CCP_SRCDATADIR ".\n",
          f);
}

/* The rank table of enc from the first directory that has it. */
static enum ccp_err map_table(enum tr_bpe_encoding enc, struct vocab_map *m)
{
    const char *dirs[] = {getenv("CCPROXY_DATA_DIR"), CCP_PKGDATADIR, CCP_SRCDATADIR};
    enum ccp_err rc = CCP_DECLINED;
    for (size_t i = 0; i < CCP_ARRAY_LEN(dirs) && rc == CCP_DECLINED; i++) {
        if (dirs[i] != NULL && dirs[i][0] != '\0') {
            rc = vocab_map_file(dirs[i], tr_bpe_table_name(enc), m);
        }
    }
    return rc;
}

/* stdin as one block: mapped when it is a regular file, else read. */
static enum ccp_err read_input(struct buf *in, struct vocab_map *mapped)
{
    struct stat sb;
    if (fstat(STDIN_FILENO, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0) {
        off_t at = lseek(STDIN_FILENO, 0, SEEK_CUR);
        if (at == 0) {
            void *p = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, STDIN_FILENO, 0);
            if (p != MAP_FAILED) {
                mapped->ptr = p;
                mapped->len = (size_t)sb.st_size;
                return CCP_OK;
            }
        }
    }
    char chunk[65536];
    for (;;) {
        ssize_t r = read(STDIN_FILENO, chunk, sizeof(chunk));
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            return CCP_ERR_INVALID;
        }
        if (r == 0) {
            return CCP_OK;
        }
        enum ccp_err rc = buf_append(in, chunk, (size_t)r);
        if (rc != CCP_OK) {
            return rc;
        }
    }
}

static enum ccp_err print_ids(const struct tr_bpe_ids *ids)
{
    struct buf out;
    enum ccp_err rc = CCP_OK;
    buf_init(&out, (size_t)-1 / 2);
    rc = buf_putc(&out, '[');
    for (size_t i = 0; i < ids->len && rc == CCP_OK; i++) {
        rc = buf_appendf(&out, i == 0 ? "%u" : ",%u", (unsigned)ids->ids[i]);
    }
    if (rc == CCP_OK) {
        rc = buf_append_cstr(&out, "]\n");
    }
    if (rc == CCP_OK && fwrite(out.ptr, 1, out.len, stdout) != out.len) {
        rc = CCP_ERR_INVALID;
    }
    buf_release(&out);
    return rc;
}

int main(int argc, char **argv)
{
    enum tr_bpe_encoding enc = TR_BPE_O200K_BASE;
    int count_only = 0, status = 1;
    struct vocab_map table = {NULL, 0}, mapped = {NULL, 0};
    struct buf in;
    struct tr_bpe *v = NULL;
    struct tr_bpe_scratch *st = NULL;
    struct tr_bpe_ids ids = {NULL, 0, 0};
    enum ccp_err rc;

    buf_init(&in, INPUT_MAX);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--count") == 0) {
            count_only = 1;
        } else if (strcmp(argv[i], "--encoding") == 0 && i + 1 < argc) {
            if (tr_bpe_encoding_parse(argv[++i], &enc) != CCP_OK) {
                fprintf(stderr, "ccproxy-tokens: unknown encoding %s\n", argv[i]);
                status = 2;
                goto out;
            }
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            status = 0;
            goto out;
        } else {
            usage(stderr);
            status = 2;
            goto out;
        }
    }
    rc = map_table(enc, &table);
    if (rc != CCP_OK) {
        fprintf(stderr, "ccproxy-tokens: cannot map %s: %s\n", tr_bpe_table_name(enc),
                rc == CCP_DECLINED ? "not found" : ccp_strerror(rc));
        goto out;
    }
    rc = tr_bpe_new(enc, table.ptr, table.len, &v);
    if (rc == CCP_OK) {
        rc = tr_bpe_scratch_new(&st);
    }
    if (rc == CCP_OK) {
        rc = read_input(&in, &mapped);
    }
    const char *text = mapped.ptr != NULL ? mapped.ptr : in.ptr;
    size_t len = mapped.ptr != NULL ? mapped.len : in.len;
    if (rc == CCP_OK && count_only) {
        size_t n = 0;
        rc = tr_bpe_count_with(v, st, text != NULL ? text : "", len, &n);
        if (rc == CCP_OK) {
            printf("%zu\n", n);
        }
    } else if (rc == CCP_OK) {
        rc = tr_bpe_encode(v, st, text != NULL ? text : "", len, &ids);
        if (rc == CCP_OK) {
            rc = print_ids(&ids);
        }
    }
    if (rc != CCP_OK) {
        fprintf(stderr, "ccproxy-tokens: %s\n", ccp_strerror(rc));
        goto out;
    }
    status = fflush(stdout) == 0 ? 0 : 1;
out:
    tr_bpe_ids_release(&ids);
    tr_bpe_scratch_free(st);
    tr_bpe_free(v);
    vocab_unmap(&mapped);
    vocab_unmap(&table);
    buf_release(&in);
    return status;
}
