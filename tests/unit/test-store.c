/* The store: fresh schema, forward migration from an older version, refusal of a newer one,
 * transactions that roll back when abandoned, waiting for another connection's lock, the
 * monitor's deferred checkpoint. */
#include "unit.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "store/boxes.h"
#include "store/events.h"
#include "store/schema.h"
#include "store/store.h"

static char *
db_path_in (const char *dir)
{
  char *path = NULL;
  if (asprintf (&path, "%s/box.db", dir) < 0)
    fail_msg ("out of memory");
  return path;
}

static void
exec_or_fail (sqlite3 *db, const char *sql)
{
  char *message = NULL;
  if (sqlite3_exec (db, sql, NULL, NULL, &message) != SQLITE_OK)
    fail_msg ("%s: %s", sql, message);
}

static void
test_fresh_store_is_current_and_wal (void **state)
{
  char *dir = unit_make_temp_dir (), *path = db_path_in (dir);
  store *s = NULL;
  box_error *err = NULL;
  int rc = store_open (path, &s, &err);
  assert_ok (rc, err);
  assert_int_equal (store_schema_version (s), STORE_SCHEMA_VERSION);

  sqlite3_stmt *st = NULL;
  assert_int_equal (sqlite3_prepare_v2 (store_db (s), "PRAGMA journal_mode", -1, &st, NULL),
                    SQLITE_OK);
  assert_int_equal (sqlite3_step (st), SQLITE_ROW);
  assert_string_equal ((const char *) sqlite3_column_text (st, 0), "wal");
  sqlite3_finalize (st);
  assert_int_equal (sqlite3_prepare_v2 (store_db (s), "PRAGMA foreign_keys", -1, &st, NULL),
                    SQLITE_OK);
  assert_int_equal (sqlite3_step (st), SQLITE_ROW);
  assert_int_equal (sqlite3_column_int (st, 0), 1);
  sqlite3_finalize (st);

  store_close (s);
  unit_remove_tree (dir);
  free (path);
  free (dir);
}

/* A store written by a version-1 binary, with a box in it, opens under this build: the box
 * survives, the schema is current, and the tables version 2 added work. */
static void
test_migrates_from_version_1 (void **state)
{
  char *dir = unit_make_temp_dir (), *path = db_path_in (dir);
  sqlite3 *db = NULL;
  assert_int_equal (sqlite3_open (path, &db), SQLITE_OK);
  exec_or_fail (db, store_migrations[0]);
  exec_or_fail (db, "PRAGMA user_version = 1");
  exec_or_fail (db, "INSERT INTO boxes (id, name, image, created_ns) VALUES ("
                    "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'old_box',"
                    " 'busybox', 42)");
  sqlite3_close (db);

  store *s = NULL;
  box_error *err = NULL;
  int rc = store_open (path, &s, &err);
  assert_ok (rc, err);
  assert_int_equal (store_schema_version (s), STORE_SCHEMA_VERSION);

  box_box *box = NULL;
  assert_int_equal (store_box_get_by_name (s, "old_box", &box, &err), 1);
  assert_string_equal (box->image, "busybox");
  assert_int_equal (box->created_ns, 42);
  assert_int_equal (box->n_labels, 0);
  box_box_free (box);

  /* version 2's tables exist and hold data */
  rc = store_event_append (s, 0, "container", "create", "x", NULL, &err);
  assert_ok (rc, err);
  exec_or_fail (store_db (s),
                "INSERT INTO box_labels VALUES ("
                "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'k', 'v')");
  assert_int_equal (store_box_get_by_name (s, "old_box", &box, &err), 1);
  assert_int_equal (box->n_labels, 1);
  assert_string_equal (box->labels[0].key, "k");
  box_box_free (box);

  /* labels follow their box out (foreign key cascade) */
  assert_int_equal (
      store_box_delete (s, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                        &err),
      1);
  sqlite3_stmt *st = NULL;
  assert_int_equal (
      sqlite3_prepare_v2 (store_db (s), "SELECT count(*) FROM box_labels", -1, &st, NULL),
      SQLITE_OK);
  assert_int_equal (sqlite3_step (st), SQLITE_ROW);
  assert_int_equal (sqlite3_column_int (st, 0), 0);
  sqlite3_finalize (st);

  store_close (s);
  unit_remove_tree (dir);
  free (path);
  free (dir);
}

static void
test_refuses_newer_schema (void **state)
{
  char *dir = unit_make_temp_dir (), *path = db_path_in (dir);
  sqlite3 *db = NULL;
  assert_int_equal (sqlite3_open (path, &db), SQLITE_OK);
  exec_or_fail (db, "PRAGMA user_version = 999");
  sqlite3_close (db);

  store *s = NULL;
  box_error *err = NULL;
  assert_int_equal (store_open (path, &s, &err), BOX_E_UNSUPPORTED);
  assert_null (s);
  assert_non_null (strstr (box_error_message (err), "schema version 999 is newer"));
  box_error_free (err);
  unit_remove_tree (dir);
  free (path);
  free (dir);
}

static void
test_abandoned_transaction_rolls_back (void **state)
{
  char *dir = unit_make_temp_dir (), *path = db_path_in (dir);
  store *s = NULL;
  box_error *err = NULL;
  int rc = store_open (path, &s, &err);
  assert_ok (rc, err);
  {
    _cleanup_tx_ store_tx tx = { 0 };
    rc = store_tx_begin (s, &tx, &err);
    assert_ok (rc, err);
    rc = store_event_append (s, 1, "container", "create", "x", NULL, &err);
    assert_ok (rc, err);
    /* leaves scope without commit */
  }
  store_event **events = NULL;
  size_t n = 99;
  rc = store_event_list (s, 0, 0, 0, &events, &n, &err);
  assert_ok (rc, err);
  assert_int_equal (n, 0);
  store_event_list_free (events, n);
  store_close (s);
  unit_remove_tree (dir);
  free (path);
  free (dir);
}

/* How many inotify events are queued (the queue is emptied). */
static int
queued_events (int inotify_fd)
{
  char buf[4096] __attribute__ ((aligned (__alignof__(struct inotify_event))));
  int count = 0;
  ssize_t len;
  while ((len = read (inotify_fd, buf, sizeof buf)) > 0)
    for (char *at = buf; at < buf + len;
         at += sizeof (struct inotify_event) + ((struct inotify_event *) at)->len)
      count++;
  return count;
}

/* The events stamp is touched after a commit that appended events, and only then: readers
 * in other processes sleep on it. */
static void
test_events_stamp_is_touched_after_each_commit_with_events (void **state)
{
  char *dir = unit_make_temp_dir (), *path = db_path_in (dir);
  store *s = NULL;
  box_error *err = NULL;
  assert_ok (store_open (path, &s, &err), err);
  assert_ok (store_events_stamp_ensure (s, &err), err);
  int watch = inotify_init1 (IN_CLOEXEC | IN_NONBLOCK);
  assert_true (watch >= 0);
  assert_true (inotify_add_watch (watch, store_events_stamp_path (s), IN_ATTRIB | IN_MODIFY) >= 0);

  {
    _cleanup_tx_ store_tx tx = { 0 };
    assert_ok (store_tx_begin (s, &tx, &err), err);
    assert_ok (store_event_append (s, 1, "container", "create", "x", NULL, &err), err);
    assert_int_equal (queued_events (watch), 0); /* not committed: not visible yet */
    /* rolled back at the end of the scope */
  }
  assert_int_equal (queued_events (watch), 0);

  store_tx tx = { 0 };
  assert_ok (store_tx_begin (s, &tx, &err), err);
  assert_ok (store_event_append (s, 2, "container", "start", "x", NULL, &err), err);
  assert_ok (store_event_append (s, 3, "container", "die", "x", NULL, &err), err);
  assert_int_equal (queued_events (watch), 0);
  assert_ok (store_tx_commit (&tx, &err), err);
  assert_true (queued_events (watch) >= 1);

  /* a statement outside a transaction commits itself */
  assert_ok (store_event_append (s, 4, "container", "destroy", "x", NULL, &err), err);
  assert_true (queued_events (watch) >= 1);

  /* a transaction without events does not wake readers */
  assert_ok (store_tx_begin (s, &tx, &err), err);
  assert_ok (store_tx_commit (&tx, &err), err);
  assert_int_equal (queued_events (watch), 0);

  int64_t last = 0;
  assert_ok (store_event_last_seq (s, &last, &err), err);
  store_event **events = NULL;
  size_t n = 0;
  assert_ok (store_event_list (s, 0, 0, 0, &events, &n, &err), err);
  assert_int_equal (n, 3);
  assert_int_equal (events[2]->seq, last);
  store_event_list_free (events, n);

  close (watch);
  store_close (s);
  unit_remove_tree (dir);
  free (path);
  free (dir);
}

static void
test_not_a_database_is_a_clear_error (void **state)
{
  char *dir = unit_make_temp_dir (), *path = db_path_in (dir);
  FILE *f = fopen (path, "w");
  fputs ("this is not a database, it is a text file that is long enough to matter\n", f);
  fclose (f);
  store *s = NULL;
  box_error *err = NULL;
  assert_true (store_open (path, &s, &err) < 0);
  assert_non_null (strstr (box_error_message (err), path));
  box_error_free (err);
  unit_remove_tree (dir);
  free (path);
  free (dir);
}

typedef struct held_lock {
  sqlite3 *db;
  int hold_ms;
} held_lock;

static void *
release_after (void *arg)
{
  held_lock *h = arg;
  usleep (h->hold_ms * 1000);
  exec_or_fail (h->db, "COMMIT");
  return NULL;
}

/* A process that wants the write lock while another holds it waits (the store's busy
 * handler) and gets it once the other lets go, instead of failing with "database is locked". */
static void
test_writer_waits_for_another_connections_lock (void **state)
{
  char *dir = unit_make_temp_dir (), *path = db_path_in (dir);
  store *first = NULL, *second = NULL;
  box_error *err = NULL;
  int rc = store_open (path, &first, &err);
  assert_ok (rc, err);
  rc = store_open (path, &second, &err);
  assert_ok (rc, err);

  exec_or_fail (store_db (first), "BEGIN IMMEDIATE");
  exec_or_fail (store_db (first),
                "INSERT INTO boxes (id, name, image, created_ns) VALUES ("
                "'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',"
                " 'held', 'busybox', 1)");
  held_lock h = { .db = store_db (first), .hold_ms = 30 };
  pthread_t releaser;
  assert_int_equal (pthread_create (&releaser, NULL, release_after, &h), 0);

  store_tx tx = { 0 };
  rc = store_tx_begin (second, &tx, &err);
  assert_ok (rc, err);
  /* the wait ended with the other's commit: its row is there */
  sqlite3_stmt *st = NULL;
  assert_int_equal (sqlite3_prepare_v2 (store_db (second),
                                        "SELECT count(*) FROM boxes WHERE name = 'held'", -1, &st,
                                        NULL),
                    SQLITE_OK);
  assert_int_equal (sqlite3_step (st), SQLITE_ROW);
  assert_int_equal (sqlite3_column_int (st, 0), 1);
  sqlite3_finalize (st);
  rc = store_tx_commit (&tx, &err);
  assert_ok (rc, err);
  pthread_join (releaser, NULL);

  store_close (second);
  store_close (first);
  unit_remove_tree (dir);
  free (path);
  free (dir);
}

/* Frames in the WAL as the first connection to open the store sees them: what it had to read
 * to rebuild the WAL index. */
static int
wal_frames_seen_on_open (const char *path)
{
  sqlite3 *db = NULL;
  assert_int_equal (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
  /* its first read rebuilds the WAL index */
  sqlite3_stmt *st = NULL;
  assert_int_equal (sqlite3_prepare_v2 (db, "SELECT count(*) FROM boxes", -1, &st, NULL),
                    SQLITE_OK);
  assert_int_equal (sqlite3_step (st), SQLITE_ROW);
  assert_int_equal (sqlite3_column_int (st, 0), 40); /* nothing lost on the way */
  sqlite3_finalize (st);
  int log_frames = -1, checkpointed = -1;
  assert_int_equal (
      sqlite3_wal_checkpoint_v2 (db, "main", SQLITE_CHECKPOINT_PASSIVE, &log_frames, &checkpointed),
      SQLITE_OK);
  /* as the store's own connections do: no checkpoint, WAL kept */
  sqlite3_db_config (db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
  int persist_wal = 1;
  sqlite3_file_control (db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist_wal);
  sqlite3_close (db);
  return log_frames;
}

/* A store opened the way a box's monitor opens it (checkpoints deferred). */
static store *
open_as_monitor (const char *path)
{
  store *s = NULL;
  box_error *err = NULL;
  int rc = store_open (path, &s, &err);
  assert_ok (rc, err);
  store_defer_checkpoints (s);
  return s;
}

/* A monitor's deferred checkpoint restarts the WAL: the next process to open the store alone
 * finds one frame to read, not every commit since the WAL last began. */
static void
test_deferred_checkpoint_restarts_the_wal (void **state)
{
  char *dir = unit_make_temp_dir (), *path = db_path_in (dir);
  store *s = open_as_monitor (path);
  for (int i = 0; i < 40; i++)
    {
      char sql[256];
      snprintf (sql, sizeof sql,
                "INSERT INTO boxes (id, name, image, created_ns) VALUES ("
                "'%064d', 'b%d', 'busybox', 1)",
                i, i);
      exec_or_fail (store_db (s), sql);
    }
  store_upkeep_if_due (s);
  store_close (s);
  assert_int_equal (wal_frames_seen_on_open (path), 1);

  /* below the threshold, nothing happens: the frames stay for a later checkpoint */
  s = open_as_monitor (path);
  exec_or_fail (store_db (s), "UPDATE boxes SET name = 'c0' WHERE name = 'b0'");
  store_upkeep_if_due (s);
  store_close (s);
  assert_true (wal_frames_seen_on_open (path) > 1); /* the restart's frame and the update's */

  /* a newer box migrated the store meanwhile: its version stays */
  s = open_as_monitor (path);
  for (int i = 0; i < 40; i++)
    exec_or_fail (store_db (s), "UPDATE boxes SET created_ns = created_ns + 1");
  sqlite3 *newer = NULL;
  assert_int_equal (sqlite3_open_v2 (path, &newer, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
  char pragma[64];
  snprintf (pragma, sizeof pragma, "PRAGMA user_version = %d", STORE_SCHEMA_VERSION + 1);
  exec_or_fail (newer, pragma);
  sqlite3_close (newer);
  store_upkeep_if_due (s);
  sqlite3_stmt *st = NULL;
  assert_int_equal (sqlite3_prepare_v2 (store_db (s), "PRAGMA user_version", -1, &st, NULL),
                    SQLITE_OK);
  assert_int_equal (sqlite3_step (st), SQLITE_ROW);
  assert_int_equal (sqlite3_column_int (st, 0), STORE_SCHEMA_VERSION + 1);
  sqlite3_finalize (st);
  store_close (s);

  unit_remove_tree (dir);
  free (path);
  free (dir);
}

/* count(*) and min(seq) of the event log. */
static void
event_log_extent (store *s, int *count, int *first)
{
  sqlite3_stmt *st = NULL;
  assert_int_equal (
      sqlite3_prepare_v2 (store_db (s), "SELECT count(*), min(seq) FROM events", -1, &st, NULL),
      SQLITE_OK);
  assert_int_equal (sqlite3_step (st), SQLITE_ROW);
  *count = sqlite3_column_int (st, 0);
  *first = sqlite3_column_int (st, 1);
  sqlite3_finalize (st);
}

/* The upkeep trims the event log to the newest STORE_EVENTS_KEPT events, at most
 * STORE_EVENTS_TRIM_MAX at a time; seqs go on from the newest. */
static void
test_upkeep_trims_the_event_log (void **state)
{
  (void) state;
  char *dir = unit_make_temp_dir (), *path = db_path_in (dir);
  store *s = open_as_monitor (path);
  box_error *err = NULL;
  int rc;
  const int appended = STORE_EVENTS_KEPT + STORE_EVENTS_TRIM_MAX + 50;
  exec_or_fail (store_db (s), "BEGIN");
  for (int i = 0; i < appended; i++)
    {
      rc = store_event_append (s, 1, "container", "create", "x", NULL, &err);
      assert_ok (rc, err);
    }
  exec_or_fail (store_db (s), "COMMIT");
  store_upkeep_if_due (s);
  int count, first;
  event_log_extent (s, &count, &first);
  assert_int_equal (count, STORE_EVENTS_KEPT + 50);
  assert_int_equal (first, STORE_EVENTS_TRIM_MAX + 1);
  rc = store_event_trim (s, STORE_EVENTS_KEPT, &err);
  assert_ok (rc, err);
  event_log_extent (s, &count, &first);
  assert_int_equal (count, STORE_EVENTS_KEPT);
  assert_int_equal (first, STORE_EVENTS_TRIM_MAX + 51);
  rc = store_event_append (s, 1, "container", "create", "x", NULL, &err);
  assert_ok (rc, err);
  int64_t last = 0;
  rc = store_event_last_seq (s, &last, &err);
  assert_ok (rc, err);
  assert_int_equal (last, appended + 1);
  store_close (s);
  free (path);
  unit_remove_tree (dir);
  free (dir);
}

/* Prepared statements are lent and given back (store_prepare, store_stmt_release): the same
 * SQL gets the same statement again, reset and with its bindings cleared; while it is lent a
 * second user gets one of its own; one left mid-way holds no read transaction once given
 * back; one still lent when its store closes is finalized by its release alone. */
static void
test_statements_are_reused_reset_and_released (void **state)
{
  char *dir = unit_make_temp_dir (), *path = db_path_in (dir);
  store *s = NULL;
  box_error *err = NULL;
  int rc = store_open (path, &s, &err);
  assert_ok (rc, err);
  static const char sql[] = "SELECT ?1 UNION ALL SELECT 2";
  sqlite3_stmt *first = NULL, *again = NULL, *second = NULL;
  assert_ok (store_prepare (s, sql, &first, &err), err);
  sqlite3_bind_int (first, 1, 41);
  assert_int_equal (sqlite3_step (first), SQLITE_ROW);
  assert_int_equal (sqlite3_column_int (first, 0), 41);
  /* lent: the same SQL meanwhile is another statement */
  assert_ok (store_prepare (s, sql, &second, &err), err);
  assert_ptr_not_equal (second, first);
  store_stmt_release (&second);
  assert_null (second);
  /* given back mid-way: reset (no read transaction left open), bindings cleared */
  sqlite3_stmt *kept = first;
  store_stmt_release (&first);
  assert_null (first);
  assert_false (sqlite3_stmt_busy (kept));
  /* a text copy of the SQL finds it too */
  char *copy = strdup (sql);
  assert_ok (store_prepare (s, copy, &again, &err), err);
  free (copy);
  assert_ptr_equal (again, kept);
  assert_int_equal (sqlite3_step (again), SQLITE_ROW);
  assert_int_equal (sqlite3_column_type (again, 0), SQLITE_NULL);
  /* still lent at the close: its release finalizes it (ASan sees a double free or a leak) */
  store_close (s);
  store_stmt_release (&again);
  assert_null (again);
  /* and a new connection gets a statement of its own */
  rc = store_open (path, &s, &err);
  assert_ok (rc, err);
  assert_ok (store_prepare (s, sql, &first, &err), err);
  assert_int_equal (sqlite3_step (first), SQLITE_ROW);
  store_stmt_release (&first);
  store_close (s);
  unit_remove_tree (dir);
  free (path);
  free (dir);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_fresh_store_is_current_and_wal),
    cmocka_unit_test (test_migrates_from_version_1),
    cmocka_unit_test (test_refuses_newer_schema),
    cmocka_unit_test (test_abandoned_transaction_rolls_back),
    cmocka_unit_test (test_not_a_database_is_a_clear_error),
    cmocka_unit_test (test_writer_waits_for_another_connections_lock),
    cmocka_unit_test (test_events_stamp_is_touched_after_each_commit_with_events),
    cmocka_unit_test (test_deferred_checkpoint_restarts_the_wal),
    cmocka_unit_test (test_upkeep_trims_the_event_log),
    cmocka_unit_test (test_statements_are_reused_reset_and_released),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
