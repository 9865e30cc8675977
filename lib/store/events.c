/* Owns the SQL of the events table. */
#include "store/events.h"

#include <stdlib.h>

#include "util/timeutil.h"

void
store_event_free (store_event *event)
{
  if (!event)
    return;
  free (event->type);
  free (event->action);
  free (event->actor_id);
  free (event->attributes);
  free (event);
}

void
store_event_list_free (store_event **events, size_t n)
{
  if (!events)
    return;
  for (size_t i = 0; i < n; i++)
    store_event_free (events[i]);
  free (events);
}

int
store_event_append (store *s, int64_t time_ns, const char *type, const char *action,
                    const char *actor_id, const char *attributes_json, box_error **err)
{
  _cleanup_stmt_ sqlite3_stmt *st = NULL;
  if (store_prepare (s,
                     "INSERT INTO events (time_ns, type, action, actor_id, attributes)"
                     " VALUES (?1, ?2, ?3, ?4, ?5)",
                     &st, err)
      < 0)
    return box_err_code (err);
  sqlite3_bind_int64 (st, 1, time_ns ? time_ns : time_now_ns ());
  sqlite3_bind_text (st, 2, type, -1, SQLITE_STATIC);
  sqlite3_bind_text (st, 3, action, -1, SQLITE_STATIC);
  sqlite3_bind_text (st, 4, actor_id, -1, SQLITE_STATIC);
  sqlite3_bind_text (st, 5, attributes_json ? attributes_json : "{}", -1, SQLITE_STATIC);
  if (store_step_done (s, st, "store: append event", err) < 0)
    return box_err_code (err);
  store_events_appended (s);
  return 0;
}

int
store_event_trim (store *s, int64_t keep, box_error **err)
{
  _cleanup_stmt_ sqlite3_stmt *st = NULL;
  /* at most STORE_EVENTS_TRIM_MAX at a time: the first trim of a long log must not hold
   * the write lock for long */
  if (store_prepare (s,
                     "DELETE FROM events WHERE seq IN (SELECT seq FROM events"
                     " WHERE seq <= (SELECT max(seq) FROM events) - ?1 ORDER BY seq LIMIT ?2)",
                     &st, err)
      < 0)
    return box_err_code (err);
  sqlite3_bind_int64 (st, 1, keep);
  sqlite3_bind_int (st, 2, STORE_EVENTS_TRIM_MAX);
  if (store_step_done (s, st, "store: trim the event log", err) < 0)
    return box_err_code (err);
  return 0;
}

int
store_event_last_seq (store *s, int64_t *out, box_error **err)
{
  _cleanup_stmt_ sqlite3_stmt *st = NULL;
  if (store_prepare (s, "SELECT coalesce(max(seq), 0) FROM events", &st, err) < 0)
    return box_err_code (err);
  int rc = sqlite3_step (st);
  if (rc != SQLITE_ROW)
    return store_error (s, err, rc, "store: read the last event");
  *out = sqlite3_column_int64 (st, 0);
  return 0;
}

int
store_event_list (store *s, int64_t after_seq, int64_t since_ns, int64_t until_ns,
                  store_event ***out, size_t *out_n, box_error **err)
{
  _cleanup_stmt_ sqlite3_stmt *st = NULL;
  if (store_prepare (s,
                     "SELECT seq, time_ns, type, action, actor_id, attributes FROM events"
                     " WHERE seq > ?1 AND time_ns >= ?2 AND (?3 = 0 OR time_ns <= ?3)"
                     " ORDER BY seq",
                     &st, err)
      < 0)
    return box_err_code (err);
  sqlite3_bind_int64 (st, 1, after_seq);
  sqlite3_bind_int64 (st, 2, since_ns);
  sqlite3_bind_int64 (st, 3, until_ns);
  store_event **list = NULL;
  size_t n = 0;
  int rc;
  while ((rc = sqlite3_step (st)) == SQLITE_ROW)
    {
      store_event **bigger = realloc (list, (n + 1) * sizeof *bigger);
      store_event *e = calloc (1, sizeof *e);
      if (!bigger || !e)
        {
          free (e);
          store_event_list_free (bigger ? bigger : list, n);
          return box_err (err, BOX_E_INTERNAL, "out of memory");
        }
      list = bigger;
      list[n++] = e;
      e->seq = sqlite3_column_int64 (st, 0);
      e->time_ns = sqlite3_column_int64 (st, 1);
      if (store_column_strdup (st, 2, &e->type) < 0 || store_column_strdup (st, 3, &e->action) < 0
          || store_column_strdup (st, 4, &e->actor_id) < 0
          || store_column_strdup (st, 5, &e->attributes) < 0)
        {
          store_event_list_free (list, n);
          return box_err (err, BOX_E_INTERNAL, "out of memory");
        }
    }
  if (rc != SQLITE_DONE)
    {
      store_event_list_free (list, n);
      return store_error (s, err, rc, "store: list events");
    }
  *out = list;
  *out_n = n;
  return 0;
}
