/* Owns the SQL of the boxes and box_labels tables. */
#include "store/boxes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"

#define BOX_COLUMNS                                                                                \
  "id, name, external_ref, image, config, state, pid, exit_code, created_ns, started_ns, "        \
  "finished_ns, oom_killed, error, runtime"

static const char *const state_names[] = {
  [BOX_STATE_CREATED] = "created",   [BOX_STATE_RUNNING] = "running",
  [BOX_STATE_PAUSED] = "paused",     [BOX_STATE_RESTARTING] = "restarting",
  [BOX_STATE_REMOVING] = "removing", [BOX_STATE_EXITED] = "exited",
  [BOX_STATE_DEAD] = "dead",
};

const char *
box_state_name (box_state state)
{
  if ((unsigned) state < ARRAY_SIZE (state_names) && state_names[state])
    return state_names[state];
  return "unknown";
}

int
box_state_from_name (const char *name, box_state *out)
{
  for (size_t i = 0; i < ARRAY_SIZE (state_names); i++)
    if (state_names[i] && strcmp (state_names[i], name) == 0)
      {
        *out = (box_state) i;
        return 0;
      }
  return -1;
}

void
box_box_free (box_box *box)
{
  if (!box)
    return;
  free (box->name);
  free (box->external_ref);
  free (box->image);
  free (box->config_json);
  for (size_t i = 0; i < box->n_labels; i++)
    {
      free (box->labels[i].key);
      free (box->labels[i].value);
    }
  free (box->labels);
  free (box->error);
  free (box->runtime);
  free (box);
}
DEFINE_POINTER_CLEANUP (box_box, box_box_free)

void
box_box_list_free (box_box **boxes, size_t n)
{
  if (!boxes)
    return;
  for (size_t i = 0; i < n; i++)
    box_box_free (boxes[i]);
  free (boxes);
}

static int
load_labels (store *s, box_box *box, box_error **err)
{
  return store_collect_labels (s, "SELECT key, value FROM box_labels WHERE box_id = ?1 ORDER BY key",
                               box->id, &box->labels, &box->n_labels, "read labels", err);
}

/* Builds a box_box from a row selected with BOX_COLUMNS. */
static int
row_to_box (store *s, sqlite3_stmt *st, box_box **out, box_error **err)
{
  _cleanup_ (box_box_freep) box_box *box = calloc (1, sizeof *box);
  if (!box)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  const char *id = (const char *) sqlite3_column_text (st, 0);
  if (!id || strlen (id) != BOX_ID_HEX_LENGTH)
    return box_err (err, BOX_E_INTERNAL, "store: box row with a malformed id");
  memcpy (box->id, id, BOX_ID_HEX_LENGTH + 1);
  if (store_column_strdup (st, 1, &box->name) < 0
      || store_column_strdup (st, 2, &box->external_ref) < 0
      || store_column_strdup (st, 3, &box->image) < 0
      || store_column_strdup (st, 4, &box->config_json) < 0)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  const char *state = (const char *) sqlite3_column_text (st, 5);
  if (!state || box_state_from_name (state, &box->state) < 0)
    return box_err (err, BOX_E_INTERNAL, "store: box %s has an unknown state '%s'", box->id,
                    state ? state : "");
  box->pid = sqlite3_column_int (st, 6);
  box->exit_code = sqlite3_column_int (st, 7);
  box->created_ns = sqlite3_column_int64 (st, 8);
  box->started_ns = sqlite3_column_int64 (st, 9);
  box->finished_ns = sqlite3_column_int64 (st, 10);
  box->oom_killed = sqlite3_column_int (st, 11);
  if (store_column_strdup (st, 12, &box->error) < 0 || store_column_strdup (st, 13, &box->runtime) < 0)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  if (load_labels (s, box, err) < 0)
    return box_err_code (err);
  *out = TAKE_PTR (box);
  return 0;
}

static int
read_box_row (store *s, sqlite3_stmt *st, void *item, box_error **err)
{
  return row_to_box (s, st, item, err);
}

static int
get_one (store *s, const char *sql, const char *key, box_box **out, box_error **err)
{
  return store_read_one_row (s, sql, key, out, read_box_row, "read box", err);
}

int
store_box_get_by_id (store *s, const char *id, box_box **out, box_error **err)
{
  return get_one (s, "SELECT " BOX_COLUMNS " FROM boxes WHERE id = ?1", id, out, err);
}

int
store_box_get_by_name (store *s, const char *name, box_box **out, box_error **err)
{
  return get_one (s, "SELECT " BOX_COLUMNS " FROM boxes WHERE name = ?1", name, out, err);
}

int
store_box_get_by_external_ref (store *s, const char *ref, box_box **out, box_error **err)
{
  return get_one (s, "SELECT " BOX_COLUMNS " FROM boxes WHERE external_ref = ?1", ref, out, err);
}

int
store_box_find_by_id_prefix (store *s, const char *prefix, box_box **out, box_error **err)
{
  /* the caller validated prefix as lowercase hex, so it holds no GLOB metacharacters; GLOB
   * with a constant prefix is answered from the primary key index */
  _cleanup_stmt_ sqlite3_stmt *st = NULL;
  if (store_prepare (s, "SELECT " BOX_COLUMNS " FROM boxes WHERE id GLOB ?1 || '*' LIMIT 2", &st,
                     err)
      < 0)
    return box_err_code (err);
  sqlite3_bind_text (st, 1, prefix, -1, SQLITE_STATIC);
  int count = 0, rc;
  while ((rc = sqlite3_step (st)) == SQLITE_ROW)
    {
      if (++count == 1 && row_to_box (s, st, out, err) < 0)
        return box_err_code (err);
    }
  if (rc != SQLITE_DONE)
    return store_error (s, err, rc, "store: find box by id prefix");
  if (count > 1)
    {
      box_box_free (*out);
      *out = NULL;
    }
  return count;
}

int
store_box_list (store *s, box_box ***out, size_t *out_n, box_error **err)
{
  box_box **list = NULL;
  size_t n = 0;
  if (store_collect_rows (s, "SELECT " BOX_COLUMNS " FROM boxes ORDER BY created_ns DESC, id", NULL,
                          &list, &n, sizeof *list, read_box_row, "list boxes", err)
      < 0)
    {
      box_box_list_free (list, n);
      return box_err_code (err);
    }
  *out = list;
  *out_n = n;
  return 0;
}

/* After a UNIQUE failure: which box holds `value` in `column`? */
static int
conflict_error (store *s, const char *column, const char *what, const char *value, box_error **err)
{
  char sql[128];
  snprintf (sql, sizeof sql, "SELECT id FROM boxes WHERE %s = ?1", column);
  _cleanup_stmt_ sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2 (store_db (s), sql, -1, &st, NULL) == SQLITE_OK)
    {
      sqlite3_bind_text (st, 1, value, -1, SQLITE_STATIC);
      if (sqlite3_step (st) == SQLITE_ROW)
        return box_err (err, BOX_E_CONFLICT,
                        "the %s \"%s\" is already in use by box %s; remove or rename that box "
                        "to reuse it",
                        what, value, (const char *) sqlite3_column_text (st, 0));
    }
  return box_err (err, BOX_E_CONFLICT, "the %s \"%s\" is already in use", what, value);
}

static int
map_unique_violation (store *s, int rc, const box_box *box, const char *name, box_error **err)
{
  const char *message = sqlite3_errmsg (store_db (s));
  if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
    {
      if (strstr (message, "boxes.name"))
        return conflict_error (s, "name", "box name", name, err);
      if (box && strstr (message, "boxes.external_ref"))
        return conflict_error (s, "external_ref", "external ref", box->external_ref, err);
      if (box && strstr (message, "boxes.id"))
        return box_err (err, BOX_E_CONFLICT, "box id %s already exists", box->id);
    }
  return store_error (s, err, rc, "store: write box");
}

int
store_box_insert (store *s, const box_box *box, box_error **err)
{
  _cleanup_stmt_ sqlite3_stmt *st = NULL;
  if (store_prepare (s,
                     "INSERT INTO boxes (" BOX_COLUMNS ") "
                     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                     &st, err)
      < 0)
    return box_err_code (err);
  sqlite3_bind_text (st, 1, box->id, -1, SQLITE_STATIC);
  sqlite3_bind_text (st, 2, box->name, -1, SQLITE_STATIC);
  if (box->external_ref)
    sqlite3_bind_text (st, 3, box->external_ref, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null (st, 3);
  sqlite3_bind_text (st, 4, box->image, -1, SQLITE_STATIC);
  sqlite3_bind_text (st, 5, box->config_json ? box->config_json : "{}", -1, SQLITE_STATIC);
  sqlite3_bind_text (st, 6, box_state_name (box->state), -1, SQLITE_STATIC);
  sqlite3_bind_int (st, 7, box->pid);
  sqlite3_bind_int (st, 8, box->exit_code);
  sqlite3_bind_int64 (st, 9, box->created_ns);
  sqlite3_bind_int64 (st, 10, box->started_ns);
  sqlite3_bind_int64 (st, 11, box->finished_ns);
  sqlite3_bind_int (st, 12, box->oom_killed);
  sqlite3_bind_text (st, 13, box->error ? box->error : "", -1, SQLITE_STATIC);
  sqlite3_bind_text (st, 14, box->runtime ? box->runtime : "", -1, SQLITE_STATIC);
  int rc = sqlite3_step (st);
  if (rc != SQLITE_DONE)
    return map_unique_violation (s, sqlite3_extended_errcode (store_db (s)), box, box->name, err);

  _cleanup_stmt_ sqlite3_stmt *label_st = NULL;
  if (box->n_labels > 0
      && store_prepare (
             s, "INSERT OR REPLACE INTO box_labels (box_id, key, value) VALUES (?1, ?2, ?3)",
             &label_st, err)
             < 0)
    return box_err_code (err);
  for (size_t i = 0; i < box->n_labels; i++)
    {
      sqlite3_reset (label_st);
      sqlite3_bind_text (label_st, 1, box->id, -1, SQLITE_STATIC);
      sqlite3_bind_text (label_st, 2, box->labels[i].key, -1, SQLITE_STATIC);
      sqlite3_bind_text (label_st, 3, box->labels[i].value, -1, SQLITE_STATIC);
      if (store_step_done (s, label_st, "store: write label", err) < 0)
        return box_err_code (err);
    }
  return 0;
}

int
store_box_set_name (store *s, const char *id, const char *name, box_error **err)
{
  _cleanup_stmt_ sqlite3_stmt *st = NULL;
  if (store_prepare (s, "UPDATE boxes SET name = ?2 WHERE id = ?1", &st, err) < 0)
    return box_err_code (err);
  sqlite3_bind_text (st, 1, id, -1, SQLITE_STATIC);
  sqlite3_bind_text (st, 2, name, -1, SQLITE_STATIC);
  int rc = sqlite3_step (st);
  if (rc != SQLITE_DONE)
    return map_unique_violation (s, sqlite3_extended_errcode (store_db (s)), NULL, name, err);
  if (sqlite3_changes (store_db (s)) == 0)
    return box_err (err, BOX_E_NOT_FOUND, "No such box: %s", id);
  return 0;
}

int
store_box_set_error (store *s, const char *id, const char *message, int exit_code,
                     box_error **err)
{
  _cleanup_tx_ store_tx tx = { 0 };
  _cleanup_stmt_ sqlite3_stmt *st = NULL;
  if (store_tx_begin (s, &tx, err) < 0
      || store_prepare (s,
                        "UPDATE boxes SET error = ?2,"
                        " exit_code = CASE WHEN exit_code = 0 THEN ?3 ELSE exit_code END"
                        " WHERE id = ?1",
                        &st, err)
             < 0)
    return box_err_code (err);
  sqlite3_bind_text (st, 1, id, -1, SQLITE_STATIC);
  sqlite3_bind_text (st, 2, message, -1, SQLITE_STATIC);
  sqlite3_bind_int (st, 3, exit_code);
  int rc = sqlite3_step (st);
  if (rc != SQLITE_DONE)
    return store_error (s, err, rc, "record the error of a box");
  return store_tx_commit (&tx, err);
}

int
store_box_set_state (store *s, const char *id, const store_box_state_update *update,
                     box_error **err)
{
  _cleanup_stmt_ sqlite3_stmt *st = NULL;
  if (store_prepare (s,
                     "UPDATE boxes SET state = ?2, pid = ?3, exit_code = ?4,"
                     " started_ns = CASE WHEN ?5 = 0 THEN started_ns ELSE ?5 END,"
                     " finished_ns = CASE WHEN ?6 = 0 THEN finished_ns ELSE ?6 END,"
                     " monitor_pid = ?7, monitor_start = ?8, oom_killed = ?9,"
                     " error = ?10"
                     " WHERE id = ?1",
                     &st, err)
      < 0)
    return box_err_code (err);
  sqlite3_bind_int (st, 7, update->monitor_pid);
  sqlite3_bind_int64 (st, 8, update->monitor_start);
  sqlite3_bind_int (st, 9, update->oom_killed);
  sqlite3_bind_text (st, 10, update->error ? update->error : "", -1, SQLITE_STATIC);
  sqlite3_bind_text (st, 1, id, -1, SQLITE_STATIC);
  sqlite3_bind_text (st, 2, box_state_name (update->state), -1, SQLITE_STATIC);
  sqlite3_bind_int (st, 3, update->pid);
  sqlite3_bind_int (st, 4, update->exit_code);
  sqlite3_bind_int64 (st, 5, update->started_ns);
  sqlite3_bind_int64 (st, 6, update->finished_ns);
  if (store_step_done (s, st, "store: update box state", err) < 0)
    return box_err_code (err);
  if (sqlite3_changes (store_db (s)) == 0)
    return box_err (err, BOX_E_NOT_FOUND, "No such box: %s", id);
  return 0;
}

int
store_box_delete (store *s, const char *id, box_error **err)
{
  _cleanup_stmt_ sqlite3_stmt *st = NULL;
  if (store_prepare (s, "DELETE FROM boxes WHERE id = ?1", &st, err) < 0)
    return box_err_code (err);
  sqlite3_bind_text (st, 1, id, -1, SQLITE_STATIC);
  if (store_step_done (s, st, "store: delete box", err) < 0)
    return box_err_code (err);
  return sqlite3_changes (store_db (s)) > 0 ? 1 : 0;
}

int
store_box_get_monitor (store *s, const char *id, store_box_monitor *out, box_error **err)
{
  _cleanup_stmt_ sqlite3_stmt *st = NULL;
  if (store_prepare (s, "SELECT monitor_pid, monitor_start FROM boxes WHERE id = ?1", &st, err)
      < 0)
    return box_err_code (err);
  sqlite3_bind_text (st, 1, id, -1, SQLITE_STATIC);
  int rc = sqlite3_step (st);
  if (rc == SQLITE_DONE)
    return 0;
  if (rc != SQLITE_ROW)
    return store_error (s, err, rc, "store: read box monitor");
  out->pid = sqlite3_column_int (st, 0);
  out->start_ticks = sqlite3_column_int64 (st, 1);
  return 1;
}

static int
read_live_box_row (store *s, sqlite3_stmt *st, void *item, box_error **err)
{
  (void) s, (void) err;
  store_live_box *live = item;
  const char *id = (const char *) sqlite3_column_text (st, 0);
  snprintf (live->id, sizeof live->id, "%s", id ? id : "");
  live->monitor.pid = sqlite3_column_int (st, 1);
  live->monitor.start_ticks = sqlite3_column_int64 (st, 2);
  return 0;
}

int
store_box_list_live (store *s, store_live_box **out, size_t *out_n, box_error **err)
{
  store_live_box *list = NULL;
  size_t n = 0;
  if (store_collect_rows (s,
                          "SELECT id, monitor_pid, monitor_start FROM boxes"
                          " WHERE state IN ('running', 'paused', 'restarting')",
                          NULL, &list, &n, sizeof *list, read_live_box_row, "list live boxes", err)
      < 0)
    {
      free (list);
      return box_err_code (err);
    }
  *out = list;
  *out_n = n;
  return 0;
}
