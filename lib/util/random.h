/* Randomness from getrandom(2) and the ids made from it. */
#ifndef BOX_UTIL_RANDOM_H
#define BOX_UTIL_RANDOM_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

int random_bytes (void *buf, size_t len, box_error **err);

/* 64 lowercase hex chars (256 random bits) plus NUL. */
int random_id (char out[65], box_error **err);

/* Uniform value in [0, bound) (bound > 0), without modulo bias. */
int random_below (uint32_t bound, uint32_t *out, box_error **err);

#endif
