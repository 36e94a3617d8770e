#include <stdarg.h>
#include <time.h>

#include "log.h"

static const char *const level_names[] = {"debug", "info", "warning", "error"};

void sc_log(const sc_logger_t *log, sc_log_level_t level, const char *fmt, ...) {
  if (log == NULL || level < log->level)
    return;
  struct timespec ts;
  struct tm tm;
  char stamp[32];
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
  /* Build the line first so that concurrent writers (several processes on one terminal)
   * do not interleave within a line. */
  char line[2048];
  int n = snprintf(line, sizeof(line), "%s.%03ldZ %s %s: ", stamp, ts.tv_nsec / 1000000L,
                   log->prog ? log->prog : "scopecast", level_names[level]);
  va_list ap;
  va_start(ap, fmt);
  if (n > 0 && (size_t)n < sizeof(line))
    vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
  va_end(ap);
  fprintf(log->out ? log->out : stderr, "%s\n", line);
  fflush(log->out ? log->out : stderr);
}
