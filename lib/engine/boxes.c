/* Owns the box record operations of the public API: create, list, rename, remove, and the
 * container events they record (each change and its event in one transaction). */
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "store/boxes.h"
#include "store/events.h"
#include "util/json.h"
#include "util/random.h"
#include "util/strutil.h"
#include "util/timeutil.h"

DEFINE_POINTER_CLEANUP (box_box, box_box_free)

int
engine_box_event (box_engine *eng, const box_box *box, const char *action,
                  const char *extra_attributes_json, box_error **err)
{
  _cleanup_json_ json_t *attributes = json_object ();
  if (!attributes)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  /* docker's container events carry the labels as attributes, then name and image */
  for (size_t i = 0; i < box->n_labels; i++)
    json_object_set_new (attributes, box->labels[i].key, json_string (box->labels[i].value));
  json_object_set_new (attributes, "name", json_string (box->name));
  json_object_set_new (attributes, "image", json_string (box->image));
  if (extra_attributes_json)
    {
      _cleanup_json_ json_t *extra = NULL;
      if (json_parse_object (extra_attributes_json, "event attributes", &extra, err) < 0)
        return box_err_code (err);
      json_object_update (attributes, extra);
    }
  _cleanup_free_ char *text = json_dumps (attributes, JSON_COMPACT | JSON_SORT_KEYS);
  if (!text)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  return store_event_append (eng->store, 0, "container", action, box->id, text, err);
}

static int
validate_labels (const box_label *labels, size_t n, box_error **err)
{
  for (size_t i = 0; i < n; i++)
    {
      const char *key = labels[i].key, *value = labels[i].value;
      if (!key || !*key)
        return box_err (err, BOX_E_INVALID, "invalid label: the key must not be empty");
      if (!value)
        return box_err (err, BOX_E_INVALID, "invalid label %s: no value", key);
      if (!utf8_is_valid (key, strlen (key), true) || !utf8_is_valid (value, strlen (value), false))
        return box_err (
            err, BOX_E_INVALID,
            "invalid label %s: keys must be UTF-8 without control characters, values UTF-8", key);
    }
  return 0;
}

int
box_box_create (box_engine *eng, const box_box_create_options *opts, box_box **out, box_error **err)
{
  if (!opts || opts->version != BOX_BOX_CREATE_OPTIONS_VERSION)
    return box_err (err, BOX_E_INVALID, "box_box_create_options: missing or unknown version");
  if (opts->run)
    return engine_box_create_from_image (eng, opts, out, err);
  return engine_box_record (eng, opts, NULL, NULL, NULL, out, err);
}

int
engine_box_record (box_engine *eng, const box_box_create_options *opts, const char *id,
                   const char *config_json, const char *runtime, box_box **out, box_error **err)
{
  if (!opts->image || !*opts->image)
    return box_err (err, BOX_E_INVALID, "create box: no image given");
  if (opts->name && box_name_validate (opts->name[0] == '/' ? opts->name + 1 : opts->name, err) < 0)
    return box_err_wrap (err, "create box");
  if (opts->external_ref && box_external_ref_validate (opts->external_ref, err) < 0)
    return box_err_wrap (err, "create box");
  if (validate_labels (opts->labels, opts->n_labels, err) < 0)
    return box_err_wrap (err, "create box");
  if (!config_json && opts->config_json)
    {
      /* the caller's own config (one the engine built is well formed) */
      config_json = opts->config_json;
      _cleanup_json_ json_t *config = NULL;
      if (json_parse_object (config_json, "box config", &config, err) < 0)
        return box_err_wrap (err, "create box");
    }

  box_box row = {
    .external_ref = (char *) opts->external_ref,
    .image = (char *) opts->image,
    .config_json = (char *) (config_json ? config_json : "{}"),
    .state = BOX_STATE_CREATED,
    .created_ns = time_now_ns (),
    .labels = (box_label *) opts->labels,
    .n_labels = opts->n_labels,
    .runtime = (char *) runtime,
  };
  if (id)
    memcpy (row.id, id, BOX_ID_HEX_LENGTH + 1);
  else if (random_id (row.id, err) < 0)
    return box_err_wrap (err, "create box");

  _cleanup_tx_ store_tx tx = { 0 };
  if (store_tx_begin (eng->store, &tx, err) < 0)
    return box_err_wrap (err, "create box");

  _cleanup_free_ char *generated_name = NULL;
  if (opts->name)
    row.name = (char *) (opts->name[0] == '/' ? opts->name + 1 : opts->name);
  else
    {
      if (engine_generate_name (eng, &generated_name, err) < 0)
        return box_err_wrap (err, "create box");
      row.name = generated_name;
    }

  if (store_box_insert (eng->store, &row, err) < 0)
    return box_err_wrap (err, "create box");
  if (engine_box_event (eng, &row, "create", NULL, err) < 0)
    return box_err_wrap (err, "create box");
  if (store_tx_commit (&tx, err) < 0)
    return box_err_wrap (err, "create box");

  if (out)
    {
      int found = store_box_get_by_id (eng->store, row.id, out, err);
      if (found < 0)
        return found;
      if (found == 0)
        return box_err (err, BOX_E_CONFLICT, "create box: box %s was removed meanwhile", row.id);
    }
  return 0;
}

int
box_box_list (box_engine *eng, box_box ***out, size_t *out_n, box_error **err)
{
  return store_box_list (eng->store, out, out_n, err);
}

int
box_box_rename (box_engine *eng, const char *ref, const char *new_name, box_error **err)
{
  const char *name = new_name && new_name[0] == '/' ? new_name + 1 : new_name;
  if (box_name_validate (name, err) < 0)
    return box_err_wrap (err, "rename %s", ref ? ref : "");

  _cleanup_tx_ store_tx tx = { 0 };
  if (store_tx_begin (eng->store, &tx, err) < 0)
    return box_err_wrap (err, "rename %s", ref);
  _cleanup_ (box_box_freep) box_box *box = NULL;
  if (engine_resolve_box (eng, ref, &box, err) < 0)
    return box_err_code (err);
  if (strcmp (box->name, name) == 0)
    return box_err (err, BOX_E_CONFLICT, "rename %s: the box is already named \"%s\"", ref, name);
  if (store_box_set_name (eng->store, box->id, name, err) < 0)
    return box_err_wrap (err, "rename %s", ref);

  _cleanup_json_ json_t *extra = json_pack ("{s:s}", "oldName", box->name);
  _cleanup_free_ char *extra_text = extra ? json_dumps (extra, JSON_COMPACT) : NULL;
  if (!extra_text)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  free (box->name);
  box->name = strdup (name);
  if (!box->name)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  if (engine_box_event (eng, box, "rename", extra_text, err) < 0)
    return box_err_wrap (err, "rename %s", ref);
  if (store_tx_commit (&tx, err) < 0)
    return box_err_wrap (err, "rename %s", ref);
  return 0;
}

int
engine_box_remove_record (box_engine *eng, const char *ref, box_box **out_removed, box_error **err)
{
  _cleanup_tx_ store_tx tx = { 0 };
  if (store_tx_begin (eng->store, &tx, err) < 0)
    return box_err_wrap (err, "remove %s", ref);
  _cleanup_ (box_box_freep) box_box *box = NULL;
  if (engine_resolve_box (eng, ref, &box, err) < 0)
    return box_err_code (err);
  if (box->state == BOX_STATE_RUNNING || box->state == BOX_STATE_PAUSED
      || box->state == BOX_STATE_RESTARTING)
    return box_err (err, BOX_E_CONFLICT, "remove %s: the box is %s; stop it before removing it",
                    ref, box_state_name (box->state));
  if (store_box_delete (eng->store, box->id, err) < 0)
    return box_err_wrap (err, "remove %s", ref);
  if (engine_box_event (eng, box, "destroy", NULL, err) < 0)
    return box_err_wrap (err, "remove %s", ref);
  if (store_tx_commit (&tx, err) < 0)
    return box_err_wrap (err, "remove %s", ref);
  if (out_removed)
    *out_removed = TAKE_PTR (box);
  return 0;
}
