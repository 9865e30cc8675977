/* The state store: one SQLite database (box.db, WAL) shared by every process that opens the
 * state directory. Owns the connection, the schema and its forward migrations, and
 * transactions. The row modules (boxes.h, events.h) hold the SQL for their tables. */
#ifndef BOX_STORE_STORE_H
#define BOX_STORE_STORE_H

#include <sqlite3.h>

#include "box/box.h"
#include "util/cleanup.h"
#include "util/error.h"

/* The schema this build writes; older stores are migrated forward on open, newer ones are
 * refused (an older binary must not scribble on a layout it does not know). */
#define STORE_SCHEMA_VERSION 4

typedef struct store store;

int store_open (const char *path, store **out, box_error **err);
void store_close (store *s);
DEFINE_POINTER_CLEANUP (store, store_close)

/* The newest events the event log keeps (docker keeps 256, in its daemon's memory): older
 * ones are deleted with the store's upkeep (store_upkeep_if_due). */
#define STORE_EVENTS_KEPT 10000

/* For a process that has a better moment for checkpoints than right after its commits (a
 * box's monitor, once its client has the exit code): no automatic checkpoint on this
 * connection; store_upkeep_if_due does it then. */
void store_defer_checkpoints (store *s);
/* When this connection's commits left the WAL longer than a box run's worth of pages: the
 * event log trimmed to STORE_EVENTS_KEPT, then a checkpoint that never waits for readers or
 * writers and, when it was complete, the write that restarts the WAL (see store.c). */
void store_upkeep_if_due (store *s);

sqlite3 *store_db (store *s);

/* SQLite tells no other process about a commit. Readers of the events table learn of new
 * events from a small file beside the database, the events stamp (<database>-events): after
 * every committed transaction that appended an event, the writer touches it (its mtime
 * changes: inotify IN_ATTRIB), so a reader can sleep on an inotify watch of it and then
 * query. The touch comes after the commit, so what wakes a reader is already visible. */
const char *store_events_stamp_path (store *s);
/* Creates the stamp when missing (a reader does this before it watches the file). */
int store_events_stamp_ensure (store *s, box_error **err);
/* Marks that the current transaction appended an event: the stamp is touched once it commits
 * (at once when no transaction is open: the statement committed itself). */
void store_events_appended (store *s);
int store_schema_version (store *s);

/* BEGIN IMMEDIATE: takes the write lock up front, so a read-then-write transaction cannot
 * fail half-way with SQLITE_BUSY after it has decided what to write. */
int store_begin (store *s, box_error **err);
int store_commit (store *s, box_error **err);
void store_rollback (store *s);

/* A transaction that rolls back when it goes out of scope uncommitted. */
typedef struct store_tx {
  store *s;
  int open;
} store_tx;
int store_tx_begin (store *s, store_tx *tx, box_error **err);
int store_tx_commit (store_tx *tx, box_error **err);
void store_tx_cleanup (store_tx *tx);
#define _cleanup_tx_ _cleanup_ (store_tx_cleanup)

/* Turns a SQLite result into a box_error ("<what>: <sqlite message>"). */
int store_error (store *s, box_error **err, int rc, const char *what);

/* Prepares a statement, or lends one prepared before for the same SQL on this connection;
 * failures become box_errors naming the statement. Give it back with store_stmt_release
 * (_cleanup_stmt_), never sqlite3_finalize. */
int store_prepare (store *s, const char *sql, sqlite3_stmt **out, box_error **err);

/* Steps a statement that returns no rows: 0 when done, else store_error with what. */
int store_step_done (store *s, sqlite3_stmt *st, const char *what, box_error **err);

/* Gives a statement back: a lent one is reset for its next user, any other finalized. */
void store_stmt_release (sqlite3_stmt **st);
#define _cleanup_stmt_ _cleanup_ (store_stmt_release)

/* Reads the current row into item (zeroed, and already counted in the caller's array, so
 * a failure leaves it for the array's free); < 0 with *err on failure. */
typedef int (*store_row_reader) (store *s, sqlite3_stmt *st, void *item, box_error **err);

/* Runs sql (with ?1 bound to key unless key is NULL) and appends every row to the array at
 * *items (a pointer to item_size-byte items, *n of them), growing it; the array always ends
 * with one zeroed item past *n (a NULL-terminated list of pointers). On failure the items
 * read so far, the partly read one included, stay in *items / *n for the caller to free with
 * the rest of what it owns. what names the rows in errors ("store: <what>: ..."). */
int store_collect_rows (store *s, const char *sql, const char *key, void *items, size_t *n,
                        size_t item_size, store_row_reader read_row, const char *what,
                        box_error **err);

/* Runs sql (?1 bound to key) and reads its first row into item with read_row: 1 when there
 * was a row, 0 when there was none. */
int store_read_one_row (store *s, const char *sql, const char *key, void *item,
                        store_row_reader read_row, const char *what, box_error **err);

/* Reads (key, value) rows, key bound to ?1, into a box_label array (see store_collect_rows). */
int store_collect_labels (store *s, const char *sql, const char *key, box_label **labels, size_t *n,
                          const char *what, box_error **err);

/* Duplicates a text column (NULL stays NULL); false only when allocation failed. */
int store_column_strdup (sqlite3_stmt *st, int col, char **out);

#endif
