/* Owns the SQLite connection: open with WAL, busy timeout and foreign keys, the forward
 * migrations, and transactions. */
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/events.h"
#include "store/schema.h"
#include "util/timeutil.h"

/* Several processes share one store; a writer holds the lock for milliseconds, so waiting up
 * to this long for it means "the other process is slow", not "deadlock". */
#define STORE_BUSY_TIMEOUT_MS 30000
/* How a process waits for a lock another one holds: SQLite's own busy handler sleeps 1, 2, 5,
 * 10... ms between tries, so a lock held for a tenth of a millisecond (a box's commit, another
 * process rebuilding the WAL index) cost at least a millisecond, and a start that met one
 * three times in a row slept 8 ms (seen in traces of `box run`, whose monitor opens the store
 * while the CLI creates the box). Retry after 20 us instead, doubling up to 1 ms. */
#define STORE_BUSY_FIRST_SLEEP_US 20
#define STORE_BUSY_MAX_SLEEP_US 1000

/* Checkpoints. A checkpoint costs three fsyncs (the WAL, its directory the first time a
 * process syncs it, the database), and the first write after a complete one restarts the
 * WAL (one more fsync). A process that opens the store first (no other connection open)
 * rebuilds the WAL index by reading every frame since the last restart (about 2 us a
 * frame), and forgets what was checkpointed: with one short-lived process after another,
 * the WAL only restarts when a checkpoint and a later write fall in the same stretch of
 * open connections. So commits checkpoint automatically only past
 * STORE_AUTOCHECKPOINT_PAGES (SQLite's default is 1000; a box run writes about 20 pages),
 * which keeps those fsyncs off most runs, and a box's monitor checkpoints past
 * STORE_DEFERRED_CHECKPOINT_PAGES once its client has the exit code (it defers: no fsync
 * before the exit is reported), and then restarts the WAL itself (store_upkeep_if_due). */
#define STORE_DEFERRED_CHECKPOINT_PAGES 32
#define STORE_AUTOCHECKPOINT_PAGES_TEXT "256"

/* the events stamp beside the database file (see store.h) */
#define STORE_EVENTS_STAMP_SUFFIX "-events"

struct store {
  sqlite3 *db;
  int64_t busy_since_ms; /* when the current wait for a lock began (monotonic) */
  int schema_version;
  int wal_frames;      /* after this connection's last commit, with deferred checkpoints */
  char *events_stamp;  /* <database>-events */
  bool events_pending; /* the open transaction appended events: touch the stamp on commit */
};

/* Touches the stamp. A failure is not the writer's problem: the event is committed, and
 * readers also look again now and then without being woken. */
static void
touch_events_stamp (store *s)
{
  s->events_pending = false;
  if (utimensat (AT_FDCWD, s->events_stamp, NULL, 0) == 0 || errno != ENOENT)
    return;
  int fd = open (s->events_stamp, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd >= 0)
    close (fd);
}

const char *
store_events_stamp_path (store *s)
{
  return s->events_stamp;
}

int
store_events_stamp_ensure (store *s, box_error **err)
{
  int fd = open (s->events_stamp, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0)
    return box_err_errno (err, errno, "create the events stamp %s", s->events_stamp);
  close (fd);
  return 0;
}

void
store_events_appended (store *s)
{
  s->events_pending = true;
  if (sqlite3_get_autocommit (s->db))
    touch_events_stamp (s);
}

int
store_error (store *s, box_error **err, int rc, const char *what)
{
  int primary = rc & 0xff;
  box_error_code code = BOX_E_IO;
  if (primary == SQLITE_CONSTRAINT)
    code = BOX_E_CONFLICT;
  else if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED)
    code = BOX_E_BUSY;
  else if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB)
    code = BOX_E_INTERNAL;
  else if (primary == SQLITE_READONLY || primary == SQLITE_PERM || primary == SQLITE_AUTH)
    code = BOX_E_PERMISSION;
  const char *message = s && s->db ? sqlite3_errmsg (s->db) : sqlite3_errstr (rc);
  return box_err (err, code, "%s: %s", what, message);
}

int
store_step_done (store *s, sqlite3_stmt *st, const char *what, box_error **err)
{
  int rc = sqlite3_step (st);
  if (rc != SQLITE_DONE)
    return store_error (s, err, rc, what);
  return 0;
}

/* Prepared statements kept for reuse, per connection: SQLite compiles each statement anew
 * (10-20 us here), and a box's start runs the same ones several times over (its row read
 * three times, BEGIN and COMMIT, the event insert). One table for the process, as a
 * statement's release (store_stmt_release) knows only the statement. A statement is lent to
 * one user at a time; a second one asking for the same SQL meanwhile gets one of its own. */
#define STMT_CACHE_SIZE 32

typedef struct cached_stmt {
  sqlite3 *db;
  char *sql;
  sqlite3_stmt *st;
  bool lent;
  uint64_t last_used;
} cached_stmt;

static cached_stmt stmt_cache[STMT_CACHE_SIZE];
static uint64_t stmt_cache_clock;
static pthread_mutex_t stmt_cache_lock = PTHREAD_MUTEX_INITIALIZER;

static void
cached_stmt_drop (cached_stmt *e)
{
  sqlite3_finalize (e->st);
  free (e->sql);
  *e = (cached_stmt){ 0 };
}

/* A cached statement of db for sql, lent to the caller; else a slot to cache it in (free,
 * or the least recently used one not lent, emptied), marked lent with no statement yet;
 * else NULL. */
static sqlite3_stmt *
stmt_cache_take (sqlite3 *db, const char *sql, cached_stmt **slot)
{
  *slot = NULL;
  pthread_mutex_lock (&stmt_cache_lock);
  cached_stmt *spare = NULL;
  for (cached_stmt *e = stmt_cache; e < stmt_cache + STMT_CACHE_SIZE; e++)
    {
      if (e->lent)
        continue;
      if (e->st && e->db == db && strcmp (e->sql, sql) == 0)
        {
          e->lent = true;
          e->last_used = ++stmt_cache_clock;
          pthread_mutex_unlock (&stmt_cache_lock);
          return e->st;
        }
      if (!spare || (spare->st && (!e->st || e->last_used < spare->last_used)))
        spare = e;
    }
  if (spare)
    {
      if (spare->st)
        cached_stmt_drop (spare);
      spare->lent = true; /* nobody else takes the slot while the statement compiles */
      *slot = spare;
    }
  pthread_mutex_unlock (&stmt_cache_lock);
  return NULL;
}

int
store_prepare (store *s, const char *sql, sqlite3_stmt **out, box_error **err)
{
  cached_stmt *slot;
  *out = stmt_cache_take (s->db, sql, &slot);
  if (*out)
    return 0;
  char *copy = slot ? strdup (sql) : NULL;
  int rc = sqlite3_prepare_v3 (s->db, sql, -1, copy ? SQLITE_PREPARE_PERSISTENT : 0, out, NULL);
  if (slot)
    {
      pthread_mutex_lock (&stmt_cache_lock);
      if (rc == SQLITE_OK && copy)
        *slot = (cached_stmt){ .db = s->db, .sql = TAKE_PTR (copy), .st = *out, .lent = true,
                               .last_used = ++stmt_cache_clock };
      else
        slot->lent = false;
      pthread_mutex_unlock (&stmt_cache_lock);
      free (copy);
    }
  if (rc != SQLITE_OK)
    return store_error (s, err, rc, "store: prepare");
  return 0;
}

void
store_stmt_release (sqlite3_stmt **st)
{
  if (!*st)
    return;
  pthread_mutex_lock (&stmt_cache_lock);
  for (cached_stmt *e = stmt_cache; e < stmt_cache + STMT_CACHE_SIZE; e++)
    if (e->st == *st)
      {
        /* reset now: a statement left mid-way holds its read transaction open */
        sqlite3_reset (e->st);
        sqlite3_clear_bindings (e->st);
        e->lent = false;
        pthread_mutex_unlock (&stmt_cache_lock);
        *st = NULL;
        return;
      }
  pthread_mutex_unlock (&stmt_cache_lock);
  sqlite3_finalize (*st);
  *st = NULL;
}

/* Runs one statement that returns no rows, through the cache. */
static int
run_cached (store *s, const char *sql, const char *what, box_error **err)
{
  _cleanup_stmt_ sqlite3_stmt *st = NULL;
  if (store_prepare (s, sql, &st, err) < 0)
    return box_err_code (err);
  return store_step_done (s, st, what, err);
}

static int
exec_sql (store *s, const char *sql, const char *what, box_error **err)
{
  int rc = sqlite3_exec (s->db, sql, NULL, NULL, NULL);
  if (rc != SQLITE_OK)
    return store_error (s, err, rc, what);
  return 0;
}

int
store_begin (store *s, box_error **err)
{
  return run_cached (s, "BEGIN IMMEDIATE", "store: begin transaction", err);
}

int
store_commit (store *s, box_error **err)
{
  if (run_cached (s, "COMMIT", "store: commit", err) < 0)
    return box_err_code (err);
  if (s->events_pending)
    touch_events_stamp (s);
  return 0;
}

void
store_rollback (store *s)
{
  box_error *ignored = NULL;
  if (!sqlite3_get_autocommit (s->db))
    run_cached (s, "ROLLBACK", "store: roll back", &ignored);
  box_error_free (ignored);
  s->events_pending = false;
}

int
store_tx_begin (store *s, store_tx *tx, box_error **err)
{
  tx->s = s;
  tx->open = 0;
  if (store_begin (s, err) < 0)
    return box_err_code (err);
  tx->open = 1;
  return 0;
}

int
store_tx_commit (store_tx *tx, box_error **err)
{
  if (store_commit (tx->s, err) < 0)
    return box_err_code (err);
  tx->open = 0;
  return 0;
}

void
store_tx_cleanup (store_tx *tx)
{
  if (tx->s && tx->open)
    store_rollback (tx->s);
}

static int
read_user_version (store *s, int *out, box_error **err)
{
  _cleanup_stmt_ sqlite3_stmt *st = NULL;
  if (store_prepare (s, "PRAGMA user_version", &st, err) < 0)
    return box_err_code (err);
  int rc = sqlite3_step (st);
  if (rc != SQLITE_ROW)
    return store_error (s, err, rc, "store: read schema version");
  *out = sqlite3_column_int (st, 0);
  return 0;
}

/* Applies the missing migrations, each in its own IMMEDIATE transaction that re-reads the
 * version under the write lock: two processes opening a fresh store at once both arrive
 * here, and the second must see what the first did. */
static int
migrate (store *s, box_error **err)
{
  for (;;)
    {
      int version;
      if (read_user_version (s, &version, err) < 0)
        return box_err_code (err);
      if (version > STORE_SCHEMA_VERSION)
        return box_err (err, BOX_E_UNSUPPORTED,
                        "store schema version %d is newer than this box understands (%d); "
                        "use a newer box",
                        version, STORE_SCHEMA_VERSION);
      if (version == STORE_SCHEMA_VERSION)
        {
          s->schema_version = version;
          return 0;
        }

      _cleanup_tx_ store_tx tx = { 0 };
      if (store_tx_begin (s, &tx, err) < 0)
        return box_err_wrap (err, "migrate store");
      if (read_user_version (s, &version, err) < 0)
        return box_err_code (err);
      if (version >= STORE_SCHEMA_VERSION)
        continue; /* another process migrated meanwhile; tx rolls back (nothing written) */

      if (exec_sql (s, store_migrations[version], "store: migrate", err) < 0)
        return box_err_wrap (err, "schema version %d to %d", version, version + 1);
      char pragma[64];
      snprintf (pragma, sizeof pragma, "PRAGMA user_version = %d", version + 1);
      if (exec_sql (s, pragma, "store: set schema version", err) < 0)
        return box_err_code (err);
      if (store_tx_commit (&tx, err) < 0)
        return box_err_wrap (err, "migrate store");
    }
}

/* One more wait for a lock (tries: those before it); false once STORE_BUSY_TIMEOUT_MS have
 * passed since the first. */
static bool
busy_wait (store *s, int tries)
{
  int64_t now = time_monotonic_ms ();
  if (tries == 0)
    s->busy_since_ms = now;
  else if (now - s->busy_since_ms >= STORE_BUSY_TIMEOUT_MS)
    return false;
  long sleep_us = STORE_BUSY_MAX_SLEEP_US;
  if (tries < 16 && (STORE_BUSY_FIRST_SLEEP_US << tries) < STORE_BUSY_MAX_SLEEP_US)
    sleep_us = STORE_BUSY_FIRST_SLEEP_US << tries;
  usleep (sleep_us);
  return true;
}

static int
busy_handler (void *arg, int tries)
{
  return busy_wait (arg, tries);
}

/* journal_mode=WAL needs a moment of exclusive access the first time. The busy handler
 * covers most of a concurrent opener's work, but SQLite answers SQLITE_BUSY at once where
 * waiting could deadlock (a connection that already reads, asking to write) and while
 * another connection rebuilds the WAL index: those are retried here, the same way. */
static int
set_wal_mode (store *s, box_error **err)
{
  for (int tries = 0;; tries++)
    {
      int rc = sqlite3_exec (s->db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL);
      if (rc == SQLITE_OK)
        return 0;
      if ((rc & 0xff) != SQLITE_BUSY || !busy_wait (s, tries))
        return store_error (s, err, rc, "open store: set WAL mode");
    }
}

int
store_open (const char *path, store **out, box_error **err)
{
  _cleanup_ (store_closep) store *s = calloc (1, sizeof *s);
  if (!s || asprintf (&s->events_stamp, "%s" STORE_EVENTS_STAMP_SUFFIX, path) < 0)
    return box_err (err, BOX_E_INTERNAL, "out of memory");

  int rc = sqlite3_open_v2 (path, &s->db,
                            SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
                                | SQLITE_OPEN_EXRESCODE,
                            NULL);
  if (rc != SQLITE_OK)
    {
      box_err (err, rc == SQLITE_CANTOPEN ? BOX_E_IO : BOX_E_IO, "open store %s: %s", path,
               s->db ? sqlite3_errmsg (s->db) : sqlite3_errstr (rc));
      return box_err_code (err);
    }
  sqlite3_busy_handler (s->db, busy_handler, s);
  /* Most processes open the store for one short command. By default the last connection to
   * close checkpoints the WAL into the database (two fsyncs) and deletes it, and the next
   * process recreates it (more fsyncs): milliseconds on every `box` call. Keep the WAL and
   * checkpoint as described at STORE_AUTOCHECKPOINT_PAGES_TEXT instead. */
  sqlite3_db_config (s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
  int persist_wal = 1;
  sqlite3_file_control (s->db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist_wal);

  /* synchronous=NORMAL is durable across process crashes in WAL mode, which is the failure
   * the engine must survive (kill -9 at any point). */
  if (set_wal_mode (s, err) < 0
      || exec_sql (s, "PRAGMA synchronous = NORMAL", "open store: set synchronous", err) < 0
      || exec_sql (s, "PRAGMA foreign_keys = ON", "open store: enable foreign keys", err) < 0
      || exec_sql (s, "PRAGMA wal_autocheckpoint = " STORE_AUTOCHECKPOINT_PAGES_TEXT,
                   "open store: set checkpoint interval", err)
             < 0)
    return box_err_wrap (err, "%s", path);

  if (migrate (s, err) < 0)
    return box_err_wrap (err, "%s", path);

  *out = TAKE_PTR (s);
  return 0;
}

static int
count_wal_frames (void *arg, sqlite3 *db, const char *name, int frames)
{
  (void) db;
  (void) name;
  ((store *) arg)->wal_frames = frames;
  return SQLITE_OK;
}

void
store_defer_checkpoints (store *s)
{
  /* a WAL hook replaces the automatic checkpoint (which is one) */
  sqlite3_wal_hook (s->db, count_wal_frames, s);
}

void
store_upkeep_if_due (store *s)
{
  if (s->wal_frames < STORE_DEFERRED_CHECKPOINT_PAGES)
    return;
  s->wal_frames = 0;
  /* nothing here waits: a trim that meets a writer is left to a later upkeep, a checkpoint
   * that meets a reader or a writer does what it can, and the restart below is left to a
   * later monitor */
  sqlite3_busy_handler (s->db, NULL, NULL);
  box_error *ignored = NULL;
  store_event_trim (s, STORE_EVENTS_KEPT, &ignored);
  box_error_freep (&ignored);
  int log_frames = 0, checkpointed = 0;
  int rc = sqlite3_wal_checkpoint_v2 (s->db, "main", SQLITE_CHECKPOINT_PASSIVE, &log_frames,
                                      &checkpointed);
  /* The next process that opens the store with no other connection open (in a loop of
   * `box run --rm`, nearly every CLI) rebuilds the WAL index from every frame since the WAL
   * last restarted: traced, 230 frames and 0.3 to 0.5 ms of that CLI's start. SQLite
   * restarts the WAL at the first write after a complete checkpoint, with an fsync of the
   * new WAL header; this write (the schema version, unchanged: one page) is that first
   * write, here where nobody waits for its fsync. Truncating the WAL instead
   * (SQLITE_CHECKPOINT_TRUNCATE) moves that fsync, and the WAL file's new blocks, to the
   * next box's create. */
  if (rc == SQLITE_OK && log_frames > 0 && checkpointed == log_frames
      && sqlite3_exec (s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK)
    {
      /* rewritten only as it is, read under the write lock: a newer box that migrated the
       * store while this process ran must not see its version set back */
      int version = -1;
      if (read_user_version (s, &version, &ignored) == 0 && version == s->schema_version)
        {
          char pragma[64];
          snprintf (pragma, sizeof pragma, "PRAGMA user_version = %d", version);
          sqlite3_exec (s->db, pragma, NULL, NULL, NULL);
        }
      box_error_free (ignored);
      if (sqlite3_exec (s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        store_rollback (s);
    }
  sqlite3_busy_handler (s->db, busy_handler, s);
}

void
store_close (store *s)
{
  if (!s)
    return;
  if (s->db)
    {
      pthread_mutex_lock (&stmt_cache_lock);
      for (cached_stmt *e = stmt_cache; e < stmt_cache + STMT_CACHE_SIZE; e++)
        if (e->st && e->db == s->db)
          {
            if (e->lent)
              e->st = NULL; /* its user's release finalizes it (it is no longer cached) */
            cached_stmt_drop (e);
          }
      pthread_mutex_unlock (&stmt_cache_lock);
      sqlite3_close_v2 (s->db);
    }
  free (s->events_stamp);
  free (s);
}

sqlite3 *
store_db (store *s)
{
  return s->db;
}

int
store_schema_version (store *s)
{
  return s->schema_version;
}

int
store_column_strdup (sqlite3_stmt *st, int col, char **out)
{
  const unsigned char *text = sqlite3_column_text (st, col);
  if (!text)
    {
      *out = NULL;
      return 0;
    }
  *out = strdup ((const char *) text);
  return *out ? 0 : -1;
}

int
store_collect_rows (store *s, const char *sql, const char *key, void *items, size_t *n,
                    size_t item_size, store_row_reader read_row, const char *what, box_error **err)
{
  _cleanup_stmt_ sqlite3_stmt *st = NULL;
  if (store_prepare (s, sql, &st, err) < 0)
    return box_err_code (err);
  if (key)
    sqlite3_bind_text (st, 1, key, -1, SQLITE_STATIC);
  char *array;
  memcpy (&array, items, sizeof array);
  int rc;
  while ((rc = sqlite3_step (st)) == SQLITE_ROW)
    {
      /* room for this row and the zeroed item that ends the array */
      char *bigger = realloc (array, (*n + 2) * item_size);
      if (!bigger)
        return box_err (err, BOX_E_INTERNAL, "out of memory");
      array = bigger;
      memcpy (items, &array, sizeof array);
      memset (array + *n * item_size, 0, 2 * item_size);
      void *item = array + *n * item_size;
      (*n)++;
      if (read_row (s, st, item, err) < 0)
        return box_err_code (err);
    }
  if (rc != SQLITE_DONE)
    {
      char context[128];
      snprintf (context, sizeof context, "store: %s", what);
      return store_error (s, err, rc, context);
    }
  return 0;
}

int
store_read_one_row (store *s, const char *sql, const char *key, void *item,
                    store_row_reader read_row, const char *what, box_error **err)
{
  _cleanup_stmt_ sqlite3_stmt *st = NULL;
  if (store_prepare (s, sql, &st, err) < 0)
    return box_err_code (err);
  sqlite3_bind_text (st, 1, key, -1, SQLITE_STATIC);
  int rc = sqlite3_step (st);
  if (rc == SQLITE_DONE)
    return 0;
  if (rc != SQLITE_ROW)
    {
      char context[128];
      snprintf (context, sizeof context, "store: %s", what);
      return store_error (s, err, rc, context);
    }
  if (read_row (s, st, item, err) < 0)
    return box_err_code (err);
  return 1;
}

static int
read_label_row (store *s, sqlite3_stmt *st, void *item, box_error **err)
{
  (void) s;
  box_label *label = item;
  if (store_column_strdup (st, 0, &label->key) < 0
      || store_column_strdup (st, 1, &label->value) < 0)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  return 0;
}

int
store_collect_labels (store *s, const char *sql, const char *key, box_label **labels, size_t *n,
                      const char *what, box_error **err)
{
  return store_collect_rows (s, sql, key, labels, n, sizeof **labels, read_label_row, what, err);
}
