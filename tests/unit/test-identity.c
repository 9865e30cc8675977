/* The identity rules, exactly: ids, names, external refs, and the resolution order
 * exact id → exact name → exact external_ref → unique id prefix, with ambiguity an error. */
#include "unit.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "store/boxes.h"
#include "store/events.h"

/* Inserts a box with a chosen id, which the public API never allows (ids are random). */
static void
insert_box (box_engine *eng, const char *id, const char *name, const char *external_ref)
{
  assert_int_equal (strlen (id), 64);
  box_box row = { .name = (char *) name,
                  .external_ref = (char *) external_ref,
                  .image = (char *) "img",
                  .config_json = (char *) "{}",
                  .created_ns = 1 };
  memcpy (row.id, id, 65);
  box_error *err = NULL;
  int rc = store_box_insert (eng->store, &row, &err);
  assert_ok (rc, err);
}

static char *
create_box (box_engine *eng, const char *name, const char *external_ref)
{
  box_box_create_options opts = BOX_BOX_CREATE_OPTIONS_INIT;
  opts.image = "img";
  opts.name = name;
  opts.external_ref = external_ref;
  return unit_create_box (eng, &opts);
}

/* Resolves ref and checks it lands on expected_id. */
static void
assert_resolves_to (box_engine *eng, const char *ref, const char *expected_id)
{
  box_box *box = NULL;
  box_error *err = NULL;
  int rc = box_box_get (eng, ref, &box, &err);
  if (rc < 0)
    fail_msg ("resolving '%s': %s", ref, box_error_message (err));
  assert_string_equal (box->id, expected_id);
  box_box_free (box);
}

static void
assert_resolve_fails (box_engine *eng, const char *ref, box_error_code code, const char *message)
{
  box_box *box = NULL;
  box_error *err = NULL;
  int rc = box_box_get (eng, ref, &box, &err);
  if (rc >= 0)
    fail_msg ("resolving '%s' should fail but found %s", ref, box->id);
  assert_int_equal (rc, code);
  assert_int_equal (box_error_code_of (err), code);
  if (message)
    assert_string_equal (box_error_message (err), message);
  assert_null (box);
  box_error_free (err);
}

static void
test_ids_are_64_lowercase_hex_and_distinct (void **state)
{
  unit_engine_fixture *f = *state;
  char *a = create_box (f->eng, NULL, NULL), *b = create_box (f->eng, NULL, NULL);
  for (const char *id = a; *id; id++)
    assert_true ((*id >= '0' && *id <= '9') || (*id >= 'a' && *id <= 'f'));
  assert_int_equal (strlen (a), 64);
  assert_string_not_equal (a, b);
  free (a);
  free (b);
}

static void
test_exact_id_resolves (void **state)
{
  unit_engine_fixture *f = *state;
  char *id = create_box (f->eng, "web", NULL);
  assert_resolves_to (f->eng, id, id);
  free (id);
}

static void
test_exact_name_resolves_with_or_without_slash (void **state)
{
  unit_engine_fixture *f = *state;
  char *id = create_box (f->eng, "web", NULL);
  assert_resolves_to (f->eng, "web", id);
  assert_resolves_to (f->eng, "/web", id);
  free (id);
}

static void
test_exact_external_ref_resolves (void **state)
{
  unit_engine_fixture *f = *state;
  char *id = create_box (f->eng, NULL, "pod/uid-1234");
  assert_resolves_to (f->eng, "pod/uid-1234", id);
  free (id);
}

static void
test_unique_prefix_resolves_at_every_length (void **state)
{
  unit_engine_fixture *f = *state;
  const char *id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  insert_box (f->eng, id, "only", NULL);
  insert_box (f->eng, "f123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "other",
              NULL);
  for (size_t len = 1; len <= 64; len++)
    {
      char prefix[65];
      memcpy (prefix, id, len);
      prefix[len] = '\0';
      assert_resolves_to (f->eng, prefix, id);
    }
}

static void
test_shared_prefix_is_ambiguous_at_every_length (void **state)
{
  unit_engine_fixture *f = *state;
  /* the two ids share their first 63 characters */
  const char *a = "abcdef0123456789abcdef0123456789abcdef0123456789abcdef012345678a";
  const char *b = "abcdef0123456789abcdef0123456789abcdef0123456789abcdef012345678b";
  insert_box (f->eng, a, "first", NULL);
  insert_box (f->eng, b, "second", NULL);
  for (size_t len = 1; len <= 63; len++)
    {
      char prefix[65], expected[128];
      memcpy (prefix, a, len);
      prefix[len] = '\0';
      snprintf (expected, sizeof expected, "multiple IDs found with provided prefix: %s", prefix);
      assert_resolve_fails (f->eng, prefix, BOX_E_AMBIGUOUS, expected);
    }
  /* the full ids are exact, never ambiguous */
  assert_resolves_to (f->eng, a, a);
  assert_resolves_to (f->eng, b, b);
}

static void
test_no_match_is_not_found (void **state)
{
  unit_engine_fixture *f = *state;
  char *id = create_box (f->eng, "web", NULL);
  assert_resolve_fails (f->eng, "nothing", BOX_E_NOT_FOUND, "No such box: nothing");
  /* a prefix of no id, and a non-hex string that is no name */
  char other[2] = { id[0] == 'f' ? '0' : 'f', '\0' };
  char expected[64];
  snprintf (expected, sizeof expected, "No such box: %s", other);
  assert_resolve_fails (f->eng, other, BOX_E_NOT_FOUND, expected);
  /* uppercase is not a prefix of a lowercase id */
  char upper[4] = { (char) (id[0] >= 'a' ? id[0] - 32 : 'G'), '\0' };
  snprintf (expected, sizeof expected, "No such box: %s", upper);
  assert_resolve_fails (f->eng, upper, BOX_E_NOT_FOUND, expected);
  assert_resolve_fails (f->eng, "", BOX_E_INVALID, NULL);
  free (id);
}

static void
test_name_beats_id_prefix_even_when_hex (void **state)
{
  unit_engine_fixture *f = *state;
  const char *prefixed = "abc0000000000000000000000000000000000000000000000000000000000000";
  const char *named = "1110000000000000000000000000000000000000000000000000000000000000";
  insert_box (f->eng, prefixed, "unrelated", NULL);
  insert_box (f->eng, named, "abc", NULL);
  assert_resolves_to (f->eng, "abc", named);
  /* a longer prefix that is nobody's name still reaches the prefixed box */
  assert_resolves_to (f->eng, "abc0", prefixed);
}

static void
test_name_beats_ambiguous_prefix (void **state)
{
  unit_engine_fixture *f = *state;
  insert_box (f->eng, "ab10000000000000000000000000000000000000000000000000000000000000", "x1",
              NULL);
  insert_box (f->eng, "ab20000000000000000000000000000000000000000000000000000000000000", "x2",
              NULL);
  const char *named = "9990000000000000000000000000000000000000000000000000000000000000";
  insert_box (f->eng, named, "ab", NULL);
  assert_resolves_to (f->eng, "ab", named);
}

static void
test_exact_id_beats_name (void **state)
{
  unit_engine_fixture *f = *state;
  const char *a = "aaaa000000000000000000000000000000000000000000000000000000000000";
  const char *b = "bbbb000000000000000000000000000000000000000000000000000000000000";
  insert_box (f->eng, a, "box_a", NULL);
  insert_box (f->eng, b, a, NULL); /* b is named like a's id */
  assert_resolves_to (f->eng, a, a);
}

static void
test_name_beats_external_ref (void **state)
{
  unit_engine_fixture *f = *state;
  char *by_name = create_box (f->eng, "shared", NULL);
  char *by_ref = create_box (f->eng, NULL, "shared");
  assert_resolves_to (f->eng, "shared", by_name);
  free (by_name);
  free (by_ref);
}

static void
test_external_ref_beats_id_prefix (void **state)
{
  unit_engine_fixture *f = *state;
  const char *prefixed = "cafe000000000000000000000000000000000000000000000000000000000000";
  const char *referenced = "1234000000000000000000000000000000000000000000000000000000000000";
  insert_box (f->eng, prefixed, "p1", NULL);
  insert_box (f->eng, referenced, "p2", "cafe");
  assert_resolves_to (f->eng, "cafe", referenced);
}

static void
test_external_ref_with_leading_slash_is_opaque (void **state)
{
  unit_engine_fixture *f = *state;
  char *named = create_box (f->eng, "pod", NULL);
  char *referenced = create_box (f->eng, NULL, "/pod");
  /* "/pod" is first read as the name "pod": name beats external_ref */
  assert_resolves_to (f->eng, "/pod", named);
  char *other = create_box (f->eng, NULL, "/only-a-ref");
  assert_resolves_to (f->eng, "/only-a-ref", other);
  free (named);
  free (referenced);
  free (other);
}

static void
test_name_rules (void **state)
{
  static const char *const valid[] = { "ab", "a1", "web", "Web-1", "a.b_c-d", "0x", "9_", NULL };
  static const char *const invalid[]
      = { "a", "_ab", ".ab", "-ab", "a b", "a/b", "a:b", "caf\xc3\xa9", "ab\n", "", NULL };
  for (const char *const *n = valid; *n; n++)
    {
      box_error *err = NULL;
      if (box_name_validate (*n, &err) < 0)
        fail_msg ("'%s' should be valid: %s", *n, box_error_message (err));
    }
  for (const char *const *n = invalid; *n; n++)
    {
      box_error *err = NULL;
      assert_int_equal (box_name_validate (*n, &err), BOX_E_INVALID);
      if (**n)
        assert_non_null (strstr (box_error_message (err), "[a-zA-Z0-9][a-zA-Z0-9_.-]+"));
      box_error_free (err);
    }
  char long_name[BOX_NAME_MAX + 2];
  memset (long_name, 'a', sizeof long_name - 1);
  long_name[BOX_NAME_MAX] = '\0';
  assert_int_equal (box_name_validate (long_name, NULL), 0);
  long_name[BOX_NAME_MAX] = 'a';
  long_name[BOX_NAME_MAX + 1] = '\0';
  assert_int_equal (box_name_validate (long_name, NULL), BOX_E_INVALID);
}

static void
test_create_rejects_invalid_name (void **state)
{
  unit_engine_fixture *f = *state;
  box_box_create_options opts = BOX_BOX_CREATE_OPTIONS_INIT;
  opts.image = "img";
  opts.name = "-bad";
  box_error *err = NULL;
  assert_int_equal (box_box_create (f->eng, &opts, NULL, &err), BOX_E_INVALID);
  assert_non_null (strstr (box_error_message (err), "invalid box name \"-bad\""));
  box_error_free (err);
  /* "/name" is accepted at create, as docker does, and stored without the slash */
  char *id = create_box (f->eng, "/slashed", NULL);
  box_box *box = NULL;
  assert_int_equal (box_box_get (f->eng, id, &box, NULL), 0);
  assert_string_equal (box->name, "slashed");
  box_box_free (box);
  free (id);
}

static void
test_external_ref_rules (void **state)
{
  char max[BOX_EXTERNAL_REF_MAX + 2];
  memset (max, 'r', sizeof max);
  max[BOX_EXTERNAL_REF_MAX] = '\0';
  assert_int_equal (box_external_ref_validate (max, NULL), 0);
  max[BOX_EXTERNAL_REF_MAX] = 'r';
  max[BOX_EXTERNAL_REF_MAX + 1] = '\0';
  assert_int_equal (box_external_ref_validate (max, NULL), BOX_E_INVALID);

  static const char *const valid[]
      = { "x", "pod:ns/name", "uid 1234", "\xf0\x9f\x93\xa6", "k8s://default/pod-\xc3\xa9", NULL };
  static const char *const invalid[]
      = { "", "tab\t", "nl\n", "esc\x1b", "del\x7f", "c1\xc2\x85", "bad\xff", "\xc0\xaf", NULL };
  for (const char *const *r = valid; *r; r++)
    assert_int_equal (box_external_ref_validate (*r, NULL), 0);
  for (const char *const *r = invalid; *r; r++)
    assert_int_equal (box_external_ref_validate (*r, NULL), BOX_E_INVALID);
}

static void
test_duplicate_external_ref_names_holder (void **state)
{
  unit_engine_fixture *f = *state;
  char *holder = create_box (f->eng, "holder", "ref-1");
  box_box_create_options opts = BOX_BOX_CREATE_OPTIONS_INIT;
  opts.image = "img";
  opts.external_ref = "ref-1";
  box_error *err = NULL;
  assert_int_equal (box_box_create (f->eng, &opts, NULL, &err), BOX_E_CONFLICT);
  assert_non_null (strstr (box_error_message (err), holder));
  assert_non_null (strstr (box_error_message (err), "ref-1"));
  box_error_free (err);
  /* nothing was recorded for the refused box */
  box_box **list = NULL;
  size_t n = 0;
  assert_int_equal (box_box_list (f->eng, &list, &n, NULL), 0);
  assert_int_equal (n, 1);
  box_box_list_free (list, n);
  free (holder);
}

static void
test_duplicate_name_names_holder (void **state)
{
  unit_engine_fixture *f = *state;
  char *holder = create_box (f->eng, "taken", NULL);
  box_box_create_options opts = BOX_BOX_CREATE_OPTIONS_INIT;
  opts.image = "img";
  opts.name = "taken";
  box_error *err = NULL;
  assert_int_equal (box_box_create (f->eng, &opts, NULL, &err), BOX_E_CONFLICT);
  assert_non_null (strstr (box_error_message (err), holder));
  box_error_free (err);
  free (holder);
}

static void
test_generated_names_are_readable_and_unique (void **state)
{
  unit_engine_fixture *f = *state;
  regex_t re;
  assert_int_equal (regcomp (&re, "^[a-z]+_[a-z]+[0-9]*$", REG_EXTENDED | REG_NOSUB), 0);
  char *names[200];
  for (int i = 0; i < 200; i++)
    {
      char *id = create_box (f->eng, NULL, NULL);
      box_box *box = NULL;
      assert_int_equal (box_box_get (f->eng, id, &box, NULL), 0);
      assert_int_equal (regexec (&re, box->name, 0, NULL, 0), 0);
      assert_int_equal (box_name_validate (box->name, NULL), 0);
      names[i] = strdup (box->name);
      for (int j = 0; j < i; j++)
        assert_string_not_equal (names[i], names[j]);
      box_box_free (box);
      free (id);
    }
  for (int i = 0; i < 200; i++)
    free (names[i]);
  regfree (&re);
}

static void
test_rename_keeps_id_and_frees_old_name (void **state)
{
  unit_engine_fixture *f = *state;
  char *id = create_box (f->eng, "before", NULL);
  box_error *err = NULL;
  int rc = box_box_rename (f->eng, "before", "after", &err);
  assert_ok (rc, err);
  assert_resolves_to (f->eng, "after", id);
  assert_resolve_fails (f->eng, "before", BOX_E_NOT_FOUND, "No such box: before");
  /* the old name is free at once */
  char *second = create_box (f->eng, "before", NULL);
  assert_resolves_to (f->eng, "before", second);
  assert_string_not_equal (second, id);
  free (second);
  free (id);
}

static void
test_rename_conflicts_and_validates (void **state)
{
  unit_engine_fixture *f = *state;
  char *a = create_box (f->eng, "one", NULL), *b = create_box (f->eng, "two", NULL);
  box_error *err = NULL;
  assert_int_equal (box_box_rename (f->eng, "one", "two", &err), BOX_E_CONFLICT);
  assert_non_null (strstr (box_error_message (err), b));
  box_error_free (err);
  err = NULL;
  assert_int_equal (box_box_rename (f->eng, "one", "one", &err), BOX_E_CONFLICT);
  box_error_free (err);
  err = NULL;
  assert_int_equal (box_box_rename (f->eng, "one", "bad name", &err), BOX_E_INVALID);
  box_error_free (err);
  err = NULL;
  assert_int_equal (box_box_rename (f->eng, "missing", "three", &err), BOX_E_NOT_FOUND);
  box_error_free (err);
  assert_resolves_to (f->eng, "one", a);
  assert_resolves_to (f->eng, "two", b);
  free (a);
  free (b);
}

static void
test_remove_frees_everything_and_logs_events (void **state)
{
  unit_engine_fixture *f = *state;
  char *id = create_box (f->eng, "gone", "ref-gone");
  box_error *err = NULL;
  assert_int_equal (box_box_rename (f->eng, id, "gone2", &err), 0);
  int rc = box_box_remove (f->eng, "gone2", &err);
  assert_ok (rc, err);
  assert_resolve_fails (f->eng, id, BOX_E_NOT_FOUND, NULL);
  assert_resolve_fails (f->eng, "ref-gone", BOX_E_NOT_FOUND, NULL);
  char *again = create_box (f->eng, "gone2", "ref-gone");
  free (again);

  store_event **events = NULL;
  size_t n = 0;
  rc = store_event_list (f->eng->store, 0, 0, 0, &events, &n, &err);
  assert_ok (rc, err);
  assert_int_equal (n, 4);
  assert_string_equal (events[0]->action, "create");
  assert_string_equal (events[1]->action, "rename");
  assert_non_null (strstr (events[1]->attributes, "\"oldName\":\"gone\""));
  assert_string_equal (events[2]->action, "destroy");
  assert_string_equal (events[2]->actor_id, id);
  assert_string_equal (events[3]->action, "create");
  assert_true (events[0]->time_ns <= events[1]->time_ns);
  store_event_list_free (events, n);
  free (id);
}

static void
test_running_box_cannot_be_removed (void **state)
{
  unit_engine_fixture *f = *state;
  char *id = create_box (f->eng, "busy", NULL);
  store_box_state_update update = { .state = BOX_STATE_RUNNING, .pid = 1, .started_ns = 5 };
  box_error *err = NULL;
  assert_int_equal (store_box_set_state (f->eng->store, id, &update, &err), 0);
  assert_int_equal (box_box_remove (f->eng, "busy", &err), BOX_E_CONFLICT);
  assert_non_null (strstr (box_error_message (err), "running"));
  box_error_free (err);
  assert_resolves_to (f->eng, "busy", id);
  free (id);
}

static void
test_labels_round_trip (void **state)
{
  unit_engine_fixture *f = *state;
  box_label labels[] = { { (char *) "tier", (char *) "web" }, { (char *) "a", (char *) "" } };
  box_box_create_options opts = BOX_BOX_CREATE_OPTIONS_INIT;
  opts.image = "img";
  opts.labels = labels;
  opts.n_labels = 2;
  opts.config_json = "{\"Cmd\":[\"true\"]}";
  box_box *box = NULL;
  box_error *err = NULL;
  int rc = box_box_create (f->eng, &opts, &box, &err);
  assert_ok (rc, err);
  assert_int_equal (box->n_labels, 2);
  assert_string_equal (box->labels[0].key, "a");
  assert_string_equal (box->labels[1].value, "web");
  assert_string_equal (box->config_json, "{\"Cmd\":[\"true\"]}");
  box_box_free (box);

  opts.config_json = "[1,2]";
  opts.labels = NULL;
  opts.n_labels = 0;
  assert_int_equal (box_box_create (f->eng, &opts, NULL, &err), BOX_E_INVALID);
  box_error_free (err);
}

#define T(fn) cmocka_unit_test_setup_teardown (fn, unit_engine_setup, unit_engine_teardown)

int
main (void)
{
  const struct CMUnitTest tests[] = {
    T (test_ids_are_64_lowercase_hex_and_distinct),
    T (test_exact_id_resolves),
    T (test_exact_name_resolves_with_or_without_slash),
    T (test_exact_external_ref_resolves),
    T (test_unique_prefix_resolves_at_every_length),
    T (test_shared_prefix_is_ambiguous_at_every_length),
    T (test_no_match_is_not_found),
    T (test_name_beats_id_prefix_even_when_hex),
    T (test_name_beats_ambiguous_prefix),
    T (test_exact_id_beats_name),
    T (test_name_beats_external_ref),
    T (test_external_ref_beats_id_prefix),
    T (test_external_ref_with_leading_slash_is_opaque),
    cmocka_unit_test (test_name_rules),
    T (test_create_rejects_invalid_name),
    cmocka_unit_test (test_external_ref_rules),
    T (test_duplicate_external_ref_names_holder),
    T (test_duplicate_name_names_holder),
    T (test_generated_names_are_readable_and_unique),
    T (test_rename_keeps_id_and_frees_old_name),
    T (test_rename_conflicts_and_validates),
    T (test_remove_frees_everything_and_logs_events),
    T (test_running_box_cannot_be_removed),
    T (test_labels_round_trip),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
