/* Owns reading the event log for the public API: a time window, and following new events
 * as other processes (CLIs, monitors) append them. */
#include <unistd.h>

#include "engine/engine.h"
#include "store/events.h"
#include "util/timeutil.h"

/* how often a followed event log is polled */
#define FOLLOW_POLL_US 50000

static int
deliver (store_event **events, size_t n, int64_t *last_seq, box_event_callback callback,
         void *data)
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
  if (opts->follow && since == 0)
    since = time_now_ns ();
  int64_t until = opts->until_ns;
  if (!opts->follow && until == 0)
    until = time_now_ns ();
  int64_t last_seq = 0;
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
      if (until && time_now_ns () > until)
        return 0;
      usleep (FOLLOW_POLL_US);
    }
}
