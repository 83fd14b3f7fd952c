/* log: one line per event on stderr, "<time> <prog> <LEVEL> <message>".
 * Every program calls log_init() once; the level comes from --log-level or
 * RINGMQ_LOG_LEVEL (error, warn, info, debug; default info). */
#ifndef RINGMQ_LOG_H
#define RINGMQ_LOG_H

enum log_level { LOG_LEVEL_ERROR = 0, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/* prog is borrowed and must outlive the process (a string literal). */
void log_init(const char *prog, enum log_level level);
/* Parses "error".."debug"; returns -1 for anything else. */
int log_level_parse(const char *s);
int log_enabled(enum log_level level);
void log_write(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_write(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...) log_write(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_write(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) do { if (log_enabled(LOG_LEVEL_DEBUG)) log_write(LOG_LEVEL_DEBUG, __VA_ARGS__); } while (0)

#endif
