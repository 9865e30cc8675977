/* Errors as objects: a code from the public enum plus a message that gains context on the way
 * up ("layer sha256:ab12: open etc/passwd: Permission denied"). Every helper returns the
 * (negative) code so a failure path is one line: `return box_err (err, ...)`. */
#ifndef BOX_UTIL_ERROR_H
#define BOX_UTIL_ERROR_H

#include "box/box.h"

struct box_error {
  box_error_code code;
  int errno_value; /* the errno behind an I/O error, 0 otherwise */
  char *message;
};

/* Sets *err (when err is non-NULL and *err is NULL) and returns code. */
int box_err (box_error **err, box_error_code code, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

/* Like box_err with ": strerror(errno_value)" appended; the code follows from the errno
 * (ENOENT → not found, EEXIST → conflict, EACCES/EPERM → permission, EBUSY → busy, ...). */
int box_err_errno (box_error **err, int errno_value, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

/* Prefixes the message of *err with "context: " and returns its code (BOX_E_INTERNAL when
 * nothing was set, which is a bug in the callee). */
int box_err_wrap (box_error **err, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

/* Returns the code of *err, for callers that passed a local error. */
int box_err_code (box_error **err);

/* Hands a local error to the caller's out-parameter (or frees it); returns its code. */
int box_err_propagate (box_error **dst, box_error **src);

/* Maps an errno to the error code used by box_err_errno. */
box_error_code box_err_code_from_errno (int errno_value);

void box_error_freep (box_error **err);

#endif
