/* Box root filesystems: the overlay of many layers (more than a mount(2) option page could
 * name), the layer order, the upper layer taking writes, unmount, and the liveness check of
 * processes the reconcile relies on. */
#include "unit.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/rootfs.h"
#include "linux/proc.h"
#include "util/fs.h"

/* enough layers that their paths joined by ':' exceed a 4096-byte page */
#define MANY_LAYERS 120

static void
write_text (const char *path, const char *text)
{
  box_error *err = NULL;
  int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    fail_msg ("create %s", path);
  assert_int_equal (write (fd, text, strlen (text)), (ssize_t) strlen (text));
  close (fd);
  (void) err;
}

static char *
read_text (const char *path)
{
  char *text = NULL;
  box_error *err = NULL;
  int rc = fs_read_file (AT_FDCWD, path, &text, NULL, &err);
  assert_ok (rc, err);
  return text;
}

static void
test_many_layers_stack_in_order (void **state)
{
  if (geteuid () != 0)
    skip ();
  char *dir = unit_make_temp_dir ();
  char *layers[MANY_LAYERS];
  size_t joined = 0;
  for (int i = 0; i < MANY_LAYERS; i++)
    {
      /* long names on purpose: the classic option string would overflow */
      if (asprintf (&layers[i], "%s/layer-with-a-rather-long-directory-name-number-%03d", dir, i) < 0)
        fail_msg ("out of memory");
      assert_int_equal (mkdir (layers[i], 0755), 0);
      joined += strlen (layers[i]) + 1;
      char path[4096];
      snprintf (path, sizeof path, "%s/only-%03d", layers[i], i);
      write_text (path, "x");
      snprintf (path, sizeof path, "%s/shadowed", layers[i]);
      char text[16];
      snprintf (text, sizeof text, "%d", i);
      write_text (path, text);
    }
  assert_true (joined > 4096);

  char *box_dir = NULL;
  if (asprintf (&box_dir, "%s/box", dir) < 0)
    fail_msg ("out of memory");
  assert_int_equal (mkdir (box_dir, 0711), 0);
  box_error *err = NULL;
  int rc = rootfs_prepare_dirs (box_dir, &err);
  assert_ok (rc, err);
  assert_false (rootfs_is_mounted (box_dir));
  rc = rootfs_mount (box_dir, layers, MANY_LAYERS, false, &err);
  assert_ok (rc, err);
  assert_true (rootfs_is_mounted (box_dir));
  /* mounting again is a no-op, not a second mount */
  rc = rootfs_mount (box_dir, layers, MANY_LAYERS, false, &err);
  assert_ok (rc, err);

  char path[4096];
  /* every layer is visible, and the highest layer wins */
  snprintf (path, sizeof path, "%s/rootfs/only-000", box_dir);
  assert_int_equal (access (path, F_OK), 0);
  snprintf (path, sizeof path, "%s/rootfs/only-%03d", box_dir, MANY_LAYERS - 1);
  assert_int_equal (access (path, F_OK), 0);
  snprintf (path, sizeof path, "%s/rootfs/shadowed", box_dir);
  char *text = read_text (path);
  char expected[16];
  snprintf (expected, sizeof expected, "%d", MANY_LAYERS - 1);
  assert_string_equal (text, expected);
  free (text);

  /* writes land in the upper layer, never in a lower one */
  snprintf (path, sizeof path, "%s/rootfs/shadowed", box_dir);
  write_text (path, "changed");
  snprintf (path, sizeof path, "%s/upper/shadowed", box_dir);
  text = read_text (path);
  assert_string_equal (text, "changed");
  free (text);
  snprintf (path, sizeof path, "%s/shadowed", layers[MANY_LAYERS - 1]);
  text = read_text (path);
  assert_string_equal (text, expected);
  free (text);

  /* the root of the overlay is traversable by other users (it takes the upper's mode) */
  struct stat st;
  snprintf (path, sizeof path, "%s/rootfs", box_dir);
  assert_int_equal (stat (path, &st), 0);
  assert_int_equal (st.st_mode & 0755, 0755);

  rc = rootfs_unmount (box_dir, &err);
  assert_ok (rc, err);
  assert_false (rootfs_is_mounted (box_dir));
  rc = rootfs_unmount (box_dir, &err); /* idempotent */
  assert_ok (rc, err);

  unit_remove_tree (dir);
  for (int i = 0; i < MANY_LAYERS; i++)
    free (layers[i]);
  free (box_dir);
  free (dir);
}

static void
test_image_without_layers_gets_an_empty_root (void **state)
{
  if (geteuid () != 0)
    skip ();
  char *dir = unit_make_temp_dir ();
  box_error *err = NULL;
  int rc = rootfs_prepare_dirs (dir, &err);
  assert_ok (rc, err);
  rc = rootfs_mount (dir, NULL, 0, false, &err);
  assert_ok (rc, err);
  assert_true (rootfs_is_mounted (dir));
  rc = rootfs_unmount (dir, &err);
  assert_ok (rc, err);
  unit_remove_tree (dir);
  free (dir);
}

static void
test_ephemeral_rootfs_is_volatile_and_mounts_again (void **state)
{
  if (geteuid () != 0)
    skip ();
  char *dir = unit_make_temp_dir ();
  box_error *err = NULL;
  int rc = rootfs_prepare_dirs (dir, &err);
  assert_ok (rc, err);
  char marker[4096];
  snprintf (marker, sizeof marker, "%s/work/work/incompat/volatile", dir);
  for (int round = 0; round < 2; round++)
    {
      /* the second round: a start that failed after mounting is started again */
      rc = rootfs_mount (dir, NULL, 0, true, &err);
      assert_ok (rc, err);
      assert_true (rootfs_is_mounted (dir));
      /* the overlay marks its work dir when it runs volatile (kernel 5.10+) */
      assert_int_equal (access (marker, F_OK), 0);
      rc = rootfs_unmount (dir, &err);
      assert_ok (rc, err);
      assert_false (rootfs_is_mounted (dir));
    }
  unit_remove_tree (dir);
  free (dir);
}

static void
test_process_identity_survives_only_with_its_start_time (void **state)
{
  int64_t mine = proc_start_ticks (getpid ());
  assert_true (mine > 0);
  assert_true (proc_is_alive (getpid (), mine));
  assert_false (proc_is_alive (getpid (), mine + 1)); /* a recycled pid */
  assert_false (proc_is_alive (0, mine));
  /* a child that exited and was reaped is gone */
  pid_t child = fork ();
  if (child == 0)
    _exit (0);
  int64_t child_start = proc_start_ticks (child);
  int status;
  assert_int_equal (waitpid (child, &status, 0), child);
  assert_false (proc_is_alive (child, child_start));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_many_layers_stack_in_order),
    cmocka_unit_test (test_image_without_layers_gets_an_empty_root),
    cmocka_unit_test (test_ephemeral_rootfs_is_volatile_and_mounts_again),
    cmocka_unit_test (test_process_identity_survives_only_with_its_start_time),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
