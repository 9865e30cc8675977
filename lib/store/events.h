/* The event log: every state change of every object, with a nanosecond timestamp. */
#ifndef BOX_STORE_EVENTS_H
#define BOX_STORE_EVENTS_H

#include <stdint.h>

#include "store/store.h"

typedef struct store_event {
  int64_t seq;
  int64_t time_ns;
  char *type;   /* "container", "image", "volume", "network" (docker's Type words) */
  char *action; /* "create", "start", "die", ... */
  char *actor_id;
  char *attributes; /* JSON object of strings */
} store_event;

void store_event_free (store_event *event);
void store_event_list_free (store_event **events, size_t n);

/* Appends one event (time_ns 0: now). attributes_json NULL means "{}". */
int store_event_append (store *s, int64_t time_ns, const char *type, const char *action,
                        const char *actor_id, const char *attributes_json, box_error **err);

/* Deletes the oldest events beyond the newest keep, STORE_EVENTS_TRIM_MAX of them at most
 * (their seqs are never given again). */
#define STORE_EVENTS_TRIM_MAX 1000
int store_event_trim (store *s, int64_t keep, box_error **err);

/* The seq of the newest event (0: none yet). Events are numbered in commit order: a writer
 * holds the store's write lock from its insert to its commit. */
int store_event_last_seq (store *s, int64_t *out, box_error **err);

/* Events with after_seq < seq and since_ns <= time_ns <= until_ns (until_ns 0: no bound),
 * oldest first. */
int store_event_list (store *s, int64_t after_seq, int64_t since_ns, int64_t until_ns,
                      store_event ***out, size_t *out_n, box_error **err);

#endif
