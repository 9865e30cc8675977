/* Owns reading the event log for the public API: a time window, and following new events
 * as other processes (CLIs, monitors) append them. A follower sleeps on an inotify watch of
 * the store's events stamp, which every writer touches after committing events (see
 * store.h); events are delivered by seq, so the backlog and the live stream neither repeat
 * nor skip one. */
#include <errno.h>
#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "engine/engine.h"
#include "store/events.h"
#include "util/timeutil.h"

/* The safety net: a follower looks again after this long even when nothing woke it (the
 * stamp could not be touched, or was removed and its watch is being set up again). */
#define FOLLOW_FALLBACK_MS 10000
/* without inotify at all (no instances left), polling is all there is */
#define FOLLOW_POLL_WITHOUT_INOTIFY_MS 250

static int
deliver (store_event **events, size_t n, int64_t *last_seq, box_event_callback callback, void *data)
{
  for (size_t i = 0; i < n; i++)
    {
      box_event e = {
        .seq = events[i]->seq,
        .time_ns = events[i]->time_ns,
        .type = events[i]->type,
        .action = events[i]->action,
        .actor_id = events[i]->actor_id,
        .attributes_json = events[i]->attributes,
      };
      *last_seq = e.seq;
      if (callback (data, &e))
        return 1;
    }
  return 0;
}

/* The inotify watch of the events stamp; fd -1 when inotify is not available. */
typedef struct stamp_watch {
  int fd;
  int wd; /* -1: not watching (the stamp went away): set up again before the next wait */
} stamp_watch;

static void
stamp_watch_close (stamp_watch *w)
{
  if (w->fd >= 0)
    close (w->fd);
  w->fd = -1;
}

static void
stamp_watch_add (box_engine *eng, stamp_watch *w)
{
  if (w->fd < 0 || w->wd >= 0)
    return;
  box_error *local = NULL;
  if (store_events_stamp_ensure (eng->store, &local) < 0)
    {
      box_error_free (local); /* the fallback interval still finds new events */
      return;
    }
  w->wd
      = inotify_add_watch (w->fd, store_events_stamp_path (eng->store),
                           IN_ATTRIB | IN_MODIFY | IN_CLOSE_WRITE | IN_DELETE_SELF | IN_MOVE_SELF);
}

/* Sleeps until the stamp changes or timeout_ms passes; then empties the watch's queue. */
static int
stamp_watch_wait (stamp_watch *w, int timeout_ms, box_error **err)
{
  if (w->fd < 0 || w->wd < 0)
    {
      int wait_ms = w->fd < 0 ? FOLLOW_POLL_WITHOUT_INOTIFY_MS : FOLLOW_FALLBACK_MS / 10;
      if (timeout_ms > wait_ms)
        timeout_ms = wait_ms;
    }
  struct pollfd p = { .fd = w->fd, .events = POLLIN };
  int n;
  do
    n = poll (&p, w->fd >= 0 ? 1 : 0, timeout_ms);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return box_err_errno (err, errno, "wait for events");
  if (n == 0 || w->fd < 0)
    return 0;
  char buf[4096] __attribute__ ((aligned (__alignof__(struct inotify_event))));
  for (;;)
    {
      ssize_t len = read (w->fd, buf, sizeof buf);
      if (len < 0 && errno == EINTR)
        continue;
      if (len <= 0)
        break;
      for (char *at = buf; at < buf + len;)
        {
          const struct inotify_event *ev = (const struct inotify_event *) at;
          if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF))
            {
              if (w->wd >= 0 && !(ev->mask & IN_IGNORED))
                inotify_rm_watch (w->fd, w->wd);
              w->wd = -1; /* watched again (a new stamp) before the next wait */
            }
          at += sizeof *ev + ev->len;
        }
    }
  return 0;
}

int
box_events_read (box_engine *eng, const box_events_options *opts, box_event_callback callback,
                 void *data, box_error **err)
{
  box_events_options defaults = BOX_EVENTS_OPTIONS_INIT;
  if (!opts)
    opts = &defaults;
  if (opts->version != BOX_EVENTS_OPTIONS_VERSION)
    return box_err (err, BOX_E_INVALID, "box_events_options: unknown version %u", opts->version);
  int64_t since = opts->since_ns;
  int64_t until = opts->until_ns;
  if (!opts->follow && until == 0)
    until = time_now_ns ();

  /* the watch comes first: whatever commits after it is set up wakes us, and whatever
   * committed before it is found by the first query */
  _cleanup_ (stamp_watch_close) stamp_watch watch = { -1, -1 };
  if (opts->follow)
    {
      watch.fd = inotify_init1 (IN_CLOEXEC | IN_NONBLOCK);
      stamp_watch_add (eng, &watch);
    }
  int64_t last_seq = 0;
  if (opts->follow && since == 0)
    {
      /* from now on: everything committed after this point, whatever its timestamp */
      if (store_event_last_seq (eng->store, &last_seq, err) < 0)
        return box_err_wrap (err, "read events");
    }
  for (;;)
    {
      store_event **events = NULL;
      size_t n = 0;
      if (store_event_list (eng->store, last_seq, since, until, &events, &n, err) < 0)
        return box_err_wrap (err, "read events");
      int stop = deliver (events, n, &last_seq, callback, data);
      store_event_list_free (events, n);
      if (stop || !opts->follow)
        return 0;
      int timeout_ms = FOLLOW_FALLBACK_MS;
      if (until)
        {
          int64_t now = time_now_ns ();
          if (now > until)
            return 0;
          int64_t left_ms = (until - now) / 1000000 + 1;
          if (left_ms < timeout_ms)
            timeout_ms = (int) left_ms;
        }
      stamp_watch_add (eng, &watch);
      if (stamp_watch_wait (&watch, timeout_ms, err) < 0)
        return box_err_code (err);
    }
}
