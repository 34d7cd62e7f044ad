/* Line-oriented logging to a file descriptor, one write(2) per line. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

#include "common/banned.h"

static enum log_level log_level = LOG_LEVEL_INFO;
static int log_fd = 2;
static _Thread_local char log_reqid[40];

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void log_init(enum log_level level, int fd)
{
    log_level = level;
    log_fd = fd;
}

enum log_level log_get_level(void)
{
    return log_level;
}

int log_level_parse(const char *s)
{
    if (strcasecmp(s, "DEBUG") == 0) {
        return LOG_LEVEL_DEBUG;
    }
    if (strcasecmp(s, "INFO") == 0) {
        return LOG_LEVEL_INFO;
    }
    if (strcasecmp(s, "WARNING") == 0 || strcasecmp(s, "WARN") == 0) {
        return LOG_LEVEL_WARN;
    }
    if (strcasecmp(s, "ERROR") == 0 || strcasecmp(s, "CRITICAL") == 0) {
        return LOG_LEVEL_ERROR;
    }
    return -1;
}

void log_set_request_id(const char *id)
{
    size_t n;

    if (id == NULL) {
        log_reqid[0] = '\0';
        return;
    }
    n = strlen(id);
    if (n >= sizeof(log_reqid)) {
        n = sizeof(log_reqid) - 1;
    }
    memcpy(log_reqid, id, n);
    log_reqid[n] = '\0';
}

void log_msg(enum log_level level, const char *file, int line, const char *fmt, ...)
{
    char out[2048];
    struct timespec ts;
    struct tm tm;
    va_list ap;
    int n, m;
    const char *base;
    ssize_t w;

    if (level > log_level) {
        return;
    }
    base = strrchr(file, '/');
    base = base != NULL ? base + 1 : file;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = snprintf(out, sizeof(out), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ ccproxy[%d] %s%s%s%s:%d ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 ts.tv_nsec / 1000000L, (int)getpid(), log_reqid[0] != '\0' ? "req=" : "",
                 log_reqid, log_reqid[0] != '\0' ? " " : "", base, line);
    if (n < 0) {
        return;
    }
    if ((size_t)n >= sizeof(out)) {
        n = (int)sizeof(out) - 1;
    }
    /* level name right after the location keeps lines greppable */
    m = snprintf(out + n, sizeof(out) - (size_t)n, "%s: ", level_names[level]);
    if (m > 0) {
        n += m;
        if ((size_t)n >= sizeof(out)) {
            n = (int)sizeof(out) - 1;
        }
    }
    va_start(ap, fmt);
    m = vsnprintf(out + n, sizeof(out) - (size_t)n, fmt, ap);
    va_end(ap);
    if (m > 0) {
        n += m;
    }
    if ((size_t)n >= sizeof(out) - 1) {
        n = (int)sizeof(out) - 2;
    }
    out[n++] = '\n';
    w = write(log_fd, out, (size_t)n);
    (void)w;
}

void log_line_raw(enum log_level level, const char *line, size_t n)
{
    char out[8192];
    ssize_t w;

    if (level > log_level) {
        return;
    }
    if (n > sizeof(out) - 1) {
        n = sizeof(out) - 1; /* truncated lines are still one line */
    }
    memcpy(out, line, n);
    out[n++] = '\n';
    w = write(log_fd, out, n);
    (void)w;
}
