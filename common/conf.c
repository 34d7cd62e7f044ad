/* Configuration table and loader: env file first, then the process
 * environment. The only file that calls getenv (through environ). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/conf.h"
#include "common/log.h"

#include "common/banned.h"

extern char **environ;

enum conf_type {
    CT_STR,    /* string, may be empty */
    CT_SECRET, /* string, redacted in descriptions */
    CT_URL,    /* http:// or https:// URL, trailing slashes dropped */
    CT_BOOL,
    CT_LONG,
    CT_DOUBLE,
    CT_SIZE,
    CT_LOGLEVEL,
    CT_INERT,  /* accepted for compatibility; no effect */
    CT_STR_OPT /* string; empty is allowed even when the default is not */
};

struct conf_var {
    const char *name;
    enum conf_type type;
    const char *def; /* default as text; NULL: none (required if not inert) */
    double min, max; /* range for numbers */
    size_t off;      /* offset in struct conf; unused for CT_INERT */
    const char *help;
};

#define OFF(f) offsetof(struct conf, f)
#define NOFF 0

static const struct conf_var conf_vars[] = {
    {"OPENAI_API_KEY", CT_SECRET, "", 0, 0, OFF(openai_api_key),
     "Upstream API key (OpenAI, OpenRouter, ...). Required to serve /v1/messages."},
    {"OPENAI_API_KEY_FILE", CT_INERT, "", 0, 0, NOFF,
     "File whose first line is the upstream key; preferred over OPENAI_API_KEY."},
    {"OPENAI_BASE_URL", CT_URL, "https://api.openai.com/v1", 0, 0, OFF(openai_base_url),
     "Upstream base URL; /chat/completions is appended."},
    {"BIG_MODEL_NAME", CT_STR, "gpt-5-2025-08-07", 0, 0, OFF(big_model),
     "Upstream model for claude-*opus* and claude-*sonnet* requests."},
    {"SMALL_MODEL_NAME", CT_STR, "gpt-5-mini-2025-08-07", 0, 0, OFF(small_model),
     "Upstream model for claude-*haiku* requests."},
    {"HTTP_CONNECT_TIMEOUT", CT_DOUBLE, "10.0", 0.1, 600, OFF(connect_timeout_s),
     "Seconds to connect to the upstream (TCP and TLS)."},
    {"HTTP_READ_TIMEOUT", CT_DOUBLE, "300.0", 1, 86400, OFF(read_timeout_s),
     "Longest silence from the upstream, in seconds, before the call fails."},
    {"HTTP_WRITE_TIMEOUT", CT_DOUBLE, "30.0", 0.1, 3600, OFF(write_timeout_s),
     "Seconds allowed for sending the request body upstream."},
    {"HTTP_POOL_TIMEOUT", CT_DOUBLE, "10.0", 0, 3600, OFF(pool_timeout_s),
     "Accepted for compatibility; libcurl opens a new connection instead of waiting."},
    {"MAX_STREAM_SECONDS", CT_LONG, "600", 1, 86400, OFF(max_stream_seconds),
     "Longest total time of one upstream call (stream or not), in seconds."},
    {"PROVIDER_MAX_RETRIES", CT_LONG, "3", 0, 20, OFF(provider_max_retries),
     "Upstream attempts after the first, before any byte reached the client."},
    {"PROVIDER_RETRY_BASE_DELAY", CT_DOUBLE, "1.0", 0, 60, OFF(retry_base_delay_s),
     "Base of the exponential retry backoff, in seconds."},
    {"PROVIDER_RETRY_JITTER", CT_DOUBLE, "0.5", 0, 60, OFF(retry_jitter_s),
     "Random jitter added to each retry delay, up to this many seconds."},
    {"PROVIDER_RETRY_AFTER_MAX_S", CT_DOUBLE, "10", 0, 3600, OFF(retry_after_max_s),
     "Longest upstream retry-after the proxy waits out before retrying; a longer one (or an "
     "HTTP date) goes straight back to the client with its retry-after."},
    {"PROVIDER_RETRY_ON_429", CT_BOOL, "false", 0, 0, OFF(retry_on_429),
     "Retry upstream 429 answers too (honouring retry-after). Off: a 429 goes straight back "
     "with its retry-after, since Claude Code waits and retries by itself."},
    {"POOL_MAX_CONNECTIONS", CT_LONG, "500", 1, 100000, OFF(pool_max_connections),
     "Most upstream connections one worker process keeps open."},
    {"POOL_KEEPALIVE_EXPIRY", CT_LONG, "120", 1, 86400, OFF(pool_keepalive_s),
     "Seconds an idle upstream connection is kept for reuse."},
    {"POOL_MAX_KEEPALIVE_CONNECTIONS", CT_INERT, "50", 0, 0, NOFF,
     "Accepted for compatibility; POOL_MAX_CONNECTIONS bounds the pool."},
    {"UPSTREAM_HTTP2", CT_BOOL, "true", 0, 0, OFF(http2),
     "Use HTTP/2 with the upstream when it offers it (TLS ALPN)."},
    {"UPSTREAM_MULTI", CT_STR, "auto", 0, 0, OFF(upstream_multi_mode),
     "true: one libcurl multi handle per worker process, driven by its own thread: every "
     "request thread's upstream calls share its connections (HTTP/2 streams multiplexed over "
     "few connections). false: each request thread keeps its own connections (fewest thread "
     "hand-offs; over HTTP/1.1 nothing can be shared anyway). auto: true for an https "
     "OPENAI_BASE_URL with UPSTREAM_HTTP2 on, else false."},
    {"UPSTREAM_MAX_CONNECTIONS", CT_LONG, "0", 0, 100000, OFF(upstream_max_connections),
     "With UPSTREAM_MULTI: most connections one worker process opens to the upstream host "
     "(0: no limit). Calls beyond what they can carry wait for a free one; over HTTP/1.1 "
     "each connection carries one call at a time."},
    {"OPENAI_CA_BUNDLE", CT_STR_OPT, "", 0, 0, OFF(openai_ca_bundle),
     "PEM file of CA certificates to verify the upstream with, instead of the system's."},
    {"WORKER_THREADS", CT_LONG, "16", 1, 1024, OFF(worker_threads),
     "FastCGI request threads per worker process (each holds one request)."},
    {"MAX_REQUEST_BODY_BYTES", CT_SIZE, "33554432", 1024, 1073741824.0, OFF(max_body_bytes),
     "Largest client request body; larger ones get 413 request_too_large."},
    {"MAX_JSON_DEPTH", CT_LONG, "64", 4, 1000, OFF(max_json_depth),
     "Deepest JSON nesting accepted from the client or the upstream."},
    {"MAX_UPSTREAM_RESPONSE_BYTES", CT_SIZE, "67108864", 1024, 1073741824.0,
     OFF(max_upstream_bytes), "Largest non-streaming upstream answer accepted."},
    {"MAX_UPSTREAM_STREAM_BYTES", CT_SIZE, "268435456", 1024, 17179869184.0,
     OFF(max_upstream_stream_bytes),
     "Most bytes of one upstream event stream (after decompression); past it the client's "
     "stream ends with an error event and the upstream call is cut."},
    {"MAX_MESSAGES", CT_SIZE, "10000", 0, 100000000.0, OFF(max_messages),
     "Most entries of `messages` in one request (0: no limit); more get 400."},
    {"MAX_CONTENT_BLOCKS", CT_SIZE, "100000", 0, 100000000.0, OFF(max_content_blocks),
     "Most content blocks over the system prompt and all messages (0: no limit)."},
    {"MAX_STRING_BYTES", CT_SIZE, "8388608", 0, 1073741824.0, OFF(max_string_bytes),
     "Longest single JSON string in a request, in bytes (0: no limit); a 5 MB image in "
     "base64 fits the default."},
    {"MAX_SSE_LINE_BYTES", CT_SIZE, "16777216", 1024, 1073741824.0, OFF(max_sse_line_bytes),
     "Longest line of an upstream event stream; a longer one ends the stream with an error "
     "event."},
    {"CLIENT_API_KEYS", CT_SECRET, "", 0, 0, OFF(client_api_keys),
     "Comma-separated keys clients must send (x-api-key or Authorization: Bearer). Empty "
     "(and no CLIENT_API_KEYS_FILE): no client authentication, so anyone who can reach the "
     "port uses the upstream key."},
    {"CLIENT_API_KEYS_FILE", CT_STR_OPT, "", 0, 0, OFF(client_api_keys_file),
     "File of accepted client keys as SHA-256 hex digests, one per line (# comments); "
     "used with CLIENT_API_KEYS if both are set."},
    {"LOG_LEVEL", CT_LOGLEVEL, "INFO", 0, 0, OFF(log_level),
     "DEBUG, INFO, WARNING or ERROR. Lines go to stderr (the web server's error log)."},
    {"MEMCACHED_SERVERS", CT_STR_OPT, "127.0.0.1:11211", 0, 0, OFF(memcached_servers),
     "memcached servers, host:port or a unix socket path (/path), comma-separated "
     "(consistent hashing); empty disables memcached. A unix socket is a third cheaper per "
     "lookup than loopback TCP (run-ccproxy.sh uses one). A server that is down only causes "
     "cache misses."},
    {"MEMCACHED_TIMEOUT_MS", CT_LONG, "100", 1, 60000, OFF(memcached_timeout_ms),
     "Milliseconds allowed for each memcached connect, send and receive; a slower cache "
     "counts as a miss."},
    {"MEMCACHED_SET_NOREPLY", CT_BOOL, "false", 0, 0, OFF(memcached_set_noreply),
     "Store cache entries without waiting for memcached's reply (\"set ... noreply\" on "
     "connections of their own): a store costs one send instead of a round trip. Then a "
     "value memcached refuses is not noticed, and an identical request sent within about a "
     "millisecond of the answer (before memcached has read the store) can still miss."},
    {"RESPONSE_CACHE_ENABLED", CT_BOOL, "true", 0, 0, OFF(response_cache_enabled),
     "Answer an identical request (same translated request, same client API key, same "
     "stream flag) from the cache; finished streams are replayed as streams. Keys include "
     "a hash of the client key, so clients never share entries. A client's cache-control: "
     "no-cache skips the lookup; set false if repeated identical requests must reach the "
     "upstream."},
    {"RESPONSE_CACHE_TTL_S", CT_LONG, "3600", 1, 2592000, OFF(response_cache_ttl_s),
     "Seconds a cached response is kept."},
    {"RESPONSE_CACHE_MAX_ITEM_BYTES", CT_SIZE, "1048576", 1024, 134217728.0,
     OFF(response_cache_max_item),
     "memcached item size limit (memcached -I); larger responses are served but not cached "
     "(never split)."},
    {"RESPONSE_CACHE_LRU_MAX", CT_LONG, "512", 0, 10000000, OFF(response_cache_lru_max),
     "Most responses kept in each worker process's in-process cache in front of memcached; "
     "0 turns it off."},
    {"RESPONSE_CACHE_LRU_BYTES", CT_SIZE, "33554432", 0, 17179869184.0,
     OFF(response_cache_lru_bytes),
     "Most bytes of responses kept in each worker process's in-process cache."},
    {"METRICS_SHM_PATH", CT_STR_OPT, "", 0, 0, OFF(metrics_shm_path),
     "File shared (mmap) by every worker process for /v1/metrics, /metrics and /status. "
     "Empty: <FastCGI socket>.metrics beside a unix socket, else "
     "/dev/shm/ccproxy-metrics-<uid>-<port>. Counters survive worker restarts while it exists."},
    {"PRICING_FILE", CT_STR_OPT, "", 0, 0, OFF(pricing_file),
     "JSON prices in USD per million tokens, {\"model\": {\"input\": 1.25, \"output\": 10, "
     "\"cached_input\": 0.125}}, merged over the built-in table (docs/metrics.md). Empty: "
     "built-in prices only."},
    {"ADMIN_API_KEY", CT_SECRET, "", 0, 0, OFF(admin_api_key),
     "If set, /v1/metrics, /metrics and /status need this key (x-api-key, Authorization: "
     "Bearer, or as the Basic password)."},
    {"ADMIN_LOCALHOST_ONLY", CT_BOOL, "false", 0, 0, OFF(admin_localhost_only),
     "Serve /v1/metrics, /metrics and /status only to clients on this host (REMOTE_ADDR "
     "127.0.0.0/8 or ::1)."},
    {"MODEL_RULES", CT_STR_OPT, "", 0, 0, OFF(model_rules),
     "Per-model capability rules tried before the built-in table (docs/translation.md): "
     "rules separated by ';', each pattern:key=value,... with keys max_field "
     "(max_tokens|max_completion_tokens), max_output (0: no clamp) and sampling, effort, "
     "vision, replay (yes|no). Example: gpt-4o*:max_output=8192;my-model:vision=no. "
     "Checked at start-up."},
    {"UPSTREAM_USER_ENABLED", CT_BOOL, "true", 0, 0, OFF(upstream_user),
     "Send the client's metadata.user_id upstream as `user` (hashed when longer than 64 "
     "bytes)."},
    {"PROMPT_CACHE_KEY_ENABLED", CT_BOOL, "true", 0, 0, OFF(prompt_cache_key),
     "Send the Claude Code session (X-Claude-Code-Session-Id, else the session_id in "
     "metadata.user_id) upstream as `prompt_cache_key`, so one session hits one prompt cache."},
    {"PING_INTERVAL_S", CT_DOUBLE, "10", 0, 3600, OFF(ping_interval_s),
     "Once a stream has started, send the client an SSE ping event after this many seconds "
     "without output (long upstream reasoning), as Anthropic does; 0 turns pings off."},
    {"STREAM_DEDUPE_ENABLED", CT_BOOL, "true", 0, 0, OFF(stream_dedupe_enabled),
     "Coalesce identical concurrent streaming requests (same translated request, same client "
     "API key) through ccproxy-coordd: one upstream call, every client gets the same bytes. "
     "Takes effect only when COORD_ADDRESSES is set."},
    {"COORD_ADDRESSES", CT_STR_OPT, "", 0, 0, OFF(coord_addresses),
     "ccproxy-coordd addresses, comma-separated: unix socket paths (/path or unix:/path) or "
     "host:port. Several: each request picks one by its key hash, so give every host the same "
     "list in the same order. Empty: no coalescing. A coordinator that is down costs one failed "
     "connect, then is skipped for 2 s; requests go direct."},
    {"COORD_CONNECT_TIMEOUT_MS", CT_LONG, "100", 1, 10000, OFF(coord_connect_timeout_ms),
     "Milliseconds allowed to connect to the coordinator and join a stream; on failure the "
     "request goes direct."},
    {"COORD_FOLLOWER_WAIT_MS", CT_LONG, "5000", 1, 600000, OFF(coord_follower_wait_ms),
     "Longest wait of a coalesced request for the leader's first event; then it goes direct "
     "(like nginx proxy_cache_lock_timeout)."},
    /* accepted from the original service's .env; no effect in this build */
    {"LOG_PRETTY_CONSOLE", CT_INERT, "True", 0, 0, NOFF, "No effect: log lines are plain text."},
    {"ERROR_LOG_FILE_PATH", CT_INERT, "error.jsonl", 0, 0, NOFF,
     "No effect: errors go to the web server's error log."},
    {"IS_LOCAL_DEPLOYMENT", CT_INERT, "True", 0, 0, NOFF, "No effect."},
    {"RATE_LIMIT_ENABLED", CT_BOOL, "false", 0, 0, OFF(rate_limit_enabled),
     "Limit requests and tokens per client key and minute, counted in memcached so the "
     "limit holds across workers and hosts; over it: 429 rate_limit_error with retry-after. "
     "If memcached is down requests are let through."},
    {"RATE_LIMIT_PER_MINUTE", CT_LONG, "60", 1, 100000000.0, OFF(rate_limit_per_minute),
     "Requests per client key in each one-minute window."},
    {"RATE_LIMIT_BURST", CT_LONG, "30", 0, 100000000.0, OFF(rate_limit_burst),
     "Most requests per client key in any one-second window (0: no burst limit)."},
    {"RATE_LIMIT_TOKENS_PER_MINUTE", CT_LONG, "0", 0, 100000000000.0, OFF(rate_limit_tpm),
     "Input plus output tokens per client key and minute (0: no token limit); a request "
     "starting after the window's tokens ran out gets 429."},
    {"SECURITY_HEADERS_ENABLED", CT_INERT, "true", 0, 0, NOFF,
     "No effect: set response headers in the web server."},
    {"ENABLE_HSTS", CT_INERT, "false", 0, 0, NOFF, "No effect: set HSTS in the web server."},
    {"ENABLE_CORS", CT_INERT, "false", 0, 0, NOFF, "No effect: set CORS in the web server."},
    {"CORS_ALLOW_ORIGINS", CT_INERT, "", 0, 0, NOFF, "No effect."},
    {"CORS_ALLOW_METHODS", CT_INERT, "", 0, 0, NOFF, "No effect."},
    {"CORS_ALLOW_HEADERS", CT_INERT, "", 0, 0, NOFF, "No effect."},
    {"ALLOWED_HOSTS", CT_INERT, "localhost,127.0.0.1", 0, 0, NOFF,
     "No effect: restrict Host names in the web server."},
    {"RESTRICT_BASE_URL", CT_BOOL, "false", 0, 0, OFF(restrict_base_url),
     "Refuse to start unless the host of OPENAI_BASE_URL is in ALLOWED_BASE_URL_HOSTS or is "
     "loopback (127.0.0.1, ::1, localhost). Recommended: true in production."},
    {"ALLOWED_BASE_URL_HOSTS", CT_STR_OPT, "api.openai.com,openrouter.ai,api.deepseek.com", 0, 0,
     OFF(allowed_base_url_hosts),
     "Comma-separated upstream host names accepted when RESTRICT_BASE_URL is true."},
    {"REDACT_LOG_FIELDS", CT_INERT, "openai_api_key,authorization", 0, 0, NOFF,
     "No effect: keys and Authorization are never logged."},
    {"CACHE_TOKEN_COUNTS_ENABLED", CT_BOOL, "true", 0, 0, OFF(token_counts_cache_enabled),
     "Cache count_tokens results per content block (in-process LRU, then memcached)."},
    {"CACHE_TOKEN_COUNTS_TTL_S", CT_LONG, "300", 1, 2592000, OFF(token_counts_ttl_s),
     "Seconds a cached token count is kept."},
    {"CACHE_TOKEN_COUNTS_MAX", CT_LONG, "2048", 1, 10000000, OFF(token_counts_max),
     "Most token counts kept in each worker process's in-process cache."},
    {"TOKENIZER_DATA_DIR", CT_STR_OPT, "", 0, 0, OFF(tokenizer_data_dir),
     "Directory of the tokenizer rank tables (o200k_base.bpe, cl100k_base.bpe) for exact "
     "count_tokens. Empty: the installed data directory, else the source tree's data/. "
     "Without them count_tokens answers an estimate."},
    {"TOKEN_COUNT_ENCODING", CT_STR, "auto", 0, 0, OFF(token_count_encoding),
     "Encoding count_tokens uses: auto (by upstream model: cl100k_base for gpt-4 and "
     "gpt-3.5, else o200k_base), o200k_base or cl100k_base."},
    {"COUNT_TOKENS_UPSTREAM", CT_BOOL, "false", 0, 0, OFF(count_tokens_upstream),
     "Ask COUNT_TOKENS_UPSTREAM_URL for count_tokens first; local counting when it fails."},
    {"COUNT_TOKENS_UPSTREAM_URL", CT_STR_OPT, "", 0, 0, OFF(count_tokens_upstream_url),
     "Counting endpoint for COUNT_TOKENS_UPSTREAM: gets the translated Chat Completions "
     "request (POST, upstream key as Bearer) and answers {\"input_tokens\":N} or "
     "{\"count\":N} (vLLM /tokenize)."},
    {"CACHE_CONVERTERS_ENABLED", CT_INERT, "true", 0, 0, NOFF,
     "No effect: translation is cheaper than a cache lookup."},
    {"CACHE_CONVERTERS_MAX", CT_INERT, "256", 0, 0, NOFF, "No effect."},
    {"METRICS_CACHE_ENABLED", CT_INERT, "true", 0, 0, NOFF,
     "No effect: cache statistics are always in /v1/metrics."},
    {"TRUNCATE_LONG_REQUESTS", CT_INERT, "false", 0, 0, NOFF,
     "No effect: context errors go back to Claude Code, which compacts."},
    {"TRUNCATION_CONFIG", CT_INERT, "", 0, 0, NOFF, "No effect."},
    {"CIRCUIT_BREAKER_FAILURE_THRESHOLD", CT_INERT, "5", 0, 0, NOFF, "Not yet implemented."},
    {"CIRCUIT_BREAKER_RECOVERY_TIMEOUT", CT_INERT, "60", 0, 0, NOFF, "Not yet implemented."},
    {"CIRCUIT_BREAKER_HALF_OPEN_REQUESTS", CT_INERT, "3", 0, 0, NOFF, "Not yet implemented."},
    {"TRACING_ENABLED", CT_INERT, "false", 0, 0, NOFF, "No effect."},
    {"TRACING_EXPORTER", CT_INERT, "console", 0, 0, NOFF, "No effect."},
    {"TRACING_ENDPOINT", CT_INERT, "", 0, 0, NOFF, "No effect."},
    {"TRACING_SERVICE_NAME", CT_INERT, "ccproxy", 0, 0, NOFF, "No effect."},
    {"CLIENT_RATE_LIMIT_ENABLED", CT_INERT, "false", 0, 0, NOFF, "Not yet implemented."},
    {"CLIENT_RATE_LIMIT_RPM", CT_INERT, "120", 0, 0, NOFF, "Not yet implemented."},
    {"CLIENT_RATE_LIMIT_TPM", CT_INERT, "6000000", 0, 0, NOFF, "Not yet implemented."},
    {"CLIENT_RATE_LIMIT_BURST", CT_INERT, "30", 0, 0, NOFF, "Not yet implemented."},
    {"CLIENT_RATE_LIMIT_ADAPTIVE", CT_INERT, "true", 0, 0, NOFF, "Not yet implemented."},
    {"THREAD_POOL_AUTO_SCALE", CT_INERT, "false", 0, 0, NOFF, "No effect: see WORKER_THREADS."},
};

/* Values collected from the env file and the environment, by table index. */
struct conf_raw {
    char *val[CCP_ARRAY_LEN(conf_vars)];
};

static void raw_release(struct conf_raw *r)
{
    size_t i;

    for (i = 0; i < CCP_ARRAY_LEN(conf_vars); i++) {
        CCP_FREE(r->val[i]);
    }
}

static int var_index(const char *name, size_t n)
{
    size_t i;

    for (i = 0; i < CCP_ARRAY_LEN(conf_vars); i++) {
        if (strlen(conf_vars[i].name) == n && memcmp(conf_vars[i].name, name, n) == 0) {
            return (int)i;
        }
    }
    return -1;
}

static enum ccp_err raw_set(struct conf_raw *r, int idx, const char *v, size_t n)
{
    char *copy = ccp_strndup(v, n);

    if (copy == NULL) {
        return CCP_ERR_NOMEM;
    }
    ccp_free(r->val[idx]);
    r->val[idx] = copy;
    return CCP_OK;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* Parse one env-file line: [export ]NAME=VALUE with optional quotes and
 * comments. Unknown names are ignored (the file may serve other programs). */
static enum ccp_err parse_line(struct conf_raw *r, const char *p, const char *end)
{
    const char *name, *v, *ve;
    int idx;

    while (p < end && is_space(*p)) {
        p++;
    }
    if (p == end || *p == '#') {
        return CCP_OK;
    }
    if ((size_t)(end - p) > 7 && memcmp(p, "export ", 7) == 0) {
        p += 7;
        while (p < end && is_space(*p)) {
            p++;
        }
    }
    name = p;
    while (p < end && *p != '=' && !is_space(*p)) {
        p++;
    }
    idx = var_index(name, (size_t)(p - name));
    while (p < end && is_space(*p)) {
        p++;
    }
    if (p == end || *p != '=' || idx < 0) {
        return CCP_OK;
    }
    p++;
    while (p < end && is_space(*p)) {
        p++;
    }
    if (p < end && (*p == '"' || *p == '\'')) {
        char q = *p++;
        v = p;
        while (p < end && *p != q) {
            p++;
        }
        ve = p;
    } else {
        v = p;
        ve = p;
        while (p < end) {
            if (*p == '#' && (p == v || is_space(p[-1]))) {
                break;
            }
            p++;
        }
        ve = p;
        while (ve > v && is_space(ve[-1])) {
            ve--;
        }
    }
    return raw_set(r, idx, v, (size_t)(ve - v));
}

static enum ccp_err read_env_file(struct conf_raw *r, const char *path, char *errmsg, size_t errlen)
{
    FILE *f;
    char *data = NULL;
    long n;
    enum ccp_err rc = CCP_OK;
    const char *p, *end, *nl;

    f = fopen(path, "rb");
    if (f == NULL) {
        return CCP_DECLINED;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
        n > 1024 * 1024) {
        snprintf(errmsg, errlen, "env file %s: unreadable or larger than 1 MiB", path);
        rc = CCP_ERR_INVALID;
        goto out;
    }
    data = ccp_malloc((size_t)n + 1);
    if (data == NULL) {
        rc = CCP_ERR_NOMEM;
        goto out;
    }
    if (fread(data, 1, (size_t)n, f) != (size_t)n) {
        snprintf(errmsg, errlen, "env file %s: read error", path);
        rc = CCP_ERR_INVALID;
        goto out;
    }
    data[n] = '\0';
    p = data;
    end = data + n;
    while (p < end && rc == CCP_OK) {
        nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL) {
            nl = end;
        }
        rc = parse_line(r, p, nl);
        p = nl + 1;
    }
out:
    ccp_free(data);
    fclose(f);
    return rc;
}

static bool parse_bool(const char *s, bool *out)
{
    if (strcasecmp(s, "1") == 0 || strcasecmp(s, "true") == 0 || strcasecmp(s, "yes") == 0 ||
        strcasecmp(s, "on") == 0) {
        *out = true;
        return true;
    }
    if (strcasecmp(s, "0") == 0 || strcasecmp(s, "false") == 0 || strcasecmp(s, "no") == 0 ||
        strcasecmp(s, "off") == 0) {
        *out = false;
        return true;
    }
    return false;
}

static enum ccp_err set_value(struct conf *c, const struct conf_var *v, const char *s, char *errmsg,
                              size_t errlen)
{
    char *endp = NULL, *copy;
    void *field = (char *)c + v->off;

    switch (v->type) {
    case CT_INERT:
        return CCP_OK;
    case CT_URL:
        if (strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0) {
            snprintf(errmsg, errlen, "%s must start with http:// or https://", v->name);
            return CCP_ERR_INVALID;
        }
        /* fall through */
    case CT_STR:
    case CT_STR_OPT:
    case CT_SECRET: {
        size_t n = strlen(s);
        if (v->type == CT_URL) {
            while (n > 0 && s[n - 1] == '/') {
                n--;
            }
        }
        if (v->type != CT_SECRET && v->type != CT_STR_OPT && n == 0 && v->def != NULL &&
            v->def[0] != '\0') {
            snprintf(errmsg, errlen, "%s must not be empty", v->name);
            return CCP_ERR_INVALID;
        }
        copy = ccp_strndup(s, n);
        if (copy == NULL) {
            return CCP_ERR_NOMEM;
        }
        ccp_free(*(char **)field);
        *(char **)field = copy;
        return CCP_OK;
    }
    case CT_BOOL:
        if (!parse_bool(s, (bool *)field)) {
            snprintf(errmsg, errlen, "%s must be true or false, not '%s'", v->name, s);
            return CCP_ERR_INVALID;
        }
        return CCP_OK;
    case CT_LOGLEVEL: {
        int lv = log_level_parse(s);
        if (lv < 0) {
            snprintf(errmsg, errlen, "%s must be DEBUG, INFO, WARNING or ERROR, not '%s'", v->name,
                     s);
            return CCP_ERR_INVALID;
        }
        *(int *)field = lv;
        return CCP_OK;
    }
    case CT_LONG:
    case CT_SIZE: {
        unsigned long long u;
        if (s[0] == '-' || s[0] == '\0') {
            goto bad_number;
        }
        errno = 0;
        u = strtoull(s, &endp, 10);
        if (errno != 0 || endp == s || *endp != '\0' || (double)u < v->min || (double)u > v->max) {
            goto bad_number;
        }
        if (v->type == CT_LONG) {
            if (v->off == offsetof(struct conf, max_json_depth)) {
                *(int *)field = (int)u;
            } else {
                *(long *)field = (long)u;
            }
        } else {
            *(size_t *)field = (size_t)u;
        }
        return CCP_OK;
    }
    case CT_DOUBLE: {
        double d;
        errno = 0;
        d = strtod(s, &endp);
        if (errno != 0 || endp == s || *endp != '\0' || !isfinite(d) || d < v->min || d > v->max) {
            goto bad_number;
        }
        *(double *)field = d;
        return CCP_OK;
    }
    }
    return CCP_ERR_INTERNAL;
bad_number:
    snprintf(errmsg, errlen, "%s must be a number from %g to %g, not '%s'", v->name, v->min, v->max,
             s);
    return CCP_ERR_INVALID;
}

static enum ccp_err append_name(char **list, const char *name)
{
    size_t a = *list != NULL ? strlen(*list) : 0, b = strlen(name);
    char *p = ccp_realloc(*list, a + b + 2);

    if (p == NULL) {
        return CCP_ERR_NOMEM;
    }
    if (a > 0) {
        p[a++] = ',';
    }
    memcpy(p + a, name, b + 1);
    *list = p;
    return CCP_OK;
}

static enum ccp_err read_key_file(struct conf *c, const char *path, char *errmsg, size_t errlen)
{
    char line[4096];
    FILE *f = fopen(path, "r");
    size_t n;

    if (f == NULL) {
        snprintf(errmsg, errlen, "OPENAI_API_KEY_FILE: cannot open %s", path);
        return CCP_ERR_INVALID;
    }
    if (fgets(line, sizeof(line), f) == NULL) {
        line[0] = '\0';
    }
    fclose(f);
    n = strcspn(line, "\r\n");
    line[n] = '\0';
    if (n == 0) {
        snprintf(errmsg, errlen, "OPENAI_API_KEY_FILE: %s is empty", path);
        return CCP_ERR_INVALID;
    }
    CCP_FREE(c->openai_api_key);
    c->openai_api_key = ccp_strndup(line, n);
    return c->openai_api_key != NULL ? CCP_OK : CCP_ERR_NOMEM;
}

/* UPSTREAM_MULTI: true, false or auto (see its help); sets upstream_multi. */
static enum ccp_err check_upstream_multi(struct conf *c, char *errmsg, size_t errlen)
{
    const char *m = c->upstream_multi_mode != NULL ? c->upstream_multi_mode : "auto";
    const char *u = c->openai_base_url;

    if (strcasecmp(m, "auto") == 0) {
        c->upstream_multi = c->http2 && u != NULL && strncasecmp(u, "https://", 8) == 0;
        return CCP_OK;
    }
    if (!parse_bool(m, &c->upstream_multi)) {
        snprintf(errmsg, errlen, "UPSTREAM_MULTI must be true, false or auto, not '%s'", m);
        return CCP_ERR_INVALID;
    }
    return CCP_OK;
}

/* The count_tokens variables that have a fixed set of values. */
static enum ccp_err check_count_tokens(const struct conf *c, char *errmsg, size_t errlen)
{
    const char *e = c->token_count_encoding, *u = c->count_tokens_upstream_url;

    if (e != NULL && strcmp(e, "auto") != 0 && strcmp(e, "o200k_base") != 0 &&
        strcmp(e, "cl100k_base") != 0) {
        snprintf(errmsg, errlen,
                 "TOKEN_COUNT_ENCODING must be auto, o200k_base or cl100k_base, "
                 "not '%s'",
                 e);
        return CCP_ERR_INVALID;
    }
    if (u != NULL && u[0] != '\0' && strncmp(u, "http://", 7) != 0 &&
        strncmp(u, "https://", 8) != 0) {
        snprintf(errmsg, errlen, "COUNT_TOKENS_UPSTREAM_URL must start with http:// or https://");
        return CCP_ERR_INVALID;
    }
    if (c->count_tokens_upstream && (u == NULL || u[0] == '\0')) {
        snprintf(errmsg, errlen, "COUNT_TOKENS_UPSTREAM=true needs COUNT_TOKENS_UPSTREAM_URL");
        return CCP_ERR_INVALID;
    }
    return CCP_OK;
}

enum ccp_err conf_load_from(struct conf *c, const char *env_file, const char *const *envp,
                            char *errmsg, size_t errlen)
{
    struct conf_raw raw;
    struct conf tmp;
    enum ccp_err rc = CCP_OK;
    size_t i;
    int keyfile = var_index("OPENAI_API_KEY_FILE", strlen("OPENAI_API_KEY_FILE"));

    memset(&raw, 0, sizeof(raw));
    memset(&tmp, 0, sizeof(tmp));
    if (errlen > 0) {
        errmsg[0] = '\0';
    }
    if (env_file != NULL) {
        rc = read_env_file(&raw, env_file, errmsg, errlen);
        if (rc == CCP_DECLINED) {
            rc = CCP_OK;
        }
        if (rc != CCP_OK) {
            goto out;
        }
    }
    for (; envp != NULL && *envp != NULL && rc == CCP_OK; envp++) {
        const char *eq = strchr(*envp, '=');
        int idx;
        if (eq == NULL) {
            continue;
        }
        idx = var_index(*envp, (size_t)(eq - *envp));
        if (idx >= 0) {
            rc = raw_set(&raw, idx, eq + 1, strlen(eq + 1));
        }
    }
    for (i = 0; i < CCP_ARRAY_LEN(conf_vars) && rc == CCP_OK; i++) {
        const struct conf_var *v = &conf_vars[i];
        const char *s = raw.val[i] != NULL ? raw.val[i] : v->def;
        if (s != NULL) {
            rc = set_value(&tmp, v, s, errmsg, errlen);
        }
    }
    for (i = 0; i < CCP_ARRAY_LEN(conf_vars) && rc == CCP_OK; i++) {
        if (conf_vars[i].type == CT_INERT && (int)i != keyfile && raw.val[i] != NULL) {
            rc = append_name(&tmp.inert_set, conf_vars[i].name);
        }
    }
    if (rc == CCP_OK && raw.val[keyfile] != NULL && raw.val[keyfile][0] != '\0') {
        rc = read_key_file(&tmp, raw.val[keyfile], errmsg, errlen);
    }
    if (rc == CCP_OK) {
        rc = check_count_tokens(&tmp, errmsg, errlen);
    }
    if (rc == CCP_OK) {
        rc = check_upstream_multi(&tmp, errmsg, errlen);
    }
    if (rc == CCP_OK) {
        *c = tmp;
        memset(&tmp, 0, sizeof(tmp));
    } else if (rc == CCP_ERR_NOMEM && errlen > 0) {
        snprintf(errmsg, errlen, "out of memory reading the configuration");
    }
out:
    conf_release(&tmp);
    raw_release(&raw);
    return rc;
}

enum ccp_err conf_load(struct conf *c, const char *env_file, char *errmsg, size_t errlen)
{
    const char *f = env_file;
    char *named = NULL;
    enum ccp_err rc;
    char *const *e;

    if (f == NULL) {
        /* CCPROXY_ENV_FILE names the file; read it straight from environ */
        for (e = environ; e != NULL && *e != NULL; e++) {
            if (strncmp(*e, "CCPROXY_ENV_FILE=", 17) == 0 && (*e)[17] != '\0') {
                named = *e + 17;
            }
        }
        f = named != NULL ? named : ".env";
        if (named != NULL && access(named, R_OK) != 0) {
            snprintf(errmsg, errlen, "CCPROXY_ENV_FILE: cannot read %s", named);
            return CCP_ERR_INVALID;
        }
    }
    rc = conf_load_from(c, f, (const char *const *)environ, errmsg, errlen);
    return rc;
}

void conf_release(struct conf *c)
{
    CCP_FREE(c->openai_api_key);
    CCP_FREE(c->openai_base_url);
    CCP_FREE(c->big_model);
    CCP_FREE(c->small_model);
    CCP_FREE(c->inert_set);
    CCP_FREE(c->memcached_servers);
    CCP_FREE(c->metrics_shm_path);
    CCP_FREE(c->pricing_file);
    CCP_FREE(c->openai_ca_bundle);
    if (c->admin_api_key != NULL) {
        explicit_bzero(c->admin_api_key, strlen(c->admin_api_key));
    }
    CCP_FREE(c->admin_api_key);
    if (c->client_api_keys != NULL) {
        explicit_bzero(c->client_api_keys, strlen(c->client_api_keys));
    }
    CCP_FREE(c->client_api_keys);
    CCP_FREE(c->client_api_keys_file);
    CCP_FREE(c->allowed_base_url_hosts);
    CCP_FREE(c->model_rules);
    CCP_FREE(c->coord_addresses);
    CCP_FREE(c->tokenizer_data_dir);
    CCP_FREE(c->token_count_encoding);
    CCP_FREE(c->upstream_multi_mode);
    CCP_FREE(c->count_tokens_upstream_url);
}

static enum ccp_err describe_one(const struct conf *c, const struct conf_var *v, struct buf *out)
{
    const void *field = (const char *)c + v->off;

    switch (v->type) {
    case CT_INERT:
        return CCP_OK;
    case CT_SECRET: {
        const char *s = *(char *const *)field;
        return buf_appendf(out, "%s=%s\n", v->name,
                           s != NULL && s[0] != '\0' ? "(set, redacted)" : "(empty)");
    }
    case CT_STR:
    case CT_STR_OPT:
    case CT_URL:
        return buf_appendf(out, "%s=%s\n", v->name, *(char *const *)field);
    case CT_BOOL:
        return buf_appendf(out, "%s=%s\n", v->name, *(const bool *)field ? "true" : "false");
    case CT_LOGLEVEL: {
        static const char *const names[] = {"ERROR", "WARNING", "INFO", "DEBUG"};
        int lv = *(const int *)field;
        return buf_appendf(out, "%s=%s\n", v->name, names[lv < 0 || lv > 3 ? 2 : lv]);
    }
    case CT_LONG:
        if (v->off == offsetof(struct conf, max_json_depth)) {
            return buf_appendf(out, "%s=%d\n", v->name, *(const int *)field);
        }
        return buf_appendf(out, "%s=%ld\n", v->name, *(const long *)field);
    case CT_SIZE:
        return buf_appendf(out, "%s=%zu\n", v->name, *(const size_t *)field);
    case CT_DOUBLE:
        return buf_appendf(out, "%s=%g\n", v->name, *(const double *)field);
    }
    return CCP_ERR_INTERNAL;
}

enum ccp_err conf_describe(const struct conf *c, struct buf *out)
{
    size_t i;
    enum ccp_err rc = CCP_OK;

    for (i = 0; i < CCP_ARRAY_LEN(conf_vars) && rc == CCP_OK; i++) {
        rc = describe_one(c, &conf_vars[i], out);
    }
    return rc;
}

enum ccp_err conf_example(struct buf *out)
{
    size_t i;
    enum ccp_err rc;

    rc = buf_append_cstr(out, "# CCProxy configuration. Generated from common/conf.c by\n"
                              "# `ccproxy-fcgi --print-env-example`; every variable with its "
                              "default.\n"
                              "# Read from CCPROXY_ENV_FILE (default .env in the working "
                              "directory),\n"
                              "# then the process environment overrides it.\n");
    for (i = 0; i < CCP_ARRAY_LEN(conf_vars) && rc == CCP_OK; i++) {
        const struct conf_var *v = &conf_vars[i];
        rc = buf_appendf(out, "\n# %s\n%s=%s\n", v->help, v->name, v->def != NULL ? v->def : "");
    }
    return rc;
}
