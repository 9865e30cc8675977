/* Owns parsing the times users give to --since / --until: RFC 3339 timestamps, Unix
 * seconds (with a fraction), or a duration back from now ("10m", "1h30m", "2.5s"). */
#include "timearg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int
parse_duration (const char *s, int64_t *out)
{
  double total = 0;
  const char *p = s;
  if (!*p)
    return -1;
  while (*p)
    {
      char *end;
      double v = strtod (p, &end);
      if (end == p)
        return -1;
      p = end;
      double unit;
      if (strncmp (p, "ms", 2) == 0)
        unit = 1e6, p += 2;
      else if (strncmp (p, "us", 2) == 0)
        unit = 1e3, p += 2;
      else if (strncmp (p, "ns", 2) == 0)
        unit = 1, p += 2;
      else if (*p == 'h')
        unit = 3600e9, p++;
      else if (*p == 'm')
        unit = 60e9, p++;
      else if (*p == 's')
        unit = 1e9, p++;
      else
        return -1;
      total += v * unit;
    }
  *out = (int64_t) total;
  return 0;
}

int64_t
cli_now_ns (void)
{
  struct timespec now;
  clock_gettime (CLOCK_REALTIME, &now);
  return (int64_t) now.tv_sec * 1000000000LL + now.tv_nsec;
}

int
cli_parse_time (const char *s, int64_t *out_ns)
{
  int64_t now_ns = cli_now_ns ();
  int64_t d;
  if (parse_duration (s, &d) == 0)
    {
      *out_ns = now_ns - d;
      return 0;
    }
  char *end;
  double seconds = strtod (s, &end);
  if (end != s && *end == '\0')
    {
      *out_ns = (int64_t) (seconds * 1e9);
      return 0;
    }
  struct tm tm = { 0 };
  const char *rest = strptime (s, "%Y-%m-%dT%H:%M:%S", &tm);
  if (!rest)
    {
      memset (&tm, 0, sizeof tm);
      rest = strptime (s, "%Y-%m-%d", &tm);
      if (!rest || *rest)
        return -1;
      *out_ns = (int64_t) timegm (&tm) * 1000000000LL;
      return 0;
    }
  int64_t frac = 0;
  if (*rest == '.')
    {
      rest++;
      int digits = 0;
      while (*rest >= '0' && *rest <= '9')
        {
          if (digits++ < 9)
            frac = frac * 10 + (*rest - '0');
          rest++;
        }
      for (; digits < 9; digits++)
        frac *= 10;
    }
  int64_t offset = 0;
  if (*rest == 'Z')
    rest++;
  else if (*rest == '+' || *rest == '-')
    {
      int hh, mm;
      if (sscanf (rest + 1, "%2d:%2d", &hh, &mm) != 2)
        return -1;
      offset = (hh * 3600 + mm * 60) * (*rest == '+' ? 1 : -1);
      rest += 6;
    }
  if (*rest)
    return -1;
  *out_ns = ((int64_t) timegm (&tm) - offset) * 1000000000LL + frac;
  return 0;
}
