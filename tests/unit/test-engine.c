/* box_engine_open's options: a version 1 struct (no flags field) is still accepted and never
 * read past its end; unknown versions and unknown bits in a version 2 struct's flags are
 * refused, naming what is unknown, before anything is made on disk. */
#include "unit.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* What a caller built against version 1 of box.h passes: the struct ended after root. */
typedef struct engine_options_v1 {
  unsigned version;
  const char *root;
} engine_options_v1;

static bool
exists (const char *path)
{
  struct stat st;
  return stat (path, &st) == 0;
}

static void
test_version_1_is_accepted (void **state)
{
  char *dir = unit_make_temp_dir ();
  char *root = NULL;
  assert_true (asprintf (&root, "%s/state", dir) > 0);
  /* exactly the old size on the heap: reading a flags field past it is an ASan report */
  engine_options_v1 *old = malloc (sizeof *old);
  assert_non_null (old);
  old->version = 1;
  old->root = root;
  box_engine *eng = NULL;
  box_error *err = NULL;
  int rc = box_engine_open ((const box_engine_options *) old, &eng, &err);
  assert_ok (rc, err);
  char *real = realpath (root, NULL);
  assert_non_null (real);
  assert_string_equal (box_engine_root (eng), real);
  free (real);
  /* it works: the store answers */
  box_box **boxes = NULL;
  size_t n = 0;
  rc = box_box_list (eng, &boxes, &n, &err);
  assert_ok (rc, err);
  assert_int_equal (n, 0);
  box_box_list_free (boxes, n);
  box_engine_close (eng);
  free (old);
  free (root);
  unit_remove_tree (dir);
  free (dir);
}

static void
test_version_2_flags (void **state)
{
  char *dir = unit_make_temp_dir ();
  char *root = NULL;
  assert_true (asprintf (&root, "%s/state", dir) > 0);

  static const struct {
    unsigned flags;
    const char *message;
  } bad[] = {
    { 0x2, "box_engine_options: unknown bits 0x2 in flags 0x2" },
    { 0x3, "box_engine_options: unknown bits 0x2 in flags 0x3" },
    { 0x80000001u, "box_engine_options: unknown bits 0x80000000 in flags 0x80000001" },
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    {
      box_engine_options opts = BOX_ENGINE_OPTIONS_INIT;
      opts.root = root;
      opts.flags = bad[i].flags;
      box_engine *eng = (box_engine *) 1;
      box_error *err = NULL;
      assert_int_equal (box_engine_open (&opts, &eng, &err), BOX_E_INVALID);
      assert_string_equal (box_error_message (err), bad[i].message);
      box_error_free (err);
      /* refused before the state directory is made */
      assert_false (exists (root));
    }

  /* the known flag and none at all */
  unsigned good[] = { 0, BOX_ENGINE_PREPARE_START };
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
    {
      box_engine_options opts = BOX_ENGINE_OPTIONS_INIT;
      opts.root = root;
      opts.flags = good[i];
      box_engine *eng = NULL;
      box_error *err = NULL;
      int rc = box_engine_open (&opts, &eng, &err);
      assert_ok (rc, err);
      box_engine_close (eng);
    }
  free (root);
  unit_remove_tree (dir);
  free (dir);
}

static void
test_unknown_versions_are_refused (void **state)
{
  char *dir = unit_make_temp_dir ();
  unsigned versions[] = { 0, BOX_ENGINE_OPTIONS_VERSION + 1, 1000 };
  for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++)
    {
      box_engine_options opts = BOX_ENGINE_OPTIONS_INIT;
      opts.version = versions[i];
      opts.root = dir;
      box_engine *eng = NULL;
      box_error *err = NULL;
      assert_int_equal (box_engine_open (&opts, &eng, &err), BOX_E_INVALID);
      char expected[64];
      snprintf (expected, sizeof expected, "box_engine_options: unknown version %u", versions[i]);
      assert_string_equal (box_error_message (err), expected);
      box_error_free (err);
    }
  unit_remove_tree (dir);
  free (dir);
}

/* No options: $BOX_ROOT names the state directory. */
static void
test_no_options_take_box_root (void **state)
{
  char *dir = unit_make_temp_dir ();
  char *root = NULL;
  assert_true (asprintf (&root, "%s/from-env", dir) > 0);
  assert_int_equal (setenv ("BOX_ROOT", root, 1), 0);
  box_engine *eng = NULL;
  box_error *err = NULL;
  int rc = box_engine_open (NULL, &eng, &err);
  unsetenv ("BOX_ROOT");
  assert_ok (rc, err);
  assert_true (exists (root));
  box_engine_close (eng);
  free (root);
  unit_remove_tree (dir);
  free (dir);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_version_1_is_accepted),
    cmocka_unit_test (test_version_2_flags),
    cmocka_unit_test (test_unknown_versions_are_refused),
    cmocka_unit_test (test_no_options_take_box_root),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
