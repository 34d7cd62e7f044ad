/* Configuration: one table of variables (common/conf.c) read once at start-up
 * from the env file, then the process environment, into a struct conf.
 * Variable names follow the original CCProxy's .env. Only conf.c calls getenv. */
#ifndef CCP_COMMON_CONF_H
#define CCP_COMMON_CONF_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/compiler.h"
#include "common/err.h"

struct conf {
    /* upstream */
    char *openai_api_key;          /* OPENAI_API_KEY (or OPENAI_API_KEY_FILE); secret */
    char *openai_base_url;         /* OPENAI_BASE_URL, without trailing slash */
    char *big_model;               /* BIG_MODEL_NAME */
    char *small_model;             /* SMALL_MODEL_NAME */
    double connect_timeout_s;      /* HTTP_CONNECT_TIMEOUT */
    double read_timeout_s;         /* HTTP_READ_TIMEOUT: longest silence from the upstream */
    double write_timeout_s;        /* HTTP_WRITE_TIMEOUT: sending the request body */
    double pool_timeout_s;         /* HTTP_POOL_TIMEOUT (accepted; see .env.example) */
    long max_stream_seconds;       /* MAX_STREAM_SECONDS: total time of one upstream call */
    long provider_max_retries;     /* PROVIDER_MAX_RETRIES */
    double retry_base_delay_s;     /* PROVIDER_RETRY_BASE_DELAY */
    double retry_jitter_s;         /* PROVIDER_RETRY_JITTER */
    double retry_after_max_s;      /* PROVIDER_RETRY_AFTER_MAX_S: longest retry-after waited out */
    bool retry_on_429;             /* PROVIDER_RETRY_ON_429 */
    long pool_max_connections;     /* POOL_MAX_CONNECTIONS */
    long pool_keepalive_s;         /* POOL_KEEPALIVE_EXPIRY */
    bool http2;                    /* UPSTREAM_HTTP2 */
    char *upstream_multi_mode;     /* UPSTREAM_MULTI: true, false or auto */
    bool upstream_multi;           /* what UPSTREAM_MULTI comes to: one multi handle per process */
    long upstream_max_connections; /* UPSTREAM_MAX_CONNECTIONS (multi only; 0: no limit) */
    char *openai_ca_bundle;        /* OPENAI_CA_BUNDLE (NULL or "": system CAs) */
    /* worker */
    long worker_threads;              /* WORKER_THREADS: FCGX_Accept_r threads per process */
    size_t max_body_bytes;            /* MAX_REQUEST_BODY_BYTES */
    int max_json_depth;               /* MAX_JSON_DEPTH */
    size_t max_upstream_bytes;        /* MAX_UPSTREAM_RESPONSE_BYTES (non-stream body) */
    size_t max_upstream_stream_bytes; /* MAX_UPSTREAM_STREAM_BYTES: all bytes of one stream */
    int log_level;                    /* LOG_LEVEL, an enum log_level */
    char *inert_set;                  /* "A,B": variables that were set but have no effect here */
    /* caches */
    char *memcached_servers;         /* MEMCACHED_SERVERS: "host:port,..."; empty: no memcached */
    long memcached_timeout_ms;       /* MEMCACHED_TIMEOUT_MS: connect/poll/send/recv timeout */
    bool memcached_set_noreply;      /* MEMCACHED_SET_NOREPLY: stores without a reply */
    bool response_cache_enabled;     /* RESPONSE_CACHE_ENABLED */
    long response_cache_ttl_s;       /* RESPONSE_CACHE_TTL_S */
    size_t response_cache_max_item;  /* RESPONSE_CACHE_MAX_ITEM_BYTES: memcached item limit */
    long response_cache_lru_max;     /* RESPONSE_CACHE_LRU_MAX: in-process entries, 0: none */
    size_t response_cache_lru_bytes; /* RESPONSE_CACHE_LRU_BYTES */
    bool token_counts_cache_enabled; /* CACHE_TOKEN_COUNTS_ENABLED */
    long token_counts_ttl_s;         /* CACHE_TOKEN_COUNTS_TTL_S */
    long token_counts_max;           /* CACHE_TOKEN_COUNTS_MAX: in-process entries */
    /* metrics and admin endpoints */
    char *metrics_shm_path;    /* METRICS_SHM_PATH: shared metrics file; empty: automatic */
    char *pricing_file;        /* PRICING_FILE: JSON prices over the built-in ones; empty: none */
    char *admin_api_key;       /* ADMIN_API_KEY: secret for /v1/metrics, /metrics, /status */
    bool admin_localhost_only; /* ADMIN_LOCALHOST_ONLY: admin endpoints for loopback clients */
    /* hardening: request limits, client keys, upstream URL, rate limits */
    size_t max_messages;          /* MAX_MESSAGES (0: none) */
    size_t max_content_blocks;    /* MAX_CONTENT_BLOCKS (0: none) */
    size_t max_string_bytes;      /* MAX_STRING_BYTES (0: none) */
    size_t max_sse_line_bytes;    /* MAX_SSE_LINE_BYTES */
    char *client_api_keys;        /* CLIENT_API_KEYS: "k1,k2"; secret */
    char *client_api_keys_file;   /* CLIENT_API_KEYS_FILE: SHA-256 hex lines */
    bool restrict_base_url;       /* RESTRICT_BASE_URL */
    char *allowed_base_url_hosts; /* ALLOWED_BASE_URL_HOSTS: "h1,h2" */
    bool rate_limit_enabled;      /* RATE_LIMIT_ENABLED */
    long rate_limit_per_minute;   /* RATE_LIMIT_PER_MINUTE */
    long rate_limit_burst;        /* RATE_LIMIT_BURST: per second (0: none) */
    long rate_limit_tpm;          /* RATE_LIMIT_TOKENS_PER_MINUTE (0: none) */
    /* Claude Code conformance */
    char *model_rules;      /* MODEL_RULES: tr_model_rules_parse text; "" for none */
    bool upstream_user;     /* UPSTREAM_USER_ENABLED: send `user` */
    bool prompt_cache_key;  /* PROMPT_CACHE_KEY_ENABLED: send `prompt_cache_key` */
    double ping_interval_s; /* PING_INTERVAL_S: SSE ping after this much silence; 0 off */
    /* streaming fan-out (ccproxy-coordd) */
    bool stream_dedupe_enabled;    /* STREAM_DEDUPE_ENABLED */
    char *coord_addresses;         /* COORD_ADDRESSES: "addr,addr"; empty: no coalescing */
    long coord_connect_timeout_ms; /* COORD_CONNECT_TIMEOUT_MS: connect + JOIN */
    long coord_follower_wait_ms;   /* COORD_FOLLOWER_WAIT_MS: wait for the first event */
    /* count_tokens */
    char *tokenizer_data_dir;        /* TOKENIZER_DATA_DIR: rank tables; "": built-in dirs */
    char *token_count_encoding;      /* TOKEN_COUNT_ENCODING: auto, o200k_base, cl100k_base */
    bool count_tokens_upstream;      /* COUNT_TOKENS_UPSTREAM */
    char *count_tokens_upstream_url; /* COUNT_TOKENS_UPSTREAM_URL; "": none */
};

/* Load the configuration. `env_file` is read first if it exists (NULL: the
 * CCPROXY_ENV_FILE variable, else ".env" in the current directory); the
 * process environment overrides it. On failure returns CCP_ERR_INVALID and
 * writes a message naming the variable into errmsg. *c is owned by the
 * caller; free it with conf_release. */
CCP_NODISCARD enum ccp_err conf_load(struct conf *c, const char *env_file, char *errmsg,
                                     size_t errlen);
/* Like conf_load, but from an env file and a NULL-terminated environ-style
 * array instead of the real environment (tests). */
CCP_NODISCARD enum ccp_err conf_load_from(struct conf *c, const char *env_file,
                                          const char *const *envp, char *errmsg, size_t errlen);
/* Release the strings held by c. Safe on a zeroed struct. */
void conf_release(struct conf *c);
/* Append the effective configuration, one NAME=value per line, secrets
 * redacted, to out. */
CCP_NODISCARD enum ccp_err conf_describe(const struct conf *c, struct buf *out);
/* Append a .env.example generated from the table to out. */
CCP_NODISCARD enum ccp_err conf_example(struct buf *out);

#endif /* CCP_COMMON_CONF_H */
