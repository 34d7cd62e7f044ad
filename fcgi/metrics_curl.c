/* fcgi/metrics_curl.c: libcurl side of the upstream metrics: socket open and
 * close callbacks for the open-connections gauge, and the per-call numbers
 * libcurl measures (total time, time to first byte, HTTP version). */
#include "config.h"

#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "fcgi/metrics_int.h"

#include "common/banned.h"

static curl_socket_t on_open(void *clientp, curlsocktype purpose, struct curl_sockaddr *addr)
{
    curl_socket_t fd;

    (void)clientp;
    (void)purpose;
    fd = socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
    if (fd != CURL_SOCKET_BAD) {
        wk_metrics_gauge_conns(1);
    }
    return fd;
}

static int on_close(void *clientp, curl_socket_t fd)
{
    (void)clientp;
    wk_metrics_gauge_conns(-1);
    return close(fd);
}

void wk_metrics_curl_setup(CURL *e)
{
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, NULL);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, on_close);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, NULL);
}

void wk_metrics_upstream_attempt(CURL *e, const struct wk_upstream_result *res)
{
    curl_off_t total_us = 0, ttfb_us = 0;
    long version = 0, connects = 0;

    wk_metrics_add(WK_C_UP_ATTEMPTS, 1);
    if (res->status >= 200 && res->status < 300) {
        wk_metrics_add(WK_C_UP_2XX, 1);
    } else if (res->status == 429) {
        wk_metrics_add(WK_C_UP_429, 1);
    } else if (res->status >= 400 && res->status < 500) {
        wk_metrics_add(WK_C_UP_4XX, 1);
    } else if (res->status >= 500) {
        wk_metrics_add(WK_C_UP_5XX, 1);
    }
    if (res->err == CCP_ERR_TIMEOUT) {
        wk_metrics_add(WK_C_UP_TIMEOUT, 1);
    } else if (res->err == CCP_DECLINED) {
        wk_metrics_add(WK_C_UP_ABORTED, 1);
    } else if (res->err != CCP_OK && res->status == 0) {
        wk_metrics_add(WK_C_UP_TRANSPORT, 1);
    }
    if (curl_easy_getinfo(e, CURLINFO_TOTAL_TIME_T, &total_us) == CURLE_OK) {
        wk_metrics_observe(WK_H_UPSTREAM, (double)total_us / 1000.0);
    }
    if (res->status > 0 &&
        curl_easy_getinfo(e, CURLINFO_STARTTRANSFER_TIME_T, &ttfb_us) == CURLE_OK && ttfb_us > 0) {
        wk_metrics_observe(WK_H_TTFB, (double)ttfb_us / 1000.0);
    }
    if (res->status > 0 && curl_easy_getinfo(e, CURLINFO_HTTP_VERSION, &version) == CURLE_OK) {
        if (version == CURL_HTTP_VERSION_2_0) {
            wk_metrics_add(WK_C_UP_HTTP2, 1);
        } else if (version == CURL_HTTP_VERSION_3) {
            wk_metrics_add(WK_C_UP_HTTP3, 1);
        } else if (version != 0) {
            wk_metrics_add(WK_C_UP_HTTP1, 1);
        }
    }
    if (curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK && connects > 0) {
        wk_metrics_add(WK_C_UP_CONN_NEW, (uint64_t)connects);
    }
}

void wk_metrics_upstream_retry(void)
{
    wk_metrics_add(WK_C_UP_RETRIES, 1);
}
