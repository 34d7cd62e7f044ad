/* bench/floor_fcgi.c: the benchmark floor (not part of the product). A
 * trivial libfcgi responder with the worker's structure (WORKER_THREADS
 * threads taking turns in FCGX_Accept_r) that reads the request body and
 * answers with canned bytes of the same size as CCProxy's answers: DIR/nonstream
 * (a JSON body) or, when the body asks for a stream, DIR/stream (SSE events,
 * flushed one event at a time as the worker does). A body carrying
 * "mock_delay_ms=N" (W3's, which asks the mock for a slow stream) gets its
 * events N ms apart, as the mock sends its chunks.
 * Usage (as lighttpd bin-path): floor_fcgi DIR */
#include "config.h"

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "common/banned.h"

static pthread_mutex_t accept_mutex = PTHREAD_MUTEX_INITIALIZER;
static char *nonstream, *stream;
static size_t nonstream_len, stream_len;

static char *slurp(const char *dir, const char *name, size_t *len)
{
    char path[4096];
    FILE *f;
    char *p = NULL;
    long n;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "rb");
    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "floor_fcgi: cannot read %s\n", path);
        exit(1);
    }
    p = malloc((size_t)n + 1);
    if (p == NULL || fread(p, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "floor_fcgi: cannot read %s\n", path);
        exit(1);
    }
    p[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return p;
}

static void serve(FCGX_Request *req, char *body, size_t cap)
{
    const char *cl = FCGX_GetParam("CONTENT_LENGTH", req->envp);
    size_t want = cl != NULL ? strtoul(cl, NULL, 10) : 0, got = 0;
    bool is_stream;

    while (got < want) {
        size_t room = cap - 1 - got;
        size_t ask = want - got < room ? want - got : room;
        int n;

        if (ask == 0) {
            break; /* larger than the buffer: the floor only needs the flag */
        }
        n = FCGX_GetStr(body + got, (int)ask, req->in);
        if (n <= 0) {
            break;
        }
        got += (size_t)n;
    }
    body[got] = '\0';
    is_stream = strstr(body, "\"stream\":true") != NULL || strstr(body, "\"stream\": true") != NULL;
    if (!is_stream) {
        FCGX_FPrintF(req->out, "Status: 200 OK\r\nContent-Type: application/json\r\n"
                               "request-id: req_000000000000000000000000\r\n\r\n");
        FCGX_PutStr(nonstream, (int)nonstream_len, req->out);
        return;
    }
    FCGX_FPrintF(req->out, "Status: 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
                           "request-id: req_000000000000000000000000\r\n"
                           "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n\r\n");
    FCGX_FFlush(req->out);
    {
        const char *p = stream, *end = stream + stream_len;
        const char *d = strstr(body, "mock_delay_ms=");
        long delay_ms = d != NULL ? strtol(d + strlen("mock_delay_ms="), NULL, 10) : 0;
        struct timespec gap = {delay_ms / 1000, (delay_ms % 1000) * 1000000L};
        bool first = true;

        while (p < end) {
            const char *e = strstr(p, "\n\n");
            size_t n = e != NULL ? (size_t)(e - p) + 2 : (size_t)(end - p);

            if (delay_ms > 0 && !first) {
                nanosleep(&gap, NULL);
            }
            first = false;
            FCGX_PutStr(p, (int)n, req->out);
            FCGX_FFlush(req->out);
            p += n;
        }
    }
}

static void on_term(int sig)
{
    (void)sig;
    _exit(0); /* the web server is shutting us down; nothing to finish */
}

static void *thread_main(void *arg)
{
    FCGX_Request req;
    size_t cap = 4 * 1024 * 1024; /* untouched pages cost no memory */
    char *body = malloc(cap);

    (void)arg;
    if (body == NULL || FCGX_InitRequest(&req, 0, 0) != 0) {
        return NULL;
    }
    for (;;) {
        int rc;

        pthread_mutex_lock(&accept_mutex);
        rc = FCGX_Accept_r(&req);
        pthread_mutex_unlock(&accept_mutex);
        if (rc < 0) {
            break;
        }
        body[0] = '\0';
        serve(&req, body, cap);
        FCGX_Finish_r(&req);
    }
    free(body);
    return NULL;
}

int main(int argc, char **argv)
{
    const char *t = getenv("WORKER_THREADS");
    long n = t != NULL ? strtol(t, NULL, 10) : 16, i;
    pthread_t *tids;

    if (argc != 2) {
        fprintf(stderr, "usage: floor_fcgi DIR (DIR/nonstream, DIR/stream)\n");
        return 2;
    }
    nonstream = slurp(argv[1], "nonstream", &nonstream_len);
    stream = slurp(argv[1], "stream", &stream_len);
    if (n < 1 || n > 1024) {
        n = 16;
    }
    if (FCGX_Init() != 0) {
        return 1;
    }
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    tids = calloc((size_t)n, sizeof(*tids));
    if (tids == NULL) {
        return 1;
    }
    for (i = 0; i < n; i++) {
        pthread_create(&tids[i], NULL, thread_main, NULL);
    }
    for (i = 0; i < n; i++) {
        pthread_join(tids[i], NULL);
    }
    free(tids);
    return 0;
}
