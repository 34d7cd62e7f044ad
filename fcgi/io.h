/* fcgi/io.h: one request's I/O, the same for FastCGI (libfcgi FCGX streams)
 * and plain CGI (environment, stdin, stdout), so the handler serves both. */
#ifndef CCP_FCGI_IO_H
#define CCP_FCGI_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <fcgiapp.h>

struct wk_io {
    /* The CGI/FastCGI parameter `name` (REQUEST_METHOD, HTTP_X_REQUEST_ID, ...)
     * or NULL. The string is borrowed and lives as long as the request. */
    const char *(*param)(struct wk_io *io, const char *name);
    /* Read up to n body bytes. >0 bytes read, 0 end of body, <0 error. */
    ssize_t (*read)(struct wk_io *io, char *p, size_t n);
    /* Write all n bytes (possibly buffered). 0 on success, -1 if the client
     * is gone. */
    int (*write)(struct wk_io *io, const char *p, size_t n);
    /* Push buffered bytes to the web server now. 0 or -1 (client gone). */
    int (*flush)(struct wk_io *io);
    /* True if the connection to the web server has been closed (the client
     * went away), checked without blocking. */
    bool (*gone)(struct wk_io *io);
    /* End the answer after its last write, before the request's own
     * bookkeeping (metrics, the request line), so the web server and its
     * client have all of it without waiting for those. FastCGI: the end
     * records are written and flushed and, with close_at_end, the connection
     * is closed; the parameters stay readable until the request is finished.
     * Bytes still buffered go out with the end records, in one write. 0, or
     * -1 if those writes failed (the client is gone). NULL: nothing to do
     * (CGI ends when the process exits). */
    int (*end)(struct wk_io *io);
    FCGX_Request *req; /* FastCGI: the accepted request; CGI: NULL */
    bool failed;       /* a write or flush failed: stop writing */
    bool close_at_end; /* FastCGI on a unix socket: end closes the connection */
    bool ended;        /* end has run */
};

/* Set up io for an accepted FastCGI request. Can't fail. */
void wk_io_fcgx(struct wk_io *io, FCGX_Request *req);
/* Set up io for one plain CGI request on the environment, fd 0 and fd 1.
 * Can't fail. */
void wk_io_cgi(struct wk_io *io);

/* Write n bytes unless an earlier write failed; 0 or -1. */
int wk_io_write(struct wk_io *io, const char *p, size_t n);
/* Write a NUL-terminated string; 0 or -1. */
int wk_io_puts(struct wk_io *io, const char *s);
/* Flush unless an earlier write failed; 0 or -1. */
int wk_io_flush(struct wk_io *io);
/* End the answer (io->end) once, with whatever is still buffered; later
 * writes fail. 0, or -1 if the end could not be written or an earlier write
 * failed (a second call returns 0). */
int wk_io_end(struct wk_io *io);

#endif /* CCP_FCGI_IO_H */
