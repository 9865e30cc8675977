/* The attach API's checks that need no running box: detach keys in docker's syntax, and
 * attaching to (or resizing) a box that does not run. */
#include "unit.h"

#include <stdlib.h>
#include <string.h>

static void
test_detach_keys (void **state)
{
  static const char *const valid[]
      = { "ctrl-p,ctrl-q", "ctrl-a",       "x", "ctrl-@,ctrl-[", "ctrl-\\,ctrl-_",
          "a,b,c",         "CTRL-P,ctrl-Q" };
  static const char *const invalid[]
      = { "ctrl-", "ctrl-pq", "ctrl-1", "ab", ",", "ctrl-p,", "p,,q" };
  for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++)
    {
      box_error *err = NULL;
      int rc = box_detach_keys_validate (valid[i], &err);
      assert_ok (rc, err);
    }
  for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++)
    {
      box_error *err = NULL;
      if (box_detach_keys_validate (invalid[i], &err) != BOX_E_INVALID)
        fail_msg ("detach keys \"%s\" were accepted", invalid[i]);
      assert_non_null (strstr (box_error_message (err), "invalid detach keys"));
      box_error_free (err);
    }
}

static void
test_attach_needs_a_running_box (void **state)
{
  char *root = NULL;
  box_engine *eng = unit_open_engine (&root);
  box_error *err = NULL;
  box_attach *a = NULL;
  assert_int_equal (box_box_attach (eng, "nosuchbox", NULL, &a, &err), BOX_E_NOT_FOUND);
  assert_null (a);
  box_error_free (err);
  err = NULL;
  assert_int_equal (box_box_resize (eng, "nosuchbox", 0, 80, &err), BOX_E_INVALID);
  box_error_free (err);
  box_attach_free (NULL);
  unit_close_engine (eng, root);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_detach_keys),
    cmocka_unit_test (test_attach_needs_a_running_box),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
