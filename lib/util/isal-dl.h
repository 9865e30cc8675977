/* ISA-L's igzip, loaded on first use (see util/dynload.h for why): only layer decompression
 * decodes gzip, and mapping the library at every exec cost each box command 0.09 ms (`box
 * version`: 0.84 -> 0.75 ms without it). decompress.c calls box_isal_load before its first
 * use of the names below, which then go through the table. */
#ifndef BOX_UTIL_ISAL_DL_H
#define BOX_UTIL_ISAL_DL_H

#include <isa-l/igzip_lib.h>
#include <stdbool.h>

#define BOX_ISAL_FUNCTIONS(X)                                                                      \
  X (isal_inflate)                                                                                 \
  X (isal_inflate_init)

typedef struct box_isal_api {
#define BOX_ISAL_SLOT(name) __typeof__ (&name) name;
  BOX_ISAL_FUNCTIONS (BOX_ISAL_SLOT)
#undef BOX_ISAL_SLOT
} box_isal_api;

extern box_isal_api box_isal;

/* Loads libisal once (thread-safe); false when it cannot be loaded, and then *why says why. */
bool box_isal_load (const char **why);

#define isal_inflate (box_isal.isal_inflate)
#define isal_inflate_init (box_isal.isal_inflate_init)

#endif
