/* Image records: adding images over real blobs and layer directories, resolution (tags,
 * digests, ids, prefixes, ambiguity), image_resolve_for_box, tag, list filters, inspect,
 * removal with garbage collection of blobs and layers, boxes that hold an image, prune. */
#include "unit.h"

#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/engine.h"
#include "image/content-store.h"
#include "image/image-store.h"
#include "image/image.h"
#include "image/layer-store.h"
#include "util/digest.h"

/* A layer directory holding one file; returns its diff id (a made-up but valid digest: the
 * store trusts its unpacker for the relation between a diff id and a directory). */
static void
make_layer (box_engine *eng, const char *content, char diff_id[DIGEST_STRING_MAX])
{
  box_error *err = NULL;
  assert_ok (digest_sha256_buffer (content, strlen (content), diff_id, &err), err);
  if (layer_exists (eng, diff_id, &err) == 1)
    return;
  layer_writer *w = NULL;
  assert_ok (layer_begin (eng, &w, &err), err);
  int fd = openat (layer_writer_directory_fd (w), "content", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  assert_true (fd >= 0);
  assert_int_equal (write (fd, content, strlen (content)), (ssize_t) strlen (content));
  close (fd);
  assert_ok (layer_commit (w, diff_id, &err), err);
  layer_abort (w);
}

/* A one-layer image whose config carries `marker` (so ids differ) and a label; returns the id. */
static void
add_image (box_engine *eng, const char *layer_content, const char *marker, const char *tag,
           char id[DIGEST_STRING_MAX])
{
  box_error *err = NULL;
  char diff_id[DIGEST_STRING_MAX], blob[DIGEST_STRING_MAX];
  make_layer (eng, layer_content, diff_id);
  /* the layer's "compressed blob": the content itself */
  assert_ok (content_blob_write_buffer (eng, layer_content, strlen (layer_content), blob, &err),
             err);
  char *config = NULL;
  assert_true (asprintf (&config,
                         "{\"architecture\":\"amd64\",\"os\":\"linux\","
                         "\"created\":\"2026-11-22T13:00:00.5Z\","
                         "\"config\":{\"Env\":[\"PATH=/bin\",\"MARKER=%s\"],\"Cmd\":[\"sh\"],"
                         "\"Labels\":{\"team\":\"%s\",\"kind\":\"test\"}},"
                         "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\"]},"
                         "\"history\":[{\"created_by\":\"unit test\"}]}",
                         marker, marker, diff_id)
               > 0);
  assert_ok (content_blob_write_buffer (eng, config, strlen (config), id, &err), err);
  free (config);
  image_add_layer layer = { .diff_id = diff_id,
                            .blob_digest = blob,
                            .blob_media_type = "application/vnd.oci.image.layer.v1.tar",
                            .blob_size = (int64_t) strlen (layer_content),
                            .size = (int64_t) strlen (layer_content) };
  image_add_request req = {
    .config_digest = id, .layers = &layer, .n_layers = 1, .tag = tag, .event_action = "import"
  };
  assert_ok (image_store_add (eng, &req, &err), err);
}

static char *
resolve_or_fail (box_engine *eng, const char *ref)
{
  char *id = NULL;
  box_error *err = NULL;
  int rc = image_store_resolve (eng, ref, &id, NULL, NULL, &err);
  if (rc < 0)
    fail_msg ("resolve %s: %s", ref, box_error_message (err));
  return id;
}

static int
resolve_code (box_engine *eng, const char *ref)
{
  char *id = NULL;
  box_error *err = NULL;
  int rc = image_store_resolve (eng, ref, &id, NULL, NULL, &err);
  free (id);
  box_error_free (err);
  return rc;
}

static void
test_resolve_every_form (void **state)
{
  char *root;
  box_engine *eng = unit_open_engine (&root);
  char id[DIGEST_STRING_MAX];
  add_image (eng, "layer one", "a", "busybox", id);
  const char *hex = digest_hex (id);
  char short_id[13], prefixed[32];
  snprintf (short_id, sizeof short_id, "%.12s", hex);
  snprintf (prefixed, sizeof prefixed, "sha256:%.8s", hex);

  const char *forms[] = {
    "busybox", "busybox:latest", "docker.io/library/busybox", "library/busybox:latest", id, hex,
    short_id,  prefixed
  };
  for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++)
    {
      char *got = resolve_or_fail (eng, forms[i]);
      assert_string_equal (got, id);
      free (got);
    }
  assert_int_equal (resolve_code (eng, "busybox:1.0"), BOX_E_NOT_FOUND);
  assert_int_equal (resolve_code (eng, "other"), BOX_E_NOT_FOUND);
  assert_int_equal (resolve_code (eng, "Bad_Ref"), BOX_E_INVALID);
  assert_int_equal (resolve_code (eng, ""), BOX_E_INVALID);

  /* a repo digest resolves once recorded (adding an existing image records only names) */
  const char *manifest = "sha256:5555555555555555555555555555555555555555555555555555555555555555";
  char digest_ref[200];
  snprintf (digest_ref, sizeof digest_ref, "busybox@%s", manifest);
  assert_int_equal (resolve_code (eng, digest_ref), BOX_E_NOT_FOUND);
  char diff_id[DIGEST_STRING_MAX];
  make_layer (eng, "layer one", diff_id);
  char normalized[200];
  snprintf (normalized, sizeof normalized, "docker.io/library/busybox@%s", manifest);
  image_add_layer layer = { .diff_id = diff_id, .size = 9 };
  image_add_request req = { .config_digest = id,
                            .layers = &layer,
                            .n_layers = 1,
                            .repo_digest = normalized,
                            .tag = "busybox:1.36" };
  box_error *err = NULL;
  assert_ok (image_store_add (eng, &req, &err), err);
  char *got = resolve_or_fail (eng, digest_ref);
  assert_string_equal (got, id);
  free (got);
  got = resolve_or_fail (eng, "busybox:1.36");
  assert_string_equal (got, id);
  free (got);
  box_error_free (err);
  unit_close_engine (eng, root);
}

static void
test_ambiguous_prefix_is_an_error (void **state)
{
  char *root;
  box_engine *eng = unit_open_engine (&root);
  /* 17 ids over 16 possible first hex digits: two must share one */
  char ids[17][DIGEST_STRING_MAX];
  for (int i = 0; i < 17; i++)
    {
      char marker[16];
      snprintf (marker, sizeof marker, "m%d", i);
      add_image (eng, "shared layer", marker, NULL, ids[i]);
    }
  char shared = 0;
  for (int i = 0; i < 17 && !shared; i++)
    for (int j = i + 1; j < 17 && !shared; j++)
      if (digest_hex (ids[i])[0] == digest_hex (ids[j])[0])
        shared = digest_hex (ids[i])[0];
  assert_true (shared != 0);
  char prefix[2] = { shared, '\0' };
  char *id = NULL;
  box_error *err = NULL;
  assert_int_equal (image_store_resolve (eng, prefix, &id, NULL, NULL, &err), BOX_E_AMBIGUOUS);
  assert_non_null (strstr (box_error_message (err), "ambiguous"));
  box_error_free (err);
  /* a longer prefix that is unique still resolves */
  char *got = resolve_or_fail (eng, digest_hex (ids[0]));
  assert_string_equal (got, ids[0]);
  free (got);
  unit_close_engine (eng, root);
}

static void
test_resolve_for_box (void **state)
{
  char *root;
  box_engine *eng = unit_open_engine (&root);
  char id[DIGEST_STRING_MAX];
  add_image (eng, "layer for a box", "boxed", "app:1", id);
  image_for_box *image = NULL;
  box_error *err = NULL;
  assert_ok (image_resolve_for_box (eng, "app:1", &image, &err), err);
  assert_string_equal (image->id, id);
  assert_string_equal (image->reference, "docker.io/library/app:1");
  assert_int_equal (image->n_layers, 1);
  char path[4096];
  snprintf (path, sizeof path, "%s/content", image->layer_dirs[0]);
  struct stat st;
  assert_int_equal (stat (path, &st), 0);
  assert_int_equal (st.st_size, strlen ("layer for a box"));
  json_t *env = json_object_get (image->config, "Env");
  assert_int_equal (json_array_size (env), 2);
  assert_string_equal (json_string_value (json_array_get (env, 1)), "MARKER=boxed");
  image_for_box_free (image);

  assert_int_equal (image_resolve_for_box (eng, "app:2", &image, &err), BOX_E_NOT_FOUND);
  box_error_free (err);
  unit_close_engine (eng, root);
}

static bool
blob_present (box_engine *eng, const char *digest)
{
  return content_blob_exists (eng, digest, NULL) == 1;
}

static void
test_tag_list_inspect (void **state)
{
  char *root;
  box_engine *eng = unit_open_engine (&root);
  char a[DIGEST_STRING_MAX], b[DIGEST_STRING_MAX];
  add_image (eng, "layer a", "alpha", "alpha", a);
  add_image (eng, "layer b", "beta", NULL, b);
  box_error *err = NULL;
  assert_ok (box_image_tag (eng, "alpha", "localhost:5000/alpha:v1", &err), err);
  assert_int_equal (box_image_tag (eng, "alpha", "bad@sha256:00", &err), BOX_E_INVALID);
  box_error_free (err);
  err = NULL;
  assert_int_equal (box_image_tag (eng, "nothing", "x", &err), BOX_E_NOT_FOUND);
  box_error_free (err);
  err = NULL;

  box_image *image = NULL;
  assert_ok (box_image_get (eng, "localhost:5000/alpha:v1", &image, &err), err);
  assert_string_equal (image->id, a);
  assert_int_equal (image->n_repo_tags, 2);
  assert_string_equal (image->repo_tags[0], "alpha:latest");
  assert_string_equal (image->repo_tags[1], "localhost:5000/alpha:v1");
  assert_int_equal (image->n_labels, 2);
  assert_int_equal (image->n_layers, 1);
  assert_int_equal (image->size, strlen ("layer a"));
  assert_true (image->created_ns == 1795352400500000000LL);
  box_image_free (image);

  struct {
    const char *filters[3];
    size_t n;
    size_t expected;
  } cases[] = {
    { { NULL }, 0, 2 },
    { { "dangling=true" }, 1, 1 },
    { { "dangling=false" }, 1, 1 },
    { { "reference=alpha" }, 1, 1 },
    { { "reference=alp*" }, 1, 1 },
    { { "reference=localhost:5000/*:v1" }, 1, 1 },
    { { "reference=nothing" }, 1, 0 },
    { { "label=kind" }, 1, 2 },
    { { "label=team=beta" }, 1, 1 },
    { { "label=kind=test", "label=team=alpha" }, 2, 1 },
    { { "label=team=gamma" }, 1, 0 },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    {
      box_image_list_options opts = BOX_IMAGE_LIST_OPTIONS_INIT;
      opts.filters = cases[i].filters;
      opts.n_filters = cases[i].n;
      box_image **images = NULL;
      size_t n = 0;
      assert_ok (box_image_list (eng, &opts, &images, &n, &err), err);
      if (n != cases[i].expected)
        fail_msg ("filter %s: %zu images, expected %zu", cases[i].filters[0] ?: "(none)", n,
                  cases[i].expected);
      box_image_list_free (images, n);
    }
  box_image_list_options bad = BOX_IMAGE_LIST_OPTIONS_INIT;
  const char *bad_filters[] = { "colour=red" };
  bad.filters = bad_filters;
  bad.n_filters = 1;
  box_image **none = NULL;
  size_t n_none = 0;
  assert_int_equal (box_image_list (eng, &bad, &none, &n_none, &err), BOX_E_INVALID);
  box_error_free (err);
  err = NULL;

  char *text = NULL;
  assert_ok (box_image_inspect_json (eng, "alpha", &text, &err), err);
  json_t *o = json_loads (text, 0, NULL);
  free (text);
  assert_non_null (o);
  assert_string_equal (json_string_value (json_object_get (o, "Id")), a);
  assert_string_equal (json_string_value (json_array_get (json_object_get (o, "RepoTags"), 0)),
                       "alpha:latest");
  assert_string_equal (json_string_value (json_object_get (o, "Os")), "linux");
  assert_string_equal (json_string_value (json_object_get (o, "Architecture")), "amd64");
  assert_string_equal (json_string_value (json_object_get (o, "Created")),
                       "2026-11-22T13:00:00.5Z");
  json_t *rootfs = json_object_get (o, "RootFS");
  assert_string_equal (json_string_value (json_object_get (rootfs, "Type")), "layers");
  assert_int_equal (json_array_size (json_object_get (rootfs, "Layers")), 1);
  assert_string_equal (json_string_value (json_array_get (
                           json_object_get (json_object_get (o, "Config"), "Cmd"), 0)),
                       "sh");
  json_decref (o);
  unit_close_engine (eng, root);
}

static void
test_remove_collects_unreferenced_content (void **state)
{
  char *root;
  box_engine *eng = unit_open_engine (&root);
  char a[DIGEST_STRING_MAX], b[DIGEST_STRING_MAX], shared_diff[DIGEST_STRING_MAX],
      own_diff[DIGEST_STRING_MAX];
  add_image (eng, "shared", "one", "one", a);
  add_image (eng, "shared", "two", "two", b);
  box_error *err = NULL;
  assert_ok (box_image_tag (eng, "one", "one:extra", &err), err);
  make_layer (eng, "shared", shared_diff);
  (void) own_diff;

  /* a name of several: only the name goes */
  box_image_delete_item *items = NULL;
  size_t n = 0;
  assert_ok (box_image_remove (eng, "one:extra", NULL, &items, &n, &err), err);
  assert_int_equal (n, 1);
  assert_string_equal (items[0].untagged, "one:extra");
  assert_null (items[0].deleted);
  box_image_delete_items_free (items, n);
  assert_true (blob_present (eng, a));

  /* the last name: the image goes, its config blob too, the shared layer stays */
  assert_ok (box_image_remove (eng, "one", NULL, &items, &n, &err), err);
  assert_int_equal (n, 2);
  assert_string_equal (items[0].untagged, "one:latest");
  assert_string_equal (items[1].deleted, a);
  box_image_delete_items_free (items, n);
  assert_false (blob_present (eng, a));
  assert_true (blob_present (eng, b));
  assert_int_equal (layer_exists (eng, shared_diff, &err), 1);
  assert_int_equal (resolve_code (eng, a), BOX_E_NOT_FOUND);

  /* the last image of the layer: layer and layer blob go */
  char layer_blob[DIGEST_STRING_MAX];
  assert_ok (digest_sha256_buffer ("shared", 6, layer_blob, &err), err);
  assert_true (blob_present (eng, layer_blob));
  assert_ok (box_image_remove (eng, digest_hex (b), NULL, &items, &n, &err), err);
  box_image_delete_items_free (items, n);
  assert_int_equal (layer_exists (eng, shared_diff, &err), 0);
  assert_false (blob_present (eng, layer_blob));
  assert_false (blob_present (eng, b));

  assert_int_equal (box_image_remove (eng, "two", NULL, &items, &n, &err), BOX_E_NOT_FOUND);
  box_error_free (err);
  unit_close_engine (eng, root);
}

static void
test_remove_by_id_with_several_repositories_needs_force (void **state)
{
  char *root;
  box_engine *eng = unit_open_engine (&root);
  char a[DIGEST_STRING_MAX];
  add_image (eng, "layer", "x", "first", a);
  box_error *err = NULL;
  assert_ok (box_image_tag (eng, "first", "second", &err), err);
  box_image_delete_item *items = NULL;
  size_t n = 0;
  assert_int_equal (box_image_remove (eng, a, NULL, &items, &n, &err), BOX_E_CONFLICT);
  assert_non_null (strstr (box_error_message (err), "multiple repositories"));
  box_error_free (err);
  err = NULL;
  box_image_remove_options opts = BOX_IMAGE_REMOVE_OPTIONS_INIT;
  opts.force = 1;
  assert_ok (box_image_remove (eng, a, &opts, &items, &n, &err), err);
  assert_int_equal (n, 3);
  box_image_delete_items_free (items, n);
  assert_false (blob_present (eng, a));
  unit_close_engine (eng, root);
}

static void
test_image_used_by_a_box (void **state)
{
  char *root;
  box_engine *eng = unit_open_engine (&root);
  char a[DIGEST_STRING_MAX];
  add_image (eng, "layer", "used", "busybox", a);
  box_error *err = NULL;
  box_box_create_options create = BOX_BOX_CREATE_OPTIONS_INIT;
  create.image = "busybox";
  create.name = "user";
  assert_ok (box_box_create (eng, &create, NULL, &err), err);

  box_image_delete_item *items = NULL;
  size_t n = 0;
  assert_int_equal (box_image_remove (eng, "busybox", NULL, &items, &n, &err), BOX_E_CONFLICT);
  assert_non_null (strstr (box_error_message (err), "is using its referenced image"));
  box_error_free (err);
  err = NULL;
  assert_int_equal (box_image_remove (eng, a, NULL, &items, &n, &err), BOX_E_CONFLICT);
  box_error_free (err);
  err = NULL;

  /* prune never takes it, even with all */
  box_image_prune_options prune = BOX_IMAGE_PRUNE_OPTIONS_INIT;
  prune.all = 1;
  uint64_t reclaimed = 0;
  assert_ok (box_image_prune (eng, &prune, &items, &n, &reclaimed, &err), err);
  assert_int_equal (n, 0);
  box_image_delete_items_free (items, n);

  /* a box that recorded the image id keeps holding it after a forced untag */
  box_box_create_options by_id = BOX_BOX_CREATE_OPTIONS_INIT;
  char config[200];
  snprintf (config, sizeof config, "{\"ImageID\":\"%s\"}", a);
  by_id.image = "busybox";
  by_id.name = "pinned";
  by_id.config_json = config;
  assert_ok (box_box_create (eng, &by_id, NULL, &err), err);

  box_image_remove_options force = BOX_IMAGE_REMOVE_OPTIONS_INIT;
  force.force = 1;
  assert_ok (box_image_remove (eng, "busybox", &force, &items, &n, &err), err);
  assert_int_equal (n, 1);
  assert_string_equal (items[0].untagged, "busybox:latest");
  box_image_delete_items_free (items, n);
  assert_true (blob_present (eng, a)); /* kept: dangling while a box uses it */
  assert_ok (box_image_prune (eng, &prune, &items, &n, &reclaimed, &err), err);
  assert_int_equal (n, 0);

  assert_ok (box_box_remove (eng, "user", &err), err);
  assert_ok (box_box_remove (eng, "pinned", &err), err);
  assert_ok (box_image_prune (eng, NULL, &items, &n, &reclaimed, &err), err);
  assert_int_equal (n, 1);
  assert_string_equal (items[0].deleted, a);
  box_image_delete_items_free (items, n);
  assert_true (reclaimed > strlen ("layer"));
  assert_false (blob_present (eng, a));
  unit_close_engine (eng, root);
}

static void
test_prune_dangling_only_by_default (void **state)
{
  char *root;
  box_engine *eng = unit_open_engine (&root);
  char tagged[DIGEST_STRING_MAX], dangling[DIGEST_STRING_MAX];
  add_image (eng, "tagged layer", "t", "kept", tagged);
  add_image (eng, "dangling layer", "d", NULL, dangling);
  box_error *err = NULL;
  box_image_delete_item *items = NULL;
  size_t n = 0;
  uint64_t reclaimed = 0;
  box_image_prune_options label = BOX_IMAGE_PRUNE_OPTIONS_INIT;
  const char *filters[] = { "label=team=t" };
  label.filters = filters;
  label.n_filters = 1;
  assert_ok (box_image_prune (eng, &label, &items, &n, &reclaimed, &err), err);
  assert_int_equal (n, 0); /* the dangling one is team=d */
  assert_ok (box_image_prune (eng, NULL, &items, &n, &reclaimed, &err), err);
  assert_int_equal (n, 1);
  assert_string_equal (items[0].deleted, dangling);
  box_image_delete_items_free (items, n);
  assert_true (blob_present (eng, tagged));
  assert_false (blob_present (eng, dangling));

  box_image_prune_options all = BOX_IMAGE_PRUNE_OPTIONS_INIT;
  all.all = 1;
  assert_ok (box_image_prune (eng, &all, &items, &n, &reclaimed, &err), err);
  assert_int_equal (n, 2); /* untagged kept:latest, deleted the image */
  box_image_delete_items_free (items, n);
  assert_false (blob_present (eng, tagged));
  unit_close_engine (eng, root);
}

static void
test_add_rejects_inconsistent_images (void **state)
{
  char *root;
  box_engine *eng = unit_open_engine (&root);
  box_error *err = NULL;
  char diff_id[DIGEST_STRING_MAX], config_digest[DIGEST_STRING_MAX];
  make_layer (eng, "present", diff_id);
  const char *config = "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:"
                       "1111111111111111111111111111111111111111111111111111111111111111\"]}}";
  assert_ok (content_blob_write_buffer (eng, config, strlen (config), config_digest, &err), err);
  image_add_layer layer = { .diff_id = diff_id };
  image_add_request req = { .config_digest = config_digest, .layers = &layer, .n_layers = 1 };
  assert_int_equal (image_store_add (eng, &req, &err), BOX_E_INVALID);
  assert_non_null (strstr (box_error_message (err), "diff id"));
  box_error_free (err);
  err = NULL;

  /* a config that is not one */
  const char *not_config = "{\"config\":{\"Env\":\"PATH=/bin\"},\"rootfs\":{\"type\":\"layers\","
                           "\"diff_ids\":[]}}";
  assert_ok (content_blob_write_buffer (eng, not_config, strlen (not_config), config_digest, &err),
             err);
  req.n_layers = 0;
  assert_int_equal (image_store_add (eng, &req, &err), BOX_E_INVALID);
  assert_non_null (strstr (box_error_message (err), "config.Env"));
  box_error_free (err);
  unit_close_engine (eng, root);
}

/* A blob removed by another process between a pull's check and its record (an rmi of an
 * image sharing it) is found under the write lock: the add is a conflict naming it, and
 * the record is not written. */
static void
test_add_refuses_a_removed_blob (void **state)
{
  char *root;
  box_engine *eng = unit_open_engine (&root);
  box_error *err = NULL;
  char diff_id[DIGEST_STRING_MAX], blob[DIGEST_STRING_MAX], config_digest[DIGEST_STRING_MAX];
  make_layer (eng, "shared", diff_id);
  assert_ok (content_blob_write_buffer (eng, "shared", 6, blob, &err), err);
  char *config = NULL;
  assert_true (asprintf (&config, "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\"]}}",
                         diff_id)
               > 0);
  assert_ok (content_blob_write_buffer (eng, config, strlen (config), config_digest, &err), err);
  free (config);
  assert_ok (content_blob_remove (eng, blob, &err), err);
  image_add_layer layer = { .diff_id = diff_id, .blob_digest = blob, .blob_size = 6, .size = 6 };
  image_add_request req = { .config_digest = config_digest, .layers = &layer, .n_layers = 1 };
  assert_int_equal (image_store_add (eng, &req, &err), BOX_E_CONFLICT);
  assert_non_null (strstr (box_error_message (err), blob));
  box_error_free (err);
  err = NULL;
  char *id = NULL;
  assert_int_equal (image_store_resolve (eng, config_digest, &id, NULL, NULL, &err),
                    BOX_E_NOT_FOUND);
  box_error_free (err);
  unit_close_engine (eng, root);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_resolve_every_form),
    cmocka_unit_test (test_ambiguous_prefix_is_an_error),
    cmocka_unit_test (test_resolve_for_box),
    cmocka_unit_test (test_tag_list_inspect),
    cmocka_unit_test (test_remove_collects_unreferenced_content),
    cmocka_unit_test (test_remove_by_id_with_several_repositories_needs_force),
    cmocka_unit_test (test_image_used_by_a_box),
    cmocka_unit_test (test_prune_dangling_only_by_default),
    cmocka_unit_test (test_add_rejects_inconsistent_images),
    cmocka_unit_test (test_add_refuses_a_removed_blob),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
