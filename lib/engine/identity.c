/* Owns the identity rules: what a valid name and external_ref are, and how a user-supplied
 * reference resolves to one box (exact id → exact name → exact external_ref → unique id
 * prefix; never a guess). */
#include <string.h>

#include "engine/engine.h"
#include "store/boxes.h"
#include "util/strutil.h"

static bool
is_name_start (char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool
is_name_char (char c)
{
  return is_name_start (c) || c == '_' || c == '.' || c == '-';
}

int
box_name_validate (const char *name, box_error **err)
{
  if (!name || !*name)
    return box_err (err, BOX_E_INVALID, "invalid box name \"\": a name must not be empty");
  size_t len = strlen (name);
  bool valid = len >= 2 && len <= BOX_NAME_MAX && is_name_start (name[0]);
  for (size_t i = 1; valid && i < len; i++)
    valid = is_name_char (name[i]);
  if (!valid)
    return box_err (err, BOX_E_INVALID,
                    "invalid box name \"%s\": only [a-zA-Z0-9][a-zA-Z0-9_.-]+ is allowed "
                    "(2 to %d characters)",
                    name, BOX_NAME_MAX);
  return 0;
}

int
box_external_ref_validate (const char *ref, box_error **err)
{
  if (!ref || !*ref)
    return box_err (err, BOX_E_INVALID, "invalid external ref: it must not be empty");
  size_t len = strlen (ref);
  if (len > BOX_EXTERNAL_REF_MAX)
    return box_err (err, BOX_E_INVALID, "invalid external ref: %zu bytes, at most %d allowed", len,
                    BOX_EXTERNAL_REF_MAX);
  if (!utf8_is_valid (ref, len, true))
    return box_err (err, BOX_E_INVALID,
                    "invalid external ref: it must be UTF-8 without control characters");
  return 0;
}

int
engine_resolve_box (box_engine *eng, const char *ref, box_box **out, box_error **err)
{
  if (!ref || !*ref)
    return box_err (err, BOX_E_INVALID, "empty box reference");

  int found;
  if (strlen (ref) == BOX_ID_HEX_LENGTH && str_is_lower_hex (ref))
    {
      if ((found = store_box_get_by_id (eng->store, ref, out, err)) != 0)
        return found < 0 ? found : 0;
    }

  /* docker prints names with a leading '/', and accepts them back that way */
  const char *name = ref[0] == '/' ? ref + 1 : ref;
  if (*name && (found = store_box_get_by_name (eng->store, name, out, err)) != 0)
    return found < 0 ? found : 0;

  if ((found = store_box_get_by_external_ref (eng->store, ref, out, err)) != 0)
    return found < 0 ? found : 0;

  if (str_is_lower_hex (ref))
    {
      found = store_box_find_by_id_prefix (eng->store, ref, out, err);
      if (found < 0)
        return found;
      if (found > 1)
        return box_err (err, BOX_E_AMBIGUOUS, "multiple IDs found with provided prefix: %s", ref);
      if (found == 1)
        return 0;
    }
  return box_err (err, BOX_E_NOT_FOUND, "No such box: %s", ref);
}

int
box_box_get (box_engine *eng, const char *ref, box_box **out, box_error **err)
{
  return engine_resolve_box (eng, ref, out, err);
}
