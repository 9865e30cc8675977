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

  /* 3: images, their names, and the layers and blobs they hold on to */
  "CREATE TABLE images ("
  "  id                  TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 71),"
  "  created_ns          INTEGER NOT NULL,"
  "  added_ns            INTEGER NOT NULL,"
  "  size                INTEGER NOT NULL DEFAULT 0,"
  "  architecture        TEXT NOT NULL DEFAULT '',"
  "  os                  TEXT NOT NULL DEFAULT '',"
  "  config              TEXT NOT NULL,"
  "  manifest_digest     TEXT,"
  "  manifest_media_type TEXT"
  ") WITHOUT ROWID;"
  "CREATE TABLE image_labels ("
  "  image_id TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,"
  "  key      TEXT NOT NULL,"
  "  value    TEXT NOT NULL,"
  "  PRIMARY KEY (image_id, key)"
  ") WITHOUT ROWID;"
  "CREATE TABLE image_tags ("
  "  reference TEXT PRIMARY KEY NOT NULL,"
  "  image_id  TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,"
  "  added_ns  INTEGER NOT NULL"
  ") WITHOUT ROWID;"
  "CREATE INDEX image_tags_image ON image_tags (image_id);"
  "CREATE TABLE image_digests ("
  "  reference TEXT PRIMARY KEY NOT NULL,"
  "  image_id  TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE"
  ") WITHOUT ROWID;"
  "CREATE INDEX image_digests_image ON image_digests (image_id);"
  "CREATE TABLE layers ("
  "  chain_id   TEXT PRIMARY KEY NOT NULL,"
  "  diff_id    TEXT NOT NULL,"
  "  parent     TEXT,"
  "  size       INTEGER NOT NULL DEFAULT 0,"
  "  created_ns INTEGER NOT NULL"
  ") WITHOUT ROWID;"
  "CREATE TABLE image_layers ("
  "  image_id        TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,"
  "  position        INTEGER NOT NULL,"
  "  chain_id        TEXT NOT NULL REFERENCES layers (chain_id),"
  "  blob_digest     TEXT,"
  "  blob_media_type TEXT,"
  "  blob_size       INTEGER NOT NULL DEFAULT 0,"
  "  PRIMARY KEY (image_id, position)"
  ") WITHOUT ROWID;"
  "CREATE INDEX image_layers_chain ON image_layers (chain_id);"
  "CREATE TABLE image_blobs ("
  "  image_id TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,"
  "  digest   TEXT NOT NULL,"
  "  PRIMARY KEY (image_id, digest)"
  ") WITHOUT ROWID;"
  "CREATE INDEX image_blobs_digest ON image_blobs (digest);",

  /* 4: the lifecycle: who watches a running box (its monitor, identified by pid and start
   * time so a recycled pid is never mistaken for it), how its last run ended, and the
   * backend it runs on */
  "ALTER TABLE boxes ADD COLUMN monitor_pid INTEGER NOT NULL DEFAULT 0;"
  "ALTER TABLE boxes ADD COLUMN monitor_start INTEGER NOT NULL DEFAULT 0;"
  "ALTER TABLE boxes ADD COLUMN oom_killed INTEGER NOT NULL DEFAULT 0;"
  "ALTER TABLE boxes ADD COLUMN error TEXT NOT NULL DEFAULT '';"
  "ALTER TABLE boxes ADD COLUMN runtime TEXT NOT NULL DEFAULT '';"
  "CREATE INDEX boxes_live ON boxes (state) WHERE state IN ('running', 'paused', 'restarting');",
};

const size_t store_migration_count = sizeof store_migrations / sizeof store_migrations[0];

_Static_assert (sizeof store_migrations / sizeof store_migrations[0] == STORE_SCHEMA_VERSION,
                "STORE_SCHEMA_VERSION must equal the number of migrations");
