/* Owns reading a box's json-file log (written by its monitor): the rotated files oldest
 * first, filters by time, --tail, and following the live file while the box runs. A
 * follower sleeps on inotify of the box's directory (the monitor appends to json.log, and
 * rotates it by renaming json.log to json.log.1 and creating a new one) and on a pidfd of the
 * box's monitor: when the monitor is gone, everything it wrote is read and the follow ends.
 * Files are told apart by inode, so a rotation between two reads neither repeats nor skips
 * a record. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "engine/lifecycle.h"
#include "linux/proc.h"
#include "store/boxes.h"
#include "util/json.h"
#include "util/timeutil.h"

/* json.log.1 .. json.log.16: the most --log-opt max-file allows (16 files, the live one
 * included, so 15 rotated; one more is looked at for safety) */
#define LOG_ROTATED_MAX 16
/* The safety net of a follower: it looks again after this long even when nothing woke it
 * (without a pidfd of the monitor, this is how it notices the box has stopped). */
#define FOLLOW_FALLBACK_MS 1000

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

static void
log_file_name (int index, char name[32])
{
  if (index == 0)
    snprintf (name, 32, "%s", ENGINE_LOG_FILE);
  else
    snprintf (name, 32, "%s.%d", ENGINE_LOG_FILE, index);
}

/* The inode a log file name stands for now; 0 when there is none. */
static ino_t
inode_of (int dir_fd, int index)
{
  char name[32];
  log_file_name (index, name);
  struct stat st;
  return fstatat (dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 ? st.st_ino : 0;
}

static int
open_log_file (int dir_fd, int index)
{
  char name[32];
  log_file_name (index, name);
  return openat (dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
}

static ino_t
inode_of_fd (int fd)
{
  struct stat st;
  return fd >= 0 && fstat (fd, &st) == 0 ? st.st_ino : 0;
}

/* The log as it is at one instant: every file open, oldest first (rotated[LOG_ROTATED_MAX]
 * .. rotated[1], then live). A rotation while the files are opened shifts the names under
 * us; it is seen (json.log and json.log.1 name other files after than before) and the files
 * are opened again. */
typedef struct log_snapshot {
  int rotated[LOG_ROTATED_MAX + 1]; /* index 0 unused */
  int live;
} log_snapshot;

static void
log_snapshot_close (log_snapshot *snap)
{
  for (int i = 1; i <= LOG_ROTATED_MAX; i++)
    if (snap->rotated[i] >= 0)
      close (snap->rotated[i]);
  if (snap->live >= 0)
    close (snap->live);
}

static void
log_snapshot_open (int dir_fd, log_snapshot *snap)
{
  /* a writer rotates at most once per record: a few tries always find a quiet moment */
  for (int attempt = 0;; attempt++)
    {
      ino_t live_before = inode_of (dir_fd, 0), first_before = inode_of (dir_fd, 1);
      snap->live = open_log_file (dir_fd, 0);
      for (int i = LOG_ROTATED_MAX; i >= 1; i--)
        snap->rotated[i] = open_log_file (dir_fd, i);
      bool steady = inode_of_fd (snap->live) == live_before && inode_of (dir_fd, 0) == live_before
                    && inode_of (dir_fd, 1) == first_before;
      if (steady || attempt == 100)
        return;
      log_snapshot_close (snap);
    }
}

/* What a follower holds: the file it reads (by fd, so a rename does not matter) and how far
 * it has read it (whole records only). */
typedef struct log_follower {
  int dir_fd;
  int fd; /* -1: no log file yet */
  off_t offset;
  const box_logs_options *opts;
  box_log_callback callback;
  void *data;
} log_follower;

/* Emits the whole records appended to the followed file since the last read; 1 when the
 * callback asked to stop. */
static int
follower_read (log_follower *f)
{
  _cleanup_free_ char *buf = NULL;
  size_t len;
  if (f->fd < 0 || read_fd_from (f->fd, f->offset, &buf, &len) < 0)
    return 0;
  record_list fresh = { 0 };
  f->offset += (off_t) collect_lines (buf, len, f->opts, &fresh);
  int stop = emit (&fresh, 0, f->callback, f->data);
  record_list_clear (&fresh);
  return stop;
}

/* Once the followed file has been rotated away (the writer closes it before renaming it, so
 * it is complete): the file written after it, found by where the followed inode went.
 * 1 and *out_fd, or 0 when it cannot be opened yet (json.log is created right after the
 * rename) or the followed file is still the live one. */
static int
follower_successor (log_follower *f, int *out_fd)
{
  ino_t current = inode_of_fd (f->fd);
  for (int attempt = 0; attempt < 100; attempt++)
    {
      if (f->fd >= 0 && inode_of (f->dir_fd, 0) == current)
        return 0;
      int at = 0;
      for (int i = 1; i <= LOG_ROTATED_MAX && f->fd >= 0; i++)
        if (inode_of (f->dir_fd, i) == current)
          {
            at = i;
            break;
          }
      int next = 0;
      if (at > 0)
        next = at - 1;
      else if (f->fd >= 0)
        {
          /* deleted (the oldest file, or max-file 1): whatever is left is newer than it,
             and the oldest of that comes next */
          for (int i = LOG_ROTATED_MAX; i >= 1 && next == 0; i--)
            if (inode_of (f->dir_fd, i) != 0)
              next = i;
        }
      int fd = open_log_file (f->dir_fd, next);
      if (fd < 0)
        return 0;
      /* the names shifted again while we looked: look again */
      if (at > 0 && inode_of (f->dir_fd, at) != current)
        {
          close (fd);
          continue;
        }
      *out_fd = fd;
      return 1;
    }
  return 0;
}

/* Reads everything written so far, following rotations; 1 when the callback asked to stop. */
static int
follower_catch_up (log_follower *f)
{
  for (;;)
    {
      if (follower_read (f))
        return 1;
      int next = -1;
      if (!follower_successor (f, &next))
        return 0;
      if (f->fd >= 0)
        {
          /* complete: anything still unread was appended before the rename */
          if (follower_read (f))
            {
              close (next);
              return 1;
            }
          close (f->fd);
        }
      f->fd = next;
      f->offset = 0;
    }
}

/* *out_fd: a pidfd of the box's monitor, or -1 when it is gone (or the box is not running:
 * *gone) or cannot be watched (not *gone: the store is asked now and then instead). */
static int
monitor_pidfd (box_engine *eng, const char *id, int *out_fd, bool *gone, box_error **err)
{
  *out_fd = -1;
  *gone = false;
  _cleanup_ (box_box_freep) box_box *now = NULL;
  int found = store_box_get_by_id (eng->store, id, &now, err);
  if (found < 0)
    return found;
  if (found == 0 || now->state != BOX_STATE_RUNNING)
    {
      *gone = true;
      return 0;
    }
  store_box_monitor monitor = { 0 };
  if (store_box_get_monitor (eng->store, id, &monitor, err) < 0)
    return box_err_code (err);
  if (monitor.pid <= 0)
    return 0;
  _cleanup_close_ int fd = (int) syscall (SYS_pidfd_open, monitor.pid, 0);
  /* the pid could name a later process: the pidfd is the monitor's only if the monitor
     still lives now that the pidfd is held */
  if ((fd < 0 && errno == ESRCH) || !proc_is_alive (monitor.pid, monitor.start_ticks))
    {
      *gone = true;
      return 0;
    }
  *out_fd = TAKE_FD (fd);
  return 0;
}

static int
box_still_running (box_engine *eng, const char *id, bool *running, box_error **err)
{
  _cleanup_ (box_box_freep) box_box *now = NULL;
  int found = store_box_get_by_id (eng->store, id, &now, err);
  if (found < 0)
    return found;
  *running = found > 0 && now->state == BOX_STATE_RUNNING;
  return 0;
}

static void
drain_inotify (int fd)
{
  char buf[4096] __attribute__ ((aligned (__alignof__(struct inotify_event))));
  for (;;)
    {
      ssize_t n = read (fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return;
    }
}

/* Follows the log while the box's monitor lives, then reads what it left and returns. */
static int
follow (box_engine *eng, const char *id, const char *dir, log_follower *f, box_error **err)
{
  /* the watch first: whatever is written after it wakes us, whatever before is read by the
     first catch-up */
  _cleanup_close_ int inotify_fd = inotify_init1 (IN_CLOEXEC | IN_NONBLOCK);
  if (inotify_fd >= 0
      && inotify_add_watch (inotify_fd, dir,
                            IN_MODIFY | IN_CREATE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE
                                | IN_ONLYDIR)
             < 0)
    {
      close (inotify_fd);
      inotify_fd = -1;
    }
  bool gone = false;
  _cleanup_close_ int pidfd = -1;
  if (monitor_pidfd (eng, id, &pidfd, &gone, err) < 0)
    return box_err_code (err);
  for (;;)
    {
      if (follower_catch_up (f))
        return 0;
      if (gone)
        return 0; /* the monitor is gone: what it wrote has just been read */
      int timeout_ms = inotify_fd >= 0 && pidfd >= 0 ? -1 : FOLLOW_FALLBACK_MS;
      if (f->opts->until_ns)
        {
          int64_t left_ms = (f->opts->until_ns - time_now_ns ()) / 1000000 + 1;
          if (left_ms <= 0)
            return 0;
          if (timeout_ms < 0 || left_ms < timeout_ms)
            timeout_ms = (int) (left_ms > 1000000 ? 1000000 : left_ms);
        }
      struct pollfd fds[2]
          = { { .fd = inotify_fd, .events = POLLIN }, { .fd = pidfd, .events = POLLIN } };
      int n;
      do
        n = poll (fds, 2, timeout_ms);
      while (n < 0 && errno == EINTR);
      if (n < 0)
        return box_err_errno (err, errno, "follow the log of %s", id);
      if (inotify_fd >= 0 && (fds[0].revents & POLLIN))
        drain_inotify (inotify_fd);
      if (pidfd >= 0)
        gone = (fds[1].revents & (POLLIN | POLLHUP)) != 0;
      else
        {
          bool running = false;
          if (box_still_running (eng, id, &running, err) < 0)
            return box_err_code (err);
          gone = !running;
        }
    }
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

  log_snapshot snap;
  log_snapshot_open (dir_fd, &snap);
  record_list list = { 0 };
  for (int i = LOG_ROTATED_MAX; i >= 1; i--)
    {
      _cleanup_free_ char *buf = NULL;
      size_t len;
      if (snap.rotated[i] >= 0 && read_fd_from (snap.rotated[i], 0, &buf, &len) == 0)
        collect_lines (buf, len, opts, &list);
    }
  off_t offset = 0;
  if (snap.live >= 0)
    {
      _cleanup_free_ char *buf = NULL;
      size_t len;
      if (read_fd_from (snap.live, 0, &buf, &len) == 0)
        offset = (off_t) collect_lines (buf, len, opts, &list);
    }
  log_follower f = { .dir_fd = dir_fd,
                     .fd = snap.live,
                     .offset = offset,
                     .opts = opts,
                     .callback = callback,
                     .data = data };
  snap.live = -1; /* the follower's now */
  log_snapshot_close (&snap);
  size_t from = 0;
  if (opts->tail >= 0 && (size_t) opts->tail < list.n)
    from = list.n - (size_t) opts->tail;
  int stop = emit (&list, from, callback, data);
  record_list_clear (&list);
  int rc = 0;
  if (!stop && opts->follow)
    rc = follow (eng, box->id, dir, &f, err);
  if (f.fd >= 0)
    close (f.fd);
  return rc;
}
