/* Owns box_error: creation, context wrapping and the code tables (names, HTTP, exit). */
#include "util/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Used when even the error cannot be allocated: callers still see a code and a message. */
static box_error out_of_memory_error = { BOX_E_INTERNAL, ENOMEM, (char *) "out of memory" };

static void
error_set (box_error **err, box_error_code code, int errno_value, char *message)
{
  if (!err || *err)
    {
      free (message);
      return;
    }
  box_error *e = calloc (1, sizeof *e);
  if (!e || !message)
    {
      free (e);
      free (message);
      *err = &out_of_memory_error;
      return;
    }
  e->code = code;
  e->errno_value = errno_value;
  e->message = message;
  *err = e;
}

int
box_err (box_error **err, box_error_code code, const char *fmt, ...)
{
  if (err && !*err)
    {
      char *message = NULL;
      va_list ap;
      va_start (ap, fmt);
      if (vasprintf (&message, fmt, ap) < 0)
        message = NULL;
      va_end (ap);
      error_set (err, code, 0, message);
    }
  return code;
}

box_error_code
box_err_code_from_errno (int errno_value)
{
  switch (errno_value)
    {
    case ENOENT:
    case ESRCH:
      return BOX_E_NOT_FOUND;
    case EEXIST:
    case ENOTEMPTY:
      return BOX_E_CONFLICT;
    case EACCES:
    case EPERM:
      return BOX_E_PERMISSION;
    case EBUSY:
    case ETXTBSY:
      return BOX_E_BUSY;
    case EINVAL:
    case ENAMETOOLONG:
    case ELOOP:
    case EXDEV:
      return BOX_E_INVALID;
    case ENOSYS:
    case EOPNOTSUPP:
    case ENODEV:
      return BOX_E_UNSUPPORTED;
    default:
      return BOX_E_IO;
    }
}

/* "<fmt, ap>: <suffix>", or NULL when out of memory. */
static char *
format_with_suffix (const char *suffix, const char *fmt, va_list ap)
{
  char *context = NULL, *message = NULL;
  if (vasprintf (&context, fmt, ap) < 0)
    return NULL;
  if (asprintf (&message, "%s: %s", context, suffix) < 0)
    message = NULL;
  free (context);
  return message;
}

int
box_err_errno (box_error **err, int errno_value, const char *fmt, ...)
{
  box_error_code code = box_err_code_from_errno (errno_value);
  if (err && !*err)
    {
      va_list ap;
      va_start (ap, fmt);
      char *message = format_with_suffix (strerror (errno_value), fmt, ap);
      va_end (ap);
      error_set (err, code, errno_value, message);
    }
  return code;
}

int
box_err_wrap (box_error **err, const char *fmt, ...)
{
  if (!err)
    return BOX_E_INTERNAL;
  if (!*err)
    return box_err (err, BOX_E_INTERNAL, "internal error: failure without an error message");
  if (*err == &out_of_memory_error)
    return (*err)->code;

  va_list ap;
  va_start (ap, fmt);
  char *message = format_with_suffix ((*err)->message, fmt, ap);
  va_end (ap);
  if (message)
    {
      free ((*err)->message);
      (*err)->message = message;
    }
  return (*err)->code;
}

int
box_err_code (box_error **err)
{
  return (err && *err) ? (*err)->code : BOX_E_INTERNAL;
}

int
box_err_propagate (box_error **dst, box_error **src)
{
  int code = box_err_code (src);
  if (dst && !*dst)
    *dst = *src;
  else
    box_error_free (*src);
  *src = NULL;
  return code;
}

void
box_error_freep (box_error **err)
{
  box_error_free (*err);
  *err = NULL;
}

/* ---- public ---------------------------------------------------------------------------- */

box_error_code
box_error_code_of (const box_error *err)
{
  return err ? err->code : BOX_OK;
}

const char *
box_error_message (const box_error *err)
{
  return err ? err->message : "";
}

void
box_error_free (box_error *err)
{
  if (!err || err == &out_of_memory_error)
    return;
  free (err->message);
  free (err);
}

static const struct {
  box_error_code code;
  const char *name;
  int http_status;
} error_table[] = {
  { BOX_OK, "ok", 200 },
  { BOX_E_INVALID, "invalid argument", 400 },
  { BOX_E_NOT_FOUND, "not found", 404 },
  { BOX_E_CONFLICT, "conflict", 409 },
  { BOX_E_AMBIGUOUS, "ambiguous", 409 },
  { BOX_E_BUSY, "in use", 409 },
  { BOX_E_IO, "I/O error", 500 },
  { BOX_E_UNSUPPORTED, "not supported", 501 },
  { BOX_E_INTERNAL, "internal error", 500 },
  { BOX_E_PERMISSION, "permission denied", 403 },
};

const char *
box_error_code_name (box_error_code code)
{
  for (size_t i = 0; i < sizeof error_table / sizeof error_table[0]; i++)
    if (error_table[i].code == code)
      return error_table[i].name;
  return "unknown error";
}

int
box_error_http_status (box_error_code code)
{
  for (size_t i = 0; i < sizeof error_table / sizeof error_table[0]; i++)
    if (error_table[i].code == code)
      return error_table[i].http_status;
  return 500;
}

int
box_error_exit_code (box_error_code code)
{
  /* docker's convention: 125 means the engine failed, whatever the reason; 126/127 and the
   * box's own exit codes are decided by the runtime, not here */
  return code == BOX_OK ? 0 : 125;
}
