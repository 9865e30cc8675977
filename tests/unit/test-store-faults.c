/* Fault injection, SQLite-style: every allocation SQLite makes during a sequence of engine
 * operations is made to fail once, in turn. Each run must end in success or a clean error —
 * never a crash, and (under LeakSanitizer) never a leak — and the state directory must stay
 * usable by the next open. */
#include "unit.h"

#include "sqlite-faults.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* One pass of the workload; returns 0 when every step succeeded, else the first error. */
static int
workload (const char *root)
{
  box_engine *eng = NULL;
  box_error *err = NULL;
  int rc = unit_engine_open_at (root, &eng, &err);
  if (rc == 0)
    {
      box_box_create_options create = BOX_BOX_CREATE_OPTIONS_INIT;
      box_label label = { (char *) "tier", (char *) "web" };
      create.image = "img";
      create.labels = &label;
      create.n_labels = 1;
      create.name = "faulty";
      box_box *box = NULL;
      if ((rc = box_box_create (eng, &create, &box, &err)) == 0)
        {
          box_box_free (box);
          box = NULL;
          if ((rc = box_box_get (eng, "faulty", &box, &err)) == 0)
            box_box_free (box);
        }
      if (rc == 0)
        rc = box_box_rename (eng, "faulty", "renamed", &err);
      box_box **list = NULL;
      size_t n = 0;
      if (rc == 0 && (rc = box_box_list (eng, &list, &n, &err)) == 0)
        box_box_list_free (list, n);
      if (rc == 0)
        rc = box_box_remove (eng, "renamed", &err);
    }
  return unit_fault_pass_finish (eng, err, rc);
}

/* After a failed pass, the state directory must still work, and hold at most the one box
 * the failed pass may have left (under either name). */
static void
check_recovers (const char *root)
{
  box_engine *eng = NULL;
  box_error *err = NULL;
  int rc = unit_engine_open_at (root, &eng, &err);
  assert_ok (rc, err);
  box_box **list = NULL;
  size_t n = 0;
  rc = box_box_list (eng, &list, &n, &err);
  assert_ok (rc, err);
  assert_true (n <= 1);
  for (size_t i = 0; i < n; i++)
    {
      assert_true (strcmp (list[i]->name, "faulty") == 0 || strcmp (list[i]->name, "renamed") == 0);
      rc = box_box_remove (eng, list[i]->id, &err);
      assert_ok (rc, err);
    }
  box_box_list_free (list, n);
  box_engine_close (eng);
}

/* Copies template/box.db into dir (a cleanly closed store has no WAL file beside it), in
 * process: the passes number in thousands, and a shell with mkdir and cp for each was most
 * of their cost. */
static void
copy_store (const char *template_dir, const char *dir)
{
  char *from = NULL, *to = NULL;
  if (asprintf (&from, "%s/box.db", template_dir) < 0 || asprintf (&to, "%s/box.db", dir) < 0)
    fail ();
  assert_int_equal (mkdir (dir, 0700), 0);
  int in = open (from, O_RDONLY | O_CLOEXEC);
  int out = open (to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  assert_true (in >= 0 && out >= 0);
  struct stat st;
  assert_int_equal (fstat (in, &st), 0);
  for (off_t left = st.st_size; left > 0;)
    {
      ssize_t n = copy_file_range (in, NULL, out, NULL, (size_t) left, 0);
      assert_true (n > 0);
      left -= n;
    }
  close (in);
  close (out);
  free (from);
  free (to);
}

static void
copy_template_store (const char *dir, void *template_dir)
{
  copy_store (template_dir, dir);
}

static void
fail_every_allocation_in_turn (const char *root, const char *template_dir, const char *label,
                               int (*run) (const char *dir))
{
  sqlite_faults_pass pass = { .label = label,
                              .prepare = template_dir ? copy_template_store : NULL,
                              .run = run,
                              .check = check_recovers,
                              .max_passes = 20000,
                              .data = (void *) template_dir };
  sqlite_faults_fail_each_allocation (root, &pass);
}

static int
open_only (const char *root)
{
  box_engine *eng = NULL;
  box_error *err = NULL;
  int rc = unit_engine_open_at (root, &eng, &err);
  return unit_fault_pass_finish (eng, err, rc);
}

/* Opening (and migrating) a fresh store fails cleanly at every allocation. */
static void
test_every_allocation_failure_while_migrating_is_clean (void **state)
{
  sqlite_faults_install ();
  char *root = sqlite_faults_make_temp_dir ();
  fail_every_allocation_in_turn (root, NULL, "migrate", open_only);
  unit_remove_tree (root);
  free (root);
}

/* Create, get, rename, list and remove on a current store fail cleanly at every allocation. */
static void
test_every_allocation_failure_in_box_operations_is_clean (void **state)
{
  sqlite_faults_install ();
  char *root = sqlite_faults_make_temp_dir ();
  char *template_dir = NULL;
  if (asprintf (&template_dir, "%s/template", root) < 0)
    fail ();
  assert_int_equal (open_only (template_dir), 0);
  fail_every_allocation_in_turn (root, template_dir, "operations", workload);
  unit_remove_tree (root);
  free (template_dir);
  free (root);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_every_allocation_failure_while_migrating_is_clean),
    cmocka_unit_test (test_every_allocation_failure_in_box_operations_is_clean),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
