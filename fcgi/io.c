/* fcgi/io.c: struct wk_io for FastCGI (libfcgi FCGX streams) and for plain
 * CGI (request parameters in the environment, body on fd 0, answer on fd 1). */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "fcgi/io.h"

#include "common/banned.h"

extern char **environ;

/* ---- FastCGI ----------------------------------------------------------- */

static const char *fcgx_param(struct wk_io *io, const char *name)
{
    return FCGX_GetParam(name, io->req->envp);
}

static ssize_t fcgx_read(struct wk_io *io, char *p, size_t n)
{
    int want = n > (size_t)INT_MAX ? INT_MAX : (int)n;
    int got = FCGX_GetStr(p, want, io->req->in);

    if (got == 0 && FCGX_GetError(io->req->in) != 0) {
        return -1;
    }
    return got;
}

static int fcgx_write(struct wk_io *io, const char *p, size_t n)
{
    while (n > 0) {
        int chunk = n > (size_t)INT_MAX ? INT_MAX : (int)n;
        int put = FCGX_PutStr(p, chunk, io->req->out);

        if (put != chunk) {
            return -1;
        }
        p += put;
        n -= (size_t)put;
    }
    return 0;
}

static int fcgx_flush(struct wk_io *io)
{
    return FCGX_FFlush(io->req->out) == 0 ? 0 : -1;
}

/* True if fd reports a hang-up or an error (both are reported even when no
 * events are asked for). A peer's half-close (shutdown SHUT_WR) is not a
 * hang-up, so a web server that half-closes after sending the request is
 * not mistaken for a client that left. */
static bool fd_gone(int fd)
{
    struct pollfd pfd;
    int rc;

    if (fd < 0) {
        return true;
    }
    pfd.fd = fd;
    pfd.events = 0;
    pfd.revents = 0;
    rc = poll(&pfd, 1, 0);
    if (rc <= 0) {
        return false;
    }
    return (pfd.revents & (POLLHUP | POLLERR | POLLNVAL)) != 0;
}

static bool fcgx_gone(struct wk_io *io)
{
    /* The web server closes the FastCGI connection when its client leaves.
     * On a unix socket that is a hang-up; on TCP it shows only at the next
     * write. */
    return fd_gone(io->req->ipcFd);
}

/* Closing the error and output streams writes their end records and
 * FCGI_END_REQUEST and flushes them (FCGX_Finish_r's own closes then do
 * nothing); the output stream's buffered bytes go in the same write (libfcgi
 * EmptyBuffProc with doClose). A connection the web server keeps stays
 * open. */
static int fcgx_end(struct wk_io *io)
{
    FCGX_Request *req = io->req;
    int rc = 0;

    if (FCGX_FClose(req->err) != 0) {
        rc = -1;
    }
    if (FCGX_FClose(req->out) != 0) {
        rc = -1;
    }
    if (io->close_at_end && !req->keepConnection && req->ipcFd >= 0) {
        (void)close(req->ipcFd);
        req->ipcFd = -1;
    }
    return rc;
}

void wk_io_fcgx(struct wk_io *io, FCGX_Request *req)
{
    memset(io, 0, sizeof(*io));
    io->param = fcgx_param;
    io->read = fcgx_read;
    io->write = fcgx_write;
    io->flush = fcgx_flush;
    io->gone = fcgx_gone;
    io->end = fcgx_end;
    io->req = req;
}

/* ---- plain CGI --------------------------------------------------------- */

static const char *cgi_param(struct wk_io *io, const char *name)
{
    size_t n = strlen(name);
    char **e;

    (void)io;
    /* Request parameters, not configuration: read straight from environ. */
    for (e = environ; e != NULL && *e != NULL; e++) {
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=') {
            return *e + n + 1;
        }
    }
    return NULL;
}

static ssize_t cgi_read(struct wk_io *io, char *p, size_t n)
{
    ssize_t got;

    (void)io;
    do {
        got = read(0, p, n);
    } while (got < 0 && errno == EINTR);
    return got;
}

static int cgi_write(struct wk_io *io, const char *p, size_t n)
{
    (void)io;
    while (n > 0) {
        ssize_t w = write(1, p, n);

        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int cgi_flush(struct wk_io *io)
{
    (void)io;
    return 0; /* writes go straight to fd 1 */
}

static bool cgi_gone(struct wk_io *io)
{
    (void)io;
    /* A pipe whose reader closed reports POLLERR; a socket POLLHUP. */
    return fd_gone(1);
}

void wk_io_cgi(struct wk_io *io)
{
    memset(io, 0, sizeof(*io));
    io->param = cgi_param;
    io->read = cgi_read;
    io->write = cgi_write;
    io->flush = cgi_flush;
    io->gone = cgi_gone;
    io->req = NULL;
}

/* ---- helpers ----------------------------------------------------------- */

int wk_io_write(struct wk_io *io, const char *p, size_t n)
{
    if (io->failed) {
        return -1;
    }
    if (n > 0 && io->write(io, p, n) != 0) {
        io->failed = true;
        return -1;
    }
    return 0;
}

int wk_io_puts(struct wk_io *io, const char *s)
{
    return wk_io_write(io, s, strlen(s));
}

int wk_io_flush(struct wk_io *io)
{
    if (io->failed) {
        return -1;
    }
    if (io->flush(io) != 0) {
        io->failed = true;
        return -1;
    }
    return 0;
}

int wk_io_end(struct wk_io *io)
{
    int rc;

    if (io->ended) {
        return 0;
    }
    rc = io->failed ? -1 : 0;
    io->ended = true;
    io->failed = true; /* nothing more may be written */
    if (io->end != NULL && io->end(io) != 0) {
        rc = -1;
    }
    return rc;
}
