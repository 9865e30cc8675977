/* Rows of the boxes table (and their labels). Callers own transactions; each function here
 * is one or a few statements. Lookups fill a public box_box. */
#ifndef BOX_STORE_BOXES_H
#define BOX_STORE_BOXES_H

#include <stdbool.h>

#include "box/box.h"
#include "store/store.h"

/* Inserts a box and its labels. A taken name or external_ref is BOX_E_CONFLICT naming the
 * box that holds it. Call inside a transaction. */
int store_box_insert (store *s, const box_box *box, box_error **err);

/* Each returns 1 and fills *out when found, 0 when not. */
int store_box_get_by_id (store *s, const char *id, box_box **out, box_error **err);
int store_box_get_by_name (store *s, const char *name, box_box **out, box_error **err);
int store_box_get_by_external_ref (store *s, const char *ref, box_box **out, box_error **err);

/* Counts ids starting with prefix (stops at 2: the caller only needs 0, 1 or "many"); when
 * exactly one matches, *out is that box. */
int store_box_find_by_id_prefix (store *s, const char *prefix, box_box **out, box_error **err);

int store_box_list (store *s, box_box ***out, size_t *out_n, box_error **err);

/* Renames; a taken name is BOX_E_CONFLICT naming its holder. Call inside a transaction. */
int store_box_set_name (store *s, const char *id, const char *name, box_error **err);

/* Records why the box failed (its Error) in a transaction of its own; exit_code replaces an
 * exit code of 0 (docker's habit for a start that failed), 0 keeps the box's. */
int store_box_set_error (store *s, const char *id, const char *message, int exit_code,
                         box_error **err);

/* Records a state change; the time fields are only written when non-zero. */
typedef struct store_box_state_update {
  box_state state;
  int pid;
  int exit_code;
  int64_t started_ns;
  int64_t finished_ns;
  int monitor_pid;       /* 0 when no monitor watches the box */
  int64_t monitor_start; /* the monitor's start time (clock ticks since boot, /proc stat) */
  int oom_killed;
  const char *error;     /* NULL: "" */
} store_box_state_update;
int store_box_set_state (store *s, const char *id, const store_box_state_update *update,
                         box_error **err);

typedef struct store_box_monitor {
  int pid;
  int64_t start_ticks;
} store_box_monitor;

/* 1 and *out when the box exists, 0 when not. */
int store_box_get_monitor (store *s, const char *id, store_box_monitor *out, box_error **err);

/* Boxes the store says are running (or paused, restarting): what reconcile checks. */
typedef struct store_live_box {
  char id[BOX_ID_HEX_LENGTH + 1];
  store_box_monitor monitor;
} store_live_box;
int store_box_list_live (store *s, store_live_box **out, size_t *out_n, box_error **err);

/* Deletes the row (labels go with it). Returns 1 when a row was deleted, 0 when none. */
int store_box_delete (store *s, const char *id, box_error **err);

/* box_state <-> its stored word. */
int box_state_from_name (const char *name, box_state *out);

#endif
