/* Owns reading process facts from /proc. */
#include "linux/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/cleanup.h"

/* Start time, and the state letter (R, S, Z, ...) in *state. */
static int64_t
read_stat (pid_t pid, char *state)
{
  char path[64], buf[1024];
  snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
  _cleanup_close_ int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 0;
  ssize_t n;
  do
    n = read (fd, buf, sizeof buf - 1);
  while (n < 0 && errno == EINTR);
  if (n <= 0)
    return 0;
  buf[n] = '\0';
  /* the command name (field 2) may hold spaces and parentheses: fields resume after the
   * last ')' */
  char *p = strrchr (buf, ')');
  if (!p)
    return 0;
  p++;
  *state = p[0] == ' ' ? p[1] : '?';
  /* p is at " S ppid ...": field 3 is the state; start time is field 22 */
  for (int field = 3; field < 22 && p; field++)
    p = strchr (p + 1, ' ');
  if (!p)
    return 0;
  return strtoll (p + 1, NULL, 10);
}

int64_t
proc_start_ticks (pid_t pid)
{
  char state;
  return read_stat (pid, &state);
}

bool
proc_is_alive (pid_t pid, int64_t start_ticks)
{
  if (pid <= 0)
    return false;
  char state = '?';
  int64_t now = read_stat (pid, &state);
  /* a zombie has finished: only its parent's wait is missing */
  return now != 0 && now == start_ticks && state != 'Z' && state != 'X';
}
