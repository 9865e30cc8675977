/* Owns time reading and formatting. */
#include "util/timeutil.h"

#include <stdio.h>
#include <time.h>

int64_t
time_now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_REALTIME, &ts);
  return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t
time_monotonic_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
time_format_rfc3339 (int64_t ns, char *buf, size_t size)
{
  if (ns <= 0)
    {
      snprintf (buf, size, "0001-01-01T00:00:00Z");
      return;
    }
  time_t secs = (time_t) (ns / 1000000000LL);
  struct tm tm;
  gmtime_r (&secs, &tm);
  char date[32];
  strftime (date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf (buf, size, "%s.%09lldZ", date, (long long) (ns % 1000000000LL));
}
