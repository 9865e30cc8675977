/* Owns the SQL of every schema version. */
#include "store/schema.h"

#include "store/store.h"

const char *const store_migrations[] = {
  /* 1: boxes */
  "CREATE TABLE boxes ("
  "  id           TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 64),"
  "  name         TEXT NOT NULL UNIQUE,"
  "  external_ref TEXT UNIQUE,"
  "  image        TEXT NOT NULL,"
  "  config       TEXT NOT NULL DEFAULT '{}',"
  "  state        TEXT NOT NULL DEFAULT 'created',"
  "  pid          INTEGER NOT NULL DEFAULT 0,"
  "  exit_code    INTEGER NOT NULL DEFAULT 0,"
  "  created_ns   INTEGER NOT NULL,"
  "  started_ns   INTEGER NOT NULL DEFAULT 0,"
  "  finished_ns  INTEGER NOT NULL DEFAULT 0"
  ") WITHOUT ROWID;"
  "CREATE INDEX boxes_created ON boxes (created_ns);",

  /* 2: labels of boxes, and the event log */
  "CREATE TABLE box_labels ("
  "  box_id TEXT NOT NULL REFERENCES boxes (id) ON DELETE CASCADE ON UPDATE CASCADE,"
  "  key    TEXT NOT NULL,"
  "  value  TEXT NOT NULL,"
  "  PRIMARY KEY (box_id, key)"
  ") WITHOUT ROWID;"
  "CREATE INDEX box_labels_key ON box_labels (key, value);"
  "CREATE TABLE events ("
  "  seq        INTEGER PRIMARY KEY AUTOINCREMENT,"
  "  time_ns    INTEGER NOT NULL,"
  "  type       TEXT NOT NULL,"
  "  action     TEXT NOT NULL,"
  "  actor_id   TEXT NOT NULL,"
  "  attributes TEXT NOT NULL DEFAULT '{}'"
  ");"
  "CREATE INDEX events_time ON events (time_ns);",
};

const size_t store_migration_count = sizeof store_migrations / sizeof store_migrations[0];

_Static_assert (sizeof store_migrations / sizeof store_migrations[0] == STORE_SCHEMA_VERSION,
                "STORE_SCHEMA_VERSION must equal the number of migrations");
