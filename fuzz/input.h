/* What the fuzz targets share: libFuzzer's entry point, the input as a C string, a scratch
 * directory. */
#ifndef BOX_FUZZ_INPUT_H
#define BOX_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>

/* libFuzzer's entry point, which each target defines. */
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* The input as a NUL-terminated copy (free() it); NULL when out of memory. Parsers that take
 * C strings see the input up to its first NUL. */
char *fuzz_input_string (const uint8_t *data, size_t size);

/* A fresh directory $TMPDIR/<prefix>-XXXXXX (free() the path); aborts when it cannot be made. */
char *fuzz_make_temp_dir (const char *prefix);

#endif
