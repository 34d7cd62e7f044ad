/* Logging: one line per event to stderr (the web server's error log).
 * Never pass API keys, Authorization headers or bodies above LOG_DEBUG. */
#ifndef CCP_COMMON_LOG_H
#define CCP_COMMON_LOG_H

#include <stddef.h>

#include "common/compiler.h"

enum log_level { LOG_LEVEL_ERROR = 0, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/* Set the threshold and the output fd (normally 2). Not thread-safe: call
 * once at start-up. */
void log_init(enum log_level level, int fd);
enum log_level log_get_level(void);
/* Parse "DEBUG", "INFO", "WARNING"/"WARN", "ERROR" (any case). -1 if unknown. */
int log_level_parse(const char *s);
/* The request id shown in this thread's lines (copied; NULL clears). */
void log_set_request_id(const char *id);

/* Write one line as is (a newline is added) if level passes the threshold:
 * for structured lines such as the JSON request line. */
void log_line_raw(enum log_level level, const char *line, size_t n);

void log_msg(enum log_level level, const char *file, int line, const char *fmt, ...)
    CCP_PRINTF(4, 5) CCP_COLD;

#define LOG_ERROR(...) log_msg(LOG_LEVEL_ERROR, __FILE__, __LINE__, __VA_ARGS__)
#define LOG_WARN(...) log_msg(LOG_LEVEL_WARN, __FILE__, __LINE__, __VA_ARGS__)
#define LOG_INFO(...)                                                                              \
    do {                                                                                           \
        if (log_get_level() >= LOG_LEVEL_INFO) {                                                   \
            log_msg(LOG_LEVEL_INFO, __FILE__, __LINE__, __VA_ARGS__);                              \
        }                                                                                          \
    } while (0)
#define LOG_DEBUG(...)                                                                             \
    do {                                                                                           \
        if (log_get_level() >= LOG_LEVEL_DEBUG) {                                                  \
            log_msg(LOG_LEVEL_DEBUG, __FILE__, __LINE__, __VA_ARGS__);                             \
        }                                                                                          \
    } while (0)

#endif /* CCP_COMMON_LOG_H */
