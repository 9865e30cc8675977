/* The part of `top` that reads docker's ps_args, for tests and the fuzzer. */
#ifndef BOX_ENGINE_TOP_H
#define BOX_ENGINE_TOP_H

#include <stddef.h>

#include "box/box.h"

/* The column headers top shows for ps_args (NULL or "": "-ef"), as one string of headers
 * separated by single spaces (free()); BOX_E_INVALID for an option or keyword ps would take
 * that top does not support. *out_n gets the number of columns (at least 1). */
int engine_top_columns (const char *ps_args, char **out_headers, size_t *out_n,
                        box_error **err);

#endif
