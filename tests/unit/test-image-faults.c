/* Fault injection on the image store, SQLite-style: every allocation SQLite makes while images
 * are added, tagged, listed, inspected, resolved for a box and removed (with the garbage
 * collection of their blobs and layers) is made to fail once, in turn. Each pass must end in
 * success or a clean error — never a crash or (under LeakSanitizer) a leak — and leave a
 * state directory where every image the store lists still has its config blob and its layer
 * directories. */
#include "unit.h"

#include "sqlite-faults.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine.h"
#include "image/content-store.h"
#include "image/image-store.h"
#include "image/image.h"
#include "image/layer-store.h"
#include "util/digest.h"

#define LAYER_CONTENT "the shared layer"

/* Adds a one-layer image (config marked with `marker`) over the shared layer. */
static int
add_image (box_engine *eng, const char *marker, const char *tag, box_error **err)
{
  char diff_id[DIGEST_STRING_MAX], config_digest[DIGEST_STRING_MAX];
  if (digest_sha256_buffer (LAYER_CONTENT, strlen (LAYER_CONTENT), diff_id, err) < 0)
    return box_err_code (err);
  if (layer_exists (eng, diff_id, err) == 0)
    {
      layer_writer *w = NULL;
      if (layer_begin (eng, &w, err) < 0)
        return box_err_code (err);
      int fd = openat (layer_writer_directory_fd (w), "content", O_WRONLY | O_CREAT | O_CLOEXEC,
                       0644);
      if (fd < 0 || write (fd, LAYER_CONTENT, strlen (LAYER_CONTENT)) < 0)
        fail_msg ("write layer content");
      close (fd);
      int rc = layer_commit (w, diff_id, err);
      layer_abort (w);
      if (rc < 0)
        return rc;
    }
  char config[512];
  snprintf (config, sizeof config,
            "{\"architecture\":\"amd64\",\"os\":\"linux\",\"created\":\"2026-01-01T00:00:00Z\","
            "\"config\":{\"Env\":[\"M=%s\"],\"Labels\":{\"m\":\"%s\"}},"
            "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\"]}}",
            marker, marker, diff_id);
  if (content_blob_write_buffer (eng, config, strlen (config), config_digest, err) < 0)
    return box_err_code (err);
  image_add_layer layer = { .diff_id = diff_id, .size = (int64_t) strlen (LAYER_CONTENT) };
  image_add_request req = { .config_digest = config_digest, .layers = &layer, .n_layers = 1,
                            .tag = tag, .event_action = "import" };
  return image_store_add (eng, &req, err);
}

static int
workload (const char *root)
{
  box_error *err = NULL;
  box_engine *eng = NULL;
  int rc = unit_engine_open_at (root, &eng, &err);
  box_image_delete_item *items = NULL;
  size_t n = 0;
  if (rc == 0)
    rc = add_image (eng, "b", "b", &err);
  if (rc == 0)
    rc = box_image_tag (eng, "a", "a2", &err);
  if (rc == 0)
    {
      box_image **list = NULL;
      if ((rc = box_image_list (eng, NULL, &list, &n, &err)) == 0)
        box_image_list_free (list, n);
    }
  if (rc == 0)
    {
      char *json = NULL;
      rc = box_image_inspect_json (eng, "a2", &json, &err);
      free (json);
    }
  if (rc == 0)
    {
      image_for_box *image = NULL;
      if ((rc = image_resolve_for_box (eng, "b", &image, &err)) == 0)
        image_for_box_free (image);
    }
  if (rc == 0 && (rc = box_image_remove (eng, "a2", NULL, &items, &n, &err)) == 0)
    box_image_delete_items_free (items, n);
  if (rc == 0 && (rc = box_image_remove (eng, "a", NULL, &items, &n, &err)) == 0)
    box_image_delete_items_free (items, n);
  if (rc == 0)
    {
      uint64_t reclaimed = 0;
      box_image_prune_options all = BOX_IMAGE_PRUNE_OPTIONS_INIT;
      all.all = 1;
      if ((rc = box_image_prune (eng, &all, &items, &n, &reclaimed, &err)) == 0)
        box_image_delete_items_free (items, n);
    }
  return unit_fault_pass_finish (eng, err, rc);
}

/* Every image the store lists must still be usable: config blob present, layers ready. */
static void
check_recovers (const char *root)
{
  box_error *err = NULL;
  box_engine *eng = NULL;
  assert_ok (unit_engine_open_at (root, &eng, &err), err);
  box_image **list = NULL;
  size_t n = 0;
  assert_ok (box_image_list (eng, NULL, &list, &n, &err), err);
  for (size_t i = 0; i < n; i++)
    {
      assert_int_equal (content_blob_exists (eng, list[i]->id, &err), 1);
      image_for_box *image = NULL;
      int rc = image_resolve_for_box (eng, list[i]->id, &image, &err);
      assert_ok (rc, err);
      image_for_box_free (image);
    }
  box_image_list_free (list, n);
  box_engine_close (eng);
}

static void
copy_state (const char *template_dir, const char *dir)
{
  char *command = NULL;
  if (asprintf (&command, "cp -a '%s' '%s'", template_dir, dir) < 0)
    fail ();
  assert_int_equal (system (command), 0);
  free (command);
}

static void
copy_template_state (const char *dir, void *template_dir)
{
  copy_state (template_dir, dir);
}

static void
test_every_allocation_failure_in_image_operations_is_clean (void **state)
{
  sqlite_faults_install ();
  char *root = sqlite_faults_make_temp_dir ();
  char *template_dir = NULL;
  if (asprintf (&template_dir, "%s/template", root) < 0)
    fail ();
  {
    box_error *err = NULL;
    box_engine *eng = NULL;
    assert_ok (unit_engine_open_at (template_dir, &eng, &err), err);
    assert_ok (add_image (eng, "a", "a", &err), err);
    box_engine_close (eng);
  }

  sqlite_faults_pass pass = { .label = "pass",
                              .prepare = copy_template_state,
                              .run = workload,
                              .check = check_recovers,
                              .max_passes = 50000,
                              .data = template_dir };
  sqlite_faults_fail_each_allocation (root, &pass);
  unit_remove_tree (root);
  free (template_dir);
  free (root);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_every_allocation_failure_in_image_operations_is_clean),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
