/* --since / --until values. */
#ifndef BOX_CLI_TIMEARG_H
#define BOX_CLI_TIMEARG_H

#include <stdint.h>

/* 0 and *out_ns (ns since the epoch), or -1 when s is none of the accepted forms. */
int cli_parse_time (const char *s, int64_t *out_ns);

/* Now, in ns since the epoch (what --since and --until compare with). */
int64_t cli_now_ns (void);

#endif
