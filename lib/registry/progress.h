/* Progress events of pulls and pushes, delivered to the caller's callback one at a time
 * (workers report from several threads) and thinned out: byte counts of one blob are passed
 * on at most every PROGRESS_BYTES_STEP bytes, plus the last one. */
#ifndef BOX_REGISTRY_PROGRESS_H
#define BOX_REGISTRY_PROGRESS_H

#include <stdint.h>

#include "box/box.h"
#include "util/cleanup.h"
#include "util/error.h"

/* A terminal redraw per 512 KiB per layer is smooth enough and costs nothing next to the
 * transfer. */
#define PROGRESS_BYTES_STEP (512 * 1024)

typedef struct progress_reporter progress_reporter;

/* fn may be NULL: every report is then a no-op. */
int progress_reporter_new (box_transfer_progress_fn fn, void *userdata, progress_reporter **out,
                           box_error **err);
void progress_reporter_free (progress_reporter *p);
DEFINE_POINTER_CLEANUP (progress_reporter, progress_reporter_free)

void progress_report (progress_reporter *p, box_transfer_status status, const char *id,
                      int64_t current, int64_t total);

#endif
