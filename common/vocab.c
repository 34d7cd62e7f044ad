/* Read-only memory maps of data files (tokenizer rank tables). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/banned.h"
#include "common/vocab.h"

enum ccp_err vocab_map_file(const char *dir, const char *file, struct vocab_map *out)
{
    char path[PATH_MAX];
    enum ccp_err rc = CCP_ERR_TOO_LARGE;
    int fd = -1;
    int n = snprintf(path, sizeof(path), "%s/%s", dir, file);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        goto out;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = errno == ENOENT || errno == ENOTDIR ? CCP_DECLINED : CCP_ERR_INVALID;
        goto out;
    }
    struct stat sb;
    rc = CCP_ERR_INVALID;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size <= 0) {
        goto out;
    }
    void *p = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    if (p == MAP_FAILED) {
        goto out;
    }
    out->ptr = p;
    out->len = (size_t)sb.st_size;
    rc = CCP_OK;
out:
    if (fd >= 0) {
        close(fd);
    }
    return rc;
}

void vocab_unmap(struct vocab_map *m)
{
    if (m->ptr != NULL) {
        munmap((void *)(uintptr_t)m->ptr, m->len);
    }
    m->ptr = NULL;
    m->len = 0;
}
