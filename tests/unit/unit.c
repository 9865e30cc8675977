/* Owns the unit tests' shared helpers. */
#include "unit.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/fs.h"

char *
unit_make_temp_dir (void)
{
  const char *tmp = getenv ("TMPDIR");
  char *path = NULL;
  if (asprintf (&path, "%s/box-unit-XXXXXX", tmp && *tmp ? tmp : "/tmp") < 0)
    fail_msg ("out of memory");
  if (!mkdtemp (path))
    fail_msg ("mkdtemp %s failed", path);
  return path;
}

void
unit_remove_tree (const char *path)
{
  box_error *err = NULL;
  if (fs_remove_tree (AT_FDCWD, path, &err) < 0)
    {
      fprintf (stderr, "warning: %s\n", box_error_message (err));
      box_error_free (err);
    }
}

int
unit_engine_open_at (const char *root, box_engine **out, box_error **err)
{
  box_engine_options opts = BOX_ENGINE_OPTIONS_INIT;
  opts.root = root;
  *out = NULL;
  return box_engine_open (&opts, out, err);
}

int
unit_fault_pass_finish (box_engine *eng, box_error *err, int rc)
{
  if (rc < 0)
    {
      /* a failure is an error object with a message, never a bare code */
      assert_non_null (err);
      assert_true (strlen (box_error_message (err)) > 0);
    }
  box_error_free (err);
  box_engine_close (eng);
  return rc;
}

box_engine *
unit_open_engine (char **out_root)
{
  char *root = unit_make_temp_dir ();
  box_engine *eng = NULL;
  box_error *err = NULL;
  int rc = unit_engine_open_at (root, &eng, &err);
  assert_ok (rc, err);
  *out_root = root;
  return eng;
}

void
unit_close_engine (box_engine *eng, char *root)
{
  box_engine_close (eng);
  unit_remove_tree (root);
  free (root);
}

char *
unit_create_box (box_engine *eng, const box_box_create_options *opts)
{
  box_box *box = NULL;
  box_error *err = NULL;
  int rc = box_box_create (eng, opts, &box, &err);
  assert_ok (rc, err);
  char *id = strdup (box->id);
  box_box_free (box);
  if (!id)
    fail_msg ("out of memory");
  return id;
}

int
unit_engine_setup (void **state)
{
  unit_engine_fixture *f = calloc (1, sizeof *f);
  if (!f)
    fail_msg ("out of memory");
  f->eng = unit_open_engine (&f->root);
  *state = f;
  return 0;
}

int
unit_engine_teardown (void **state)
{
  unit_engine_fixture *f = *state;
  unit_close_engine (f->eng, f->root);
  free (f);
  return 0;
}
