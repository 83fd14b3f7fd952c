/* log: one line per event on stderr. Text (the default) is
 * "<time> <prog> <LEVEL> <message>"; json (--log-format json) is one object
 * a line: {"ts": ISO 8601 UTC with ms, "level", "prog", "msg"} and, for
 * log_event, "call_id", "user_id", "device_id" where known. Every program
 * calls log_init() once; the level comes from --log-level or
 * RINGMQ_LOG_LEVEL (error, warn, info, debug; default info). Level and
 * format may change later (SIGHUP): log_set_level, log_set_format. */
#ifndef RINGMQ_LOG_H
#define RINGMQ_LOG_H

enum log_level { LOG_LEVEL_ERROR = 0, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };
enum log_format { LOG_FORMAT_TEXT = 0, LOG_FORMAT_JSON };

#define LOG_LINE_MAX 4096 /* a message longer than this is cut */

/* prog is borrowed and must outlive the process (a string literal). */
void log_init(const char *prog, enum log_level level);
void log_set_level(enum log_level level);
void log_set_format(enum log_format format);
/* Parses "error".."debug"; returns -1 for anything else. */
int log_level_parse(const char *s);
/* Parses "text" or "json"; returns -1 for anything else. */
int log_format_parse(const char *s);
int log_enabled(enum log_level level);
void log_write(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* log_write with the ids an event is about (each may be NULL: not known).
 * Text lines show only the message (which names them anyway); json lines
 * carry them as fields. */
void log_event(enum log_level level, const char *call_id, const char *user_id, const char *device_id,
	       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#define log_error(...) log_write(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...) log_write(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_write(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) do { if (log_enabled(LOG_LEVEL_DEBUG)) log_write(LOG_LEVEL_DEBUG, __VA_ARGS__); } while (0)

#endif
