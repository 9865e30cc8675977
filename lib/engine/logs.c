/* Owns reading a box's json-file log (written by its monitor): the rotated files oldest
 * first, filters by time, --tail, and following the live file while the box runs. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/lifecycle.h"
#include "store/boxes.h"
#include "util/json.h"

/* how often a followed log is checked for growth */
#define FOLLOW_POLL_US 50000

typedef struct log_record {
  box_log_stream stream;
  int64_t time_ns;
  char *bytes;
  size_t len;
} log_record;

/* "2026-11-22T13:01:13.123456789Z" -> ns since the epoch; 0 when malformed. */
static int64_t
parse_rfc3339 (const char *s)
{
  struct tm tm = { 0 };
  const char *rest = strptime (s, "%Y-%m-%dT%H:%M:%S", &tm);
  if (!rest)
    return 0;
  int64_t ns = 0;
  if (*rest == '.')
    {
      rest++;
      int digits = 0;
      while (*rest >= '0' && *rest <= '9')
        {
          if (digits < 9)
            {
              ns = ns * 10 + (*rest - '0');
              digits++;
            }
          rest++;
        }
      while (digits++ < 9)
        ns *= 10;
    }
  return (int64_t) timegm (&tm) * 1000000000LL + ns;
}

static int
parse_line (const char *line, size_t len, log_record *out)
{
  json_error_t jerr;
  _cleanup_json_ json_t *o = json_loadb (line, len, JSON_ALLOW_NUL, &jerr);
  if (!json_is_object (o))
    return -1;
  json_t *log = json_object_get (o, "log");
  const char *stream = json_string_value (json_object_get (o, "stream"));
  const char *time = json_string_value (json_object_get (o, "time"));
  if (!json_is_string (log) || !stream || !time)
    return -1;
  out->stream = strcmp (stream, "stderr") == 0 ? BOX_LOG_STDERR : BOX_LOG_STDOUT;
  out->time_ns = parse_rfc3339 (time);
  out->len = json_string_length (log);
  out->bytes = malloc (out->len + 1);
  if (!out->bytes)
    return -1;
  memcpy (out->bytes, json_string_value (log), out->len);
  out->bytes[out->len] = '\0';
  return 0;
}

typedef struct record_list {
  log_record *items;
  size_t n, cap;
} record_list;

static void
record_list_clear (record_list *l)
{
  for (size_t i = 0; i < l->n; i++)
    free (l->items[i].bytes);
  free (l->items);
  memset (l, 0, sizeof *l);
}

static bool
in_window (const box_logs_options *opts, int64_t t)
{
  if (opts->since_ns && t < opts->since_ns)
    return false;
  if (opts->until_ns && t > opts->until_ns)
    return false;
  return true;
}

/* Parses complete lines of buf into records (filtered); returns bytes consumed. */
static size_t
collect_lines (const char *buf, size_t len, const box_logs_options *opts, record_list *out)
{
  size_t start = 0;
  for (size_t i = 0; i < len; i++)
    {
      if (buf[i] != '\n')
        continue;
      log_record r;
      if (parse_line (buf + start, i - start, &r) == 0)
        {
          if (!in_window (opts, r.time_ns))
            free (r.bytes);
          else
            {
              if (out->n == out->cap)
                {
                  size_t cap = out->cap ? out->cap * 2 : 64;
                  log_record *bigger = realloc (out->items, cap * sizeof *bigger);
                  if (!bigger)
                    {
                      free (r.bytes);
                      return start;
                    }
                  out->items = bigger;
                  out->cap = cap;
                }
              out->items[out->n++] = r;
            }
        }
      start = i + 1;
    }
  return start;
}

static int
read_fd_from (int fd, off_t offset, char **out, size_t *out_len)
{
  struct stat st;
  if (fstat (fd, &st) < 0)
    return -errno;
  size_t len = st.st_size > offset ? (size_t) (st.st_size - offset) : 0;
  char *buf = malloc (len + 1);
  if (!buf)
    return -ENOMEM;
  size_t got = 0;
  while (got < len)
    {
      ssize_t n = pread (fd, buf + got, len - got, offset + (off_t) got);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      got += (size_t) n;
    }
  *out = buf;
  *out_len = got;
  return 0;
}

static int
emit (record_list *list, size_t from, box_log_callback callback, void *data)
{
  for (size_t i = from; i < list->n; i++)
    if (callback (data, list->items[i].stream, list->items[i].time_ns, list->items[i].bytes,
                  list->items[i].len))
      return 1;
  return 0;
}

int
box_box_logs (box_engine *eng, const char *ref, const box_logs_options *opts,
              box_log_callback callback, void *data, box_error **err)
{
  box_logs_options defaults = BOX_LOGS_OPTIONS_INIT;
  if (!opts)
    opts = &defaults;
  if (opts->version != BOX_LOGS_OPTIONS_VERSION)
    return box_err (err, BOX_E_INVALID, "box_logs_options: unknown version %u", opts->version);
  _cleanup_ (box_box_freep) box_box *box = NULL;
  if (engine_resolve_box (eng, ref, &box, err) < 0)
    return box_err_code (err);
  _cleanup_free_ char *dir = NULL;
  if (engine_box_dir (eng->root, box->id, &dir, err) < 0)
    return box_err_code (err);
  _cleanup_close_ int dir_fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0)
    return box_err_errno (err, errno, "logs of %s: open %s", ref, dir);

  record_list list = { 0 };
  /* rotated files, oldest (highest number) first */
  for (int i = 16; i >= 1; i--)
    {
      char name[64];
      snprintf (name, sizeof name, "%s.%d", ENGINE_LOG_FILE, i);
      _cleanup_close_ int fd = openat (dir_fd, name, O_RDONLY | O_CLOEXEC);
      if (fd < 0)
        continue;
      _cleanup_free_ char *buf = NULL;
      size_t len;
      if (read_fd_from (fd, 0, &buf, &len) == 0)
        collect_lines (buf, len, opts, &list);
    }
  _cleanup_close_ int live = openat (dir_fd, ENGINE_LOG_FILE, O_RDONLY | O_CLOEXEC);
  off_t offset = 0;
  if (live >= 0)
    {
      _cleanup_free_ char *buf = NULL;
      size_t len;
      if (read_fd_from (live, 0, &buf, &len) == 0)
        offset = (off_t) collect_lines (buf, len, opts, &list);
    }
  size_t from = 0;
  if (opts->tail >= 0 && (size_t) opts->tail < list.n)
    from = list.n - (size_t) opts->tail;
  int stop = emit (&list, from, callback, data);
  record_list_clear (&list);
  if (stop || !opts->follow)
    return 0;

  /* follow: read what the monitor appends until the box is no longer running */
  for (;;)
    {
      _cleanup_ (box_box_freep) box_box *now = NULL;
      int found = store_box_get_by_id (eng->store, box->id, &now, err);
      if (found < 0)
        return found;
      bool running = found > 0 && now->state == BOX_STATE_RUNNING;
      if (live < 0)
        live = openat (dir_fd, ENGINE_LOG_FILE, O_RDONLY | O_CLOEXEC);
      if (live >= 0)
        {
          /* rotated away under us: finish the old file, continue with the new one */
          struct stat by_fd, by_name;
          bool rotated = fstat (live, &by_fd) == 0
                         && (fstatat (dir_fd, ENGINE_LOG_FILE, &by_name, 0) < 0
                             || by_name.st_ino != by_fd.st_ino);
          _cleanup_free_ char *buf = NULL;
          size_t len;
          if (read_fd_from (live, offset, &buf, &len) == 0)
            {
              record_list fresh = { 0 };
              offset += (off_t) collect_lines (buf, len, opts, &fresh);
              stop = emit (&fresh, 0, callback, data);
              record_list_clear (&fresh);
              if (stop)
                return 0;
            }
          if (rotated)
            {
              close (live);
              live = -1;
              offset = 0;
              continue;
            }
        }
      if (!running)
        return 0;
      if (opts->until_ns && time (NULL) * 1000000000LL > opts->until_ns)
        return 0;
      usleep (FOLLOW_POLL_US);
    }
}
