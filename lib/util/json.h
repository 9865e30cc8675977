/* JSON through jansson, with scope-bound references. */
#ifndef BOX_UTIL_JSON_H
#define BOX_UTIL_JSON_H

#include <jansson.h>

#include "util/cleanup.h"
#include "util/error.h"

/* jansson (>= 2.11) provides json_decrefp */
#define _cleanup_json_ _cleanup_ (json_decrefp)

/* Parses text that must be a JSON object; the error names `what` and the position. */
static inline int
json_parse_object (const char *text, const char *what, json_t **out, box_error **err)
{
  json_error_t jerr;
  json_t *j = json_loads (text, JSON_REJECT_DUPLICATES, &jerr);
  if (!j)
    return box_err (err, BOX_E_INVALID, "%s: invalid JSON at line %d column %d: %s", what,
                    jerr.line, jerr.column, jerr.text);
  if (!json_is_object (j))
    {
      json_decref (j);
      return box_err (err, BOX_E_INVALID, "%s: expected a JSON object", what);
    }
  *out = j;
  return 0;
}

#endif
