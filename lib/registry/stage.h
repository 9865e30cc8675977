/* A pipeline stage on its own thread: the producer hands over bytes (copied into a small ring
 * of chunks, so memory stays bounded and the producer never waits on the consumer's I/O
 * unless the ring is full), the consumer callback sees them in order on the stage thread.
 * The pull pipeline uses one so that storing a blob (hashing + writing) runs beside the
 * decompression instead of before it. */
#ifndef BOX_REGISTRY_STAGE_H
#define BOX_REGISTRY_STAGE_H

#include <stddef.h>

#include "util/cleanup.h"
#include "util/error.h"

/* Consumes one chunk; <0 (with *err set) fails the stage: later writes fail with its error. */
typedef int (*stage_consume_fn) (void *userdata, const void *data, size_t len, box_error **err);

typedef struct stage stage;

int stage_start (stage_consume_fn consume, void *userdata, stage **out, box_error **err);

/* Copies data into the ring (blocking while it is full). Fails with the consumer's error once
 * the consumer failed. */
int stage_write (stage *s, const void *data, size_t len, box_error **err);

/* Hands over what is buffered, waits until the consumer saw everything, and returns its
 * result. */
int stage_finish (stage *s, box_error **err);

/* Stops the consumer (if still running) without waiting for buffered data, joins, frees.
 * Accepts NULL. */
void stage_free (stage *s);
DEFINE_POINTER_CLEANUP (stage, stage_free)

#endif
