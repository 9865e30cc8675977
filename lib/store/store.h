/* The state store: one SQLite database (box.db, WAL) shared by every process that opens the
 * state directory. Owns the connection, the schema and its forward migrations, and
 * transactions. The row modules (boxes.h, events.h) hold the SQL for their tables. */
#ifndef BOX_STORE_STORE_H
#define BOX_STORE_STORE_H

#include <sqlite3.h>

#include "util/cleanup.h"
#include "util/error.h"

/* The schema this build writes; older stores are migrated forward on open, newer ones are
 * refused (an older binary must not scribble on a layout it does not know). */
#define STORE_SCHEMA_VERSION 4

typedef struct store store;

int store_open (const char *path, store **out, box_error **err);
void store_close (store *s);
DEFINE_POINTER_CLEANUP (store, store_close)

/* For a process that has a better moment for checkpoints than right after its commits (a
 * box's monitor, once its client has the exit code): no automatic checkpoint on this
 * connection; store_checkpoint_if_due does it then. */
void store_defer_checkpoints (store *s);
/* A passive checkpoint (never waits for readers or writers) when this connection's commits
 * left the WAL past half the automatic interval. */
void store_checkpoint_if_due (store *s);

sqlite3 *store_db (store *s);
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

/* Prepares a statement; failures become box_errors naming the statement. */
int store_prepare (store *s, const char *sql, sqlite3_stmt **out, box_error **err);

static inline void
sqlite3_finalizep (sqlite3_stmt **st)
{
  if (*st)
    sqlite3_finalize (*st);
}
#define _cleanup_stmt_ _cleanup_ (sqlite3_finalizep)

/* Duplicates a text column (NULL stays NULL); false only when allocation failed. */
int store_column_strdup (sqlite3_stmt *st, int col, char **out);

#endif
