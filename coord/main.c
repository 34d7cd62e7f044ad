/* ccproxy-coordd: the streaming fan-out coordinator. Reads its options from
 * the command line only (configuration from the environment is conf.c's). */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "coord/coordd_int.h"
#include "coord/proto.h"

#include "common/banned.h"

#define DEFAULT_SOCKET "/tmp/ccproxy-coordd.sock"

void coordd_opts_default(struct coordd_opts *o)
{
    o->socket_path = DEFAULT_SOCKET;
    o->listen_addr = NULL;
    o->queue_max = 1000;
    o->queue_bytes_max = (size_t)16 * 1024 * 1024;
    o->max_payload = COORD_DEFAULT_MAX_PAYLOAD;
    o->session_bytes_max = (size_t)64 * 1024 * 1024;
    o->total_bytes_max = (size_t)1024 * 1024 * 1024;
    o->max_sessions = 10000;
    o->max_conns = 4096;
    o->linger_ms = 1000;
}

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: ccproxy-coordd [OPTION]...\n"
            "Streaming fan-out coordinator for ccproxy-fcgi workers: one upstream stream\n"
            "for every identical in-flight request.\n\n"
            "  --socket PATH         unix socket to listen on (default %s);\n"
            "                        a stale socket file is replaced; 'none' for TCP only\n"
            "  --listen HOST:PORT    also listen on TCP (port 0 picks one and logs it)\n"
            "  --queue-max N         events a follower may lag behind (default 1000)\n"
            "  --queue-bytes N       bytes a follower may lag behind (default 16777216)\n"
            "  --max-frame N         largest frame payload accepted (default 16777216)\n"
            "  --session-bytes N     largest stream kept for replay (default 67108864)\n"
            "  --total-bytes N       all streams kept for replay (default 1073741824)\n"
            "  --max-sessions N      live streams at once (default 10000)\n"
            "  --max-conns N         connections at once (default 4096)\n"
            "  --linger-ms N         time a dropped follower gets to read its ABORT (1000)\n"
            "  --log-level LEVEL     ERROR, WARNING, INFO or DEBUG (default INFO)\n"
            "  --help, --version\n",
            DEFAULT_SOCKET);
}

/* Parse a decimal number in [min, max]. 0 on success. */
static int parse_size(const char *name, const char *s, size_t min, size_t max, size_t *out)
{
    unsigned long long v;
    char *end = NULL;

    errno = 0;
    if (s[0] < '0' || s[0] > '9') {
        goto bad;
    }
    v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
        goto bad;
    }
    *out = (size_t)v;
    return 0;
bad:
    fprintf(stderr, "ccproxy-coordd: bad value for %s: '%s' (want %zu..%zu)\n", name, s, min, max);
    return -1;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"socket", required_argument, NULL, 's'},
        {"listen", required_argument, NULL, 'l'},
        {"queue-max", required_argument, NULL, 'q'},
        {"queue-bytes", required_argument, NULL, 'b'},
        {"max-frame", required_argument, NULL, 'f'},
        {"session-bytes", required_argument, NULL, 'S'},
        {"total-bytes", required_argument, NULL, 'T'},
        {"max-sessions", required_argument, NULL, 'm'},
        {"max-conns", required_argument, NULL, 'c'},
        {"linger-ms", required_argument, NULL, 'L'},
        {"log-level", required_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    struct coordd_opts o;
    size_t linger = 0;
    int ch, level = LOG_LEVEL_INFO, bad = 0;

    coordd_opts_default(&o);
    for (;;) {
        ch = getopt_long(argc, argv, "", longopts, NULL);
        if (ch == -1) {
            break;
        }
        switch (ch) {
        case 's':
            o.socket_path = strcmp(optarg, "none") == 0 ? NULL : optarg;
            break;
        case 'l':
            o.listen_addr = optarg;
            break;
        case 'q':
            bad |= parse_size("--queue-max", optarg, 1, 10000000, &o.queue_max);
            break;
        case 'b':
            bad |= parse_size("--queue-bytes", optarg, 1024, (size_t)1 << 34, &o.queue_bytes_max);
            break;
        case 'f':
            bad |= parse_size("--max-frame", optarg, 1024, (size_t)1 << 30, &o.max_payload);
            break;
        case 'S':
            bad |=
                parse_size("--session-bytes", optarg, 1024, (size_t)1 << 34, &o.session_bytes_max);
            break;
        case 'T':
            bad |= parse_size("--total-bytes", optarg, 1024, (size_t)1 << 40, &o.total_bytes_max);
            break;
        case 'm':
            bad |= parse_size("--max-sessions", optarg, 1, 10000000, &o.max_sessions);
            break;
        case 'c':
            bad |= parse_size("--max-conns", optarg, 1, 1000000, &o.max_conns);
            break;
        case 'L':
            bad |= parse_size("--linger-ms", optarg, 0, 600000, &linger);
            o.linger_ms = (int)linger;
            break;
        case 'v':
            level = log_level_parse(optarg);
            if (level < 0) {
                fprintf(stderr, "ccproxy-coordd: bad value for --log-level: '%s'\n", optarg);
                bad = 1;
            }
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("ccproxy-coordd %s (protocol %d)\n", PACKAGE_VERSION, COORD_PROTO_VERSION);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ccproxy-coordd: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (o.socket_path == NULL && o.listen_addr == NULL) {
        fprintf(stderr, "ccproxy-coordd: nothing to listen on (--socket none, no --listen)\n");
        return 2;
    }
    if (bad) {
        return 2;
    }
    log_init((enum log_level)level, 2);
    return coordd_run(&o);
}
