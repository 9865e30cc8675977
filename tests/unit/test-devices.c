/* --device: docker's spec syntax, the checks of the host node, HostConfig.Devices, and the
 * devices and cgroup rules the bundle carries. */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "engine/devices.h"
#include "runtime/spec.h"
#include "util/json.h"

static void
expect_parsed (const char *spec, const char *host, const char *in_box, const char *permissions)
{
  box_device *d = NULL;
  box_error *err = NULL;
  int rc = box_device_parse (spec, &d, &err);
  assert_ok (rc, err);
  assert_string_equal (d->path_on_host, host);
  assert_string_equal (d->path_in_box, in_box);
  assert_string_equal (d->permissions, permissions);
  box_device_free (d);
}

static void
expect_refused (const char *spec, const char *message_part)
{
  box_device *d = (box_device *) 1;
  box_error *err = NULL;
  assert_int_equal (box_device_parse (spec, &d, &err), BOX_E_INVALID);
  assert_null (d);
  if (!strstr (box_error_message (err), message_part))
    fail_msg ("\"%s\": message \"%s\" lacks \"%s\"", spec ? spec : "(null)",
              box_error_message (err), message_part);
  box_error_free (err);
}

static void
test_parse_forms (void **state)
{
  expect_parsed ("/dev/null", "/dev/null", "/dev/null", "rwm");
  expect_parsed ("/dev/null:/dev/mydev", "/dev/null", "/dev/mydev", "rwm");
  expect_parsed ("/dev/null:r", "/dev/null", "/dev/null", "r");
  expect_parsed ("/dev/null:mw", "/dev/null", "/dev/null", "mw");
  expect_parsed ("/dev/null:/dev/mydev:rw", "/dev/null", "/dev/mydev", "rw");
  expect_parsed ("/dev/sda:/dev/xvdc:rwm", "/dev/sda", "/dev/xvdc", "rwm");
  /* paths are cleaned */
  expect_parsed ("//dev/./null:/dev//sub/x/", "/dev/null", "/dev/sub/x", "rwm");
  /* a middle word that is not permissions is a path, so it must be absolute */
  expect_refused ("/dev/null:rx", "\"rx\" is not an absolute path");
  expect_refused ("/dev/null:rr", "\"rr\" is not an absolute path");
}

static void
test_parse_refusals (void **state)
{
  expect_refused (NULL, "none given");
  expect_refused ("", "no host path");
  expect_refused (":/dev/x", "no host path");
  expect_refused ("dev/null", "host path \"dev/null\" is not an absolute path");
  expect_refused ("/dev/null:dev/x:r", "path in the box \"dev/x\" is not an absolute path");
  expect_refused ("/dev/null::r", "path in the box \"\" is not an absolute path");
  expect_refused ("/dev/null:/dev/x:", "bad permissions \"\"");
  expect_refused ("/dev/null:/dev/x:rwx", "bad permissions \"rwx\"");
  expect_refused ("/dev/null:/dev/x:rr", "bad permissions \"rr\"");
  expect_refused ("/dev/null:/dev/x:rwmr", "bad permissions \"rwmr\"");
  expect_refused ("/dev/null:/dev/x:r:w", "expected HOST[:BOX][:PERMISSIONS]");
  expect_refused ("/dev/../etc/passwd", "is not an absolute path");
  expect_refused ("/dev/null:/dev/../x", "is not an absolute path");
  expect_refused ("/", "is not an absolute path");
  expect_refused ("/dev/null:/", "is not an absolute path");
}

static void
test_config_checks_the_host_node (void **state)
{
  const box_device ok[] = {
    { "/dev/null", "/dev/mydev", "r" },
    { "/dev/zero", NULL, NULL },
  };
  json_t *list = NULL;
  box_error *err = NULL;
  int rc = engine_devices_config (ok, 2, &list, &err);
  assert_ok (rc, err);
  char *text = json_dumps (list, JSON_COMPACT | JSON_PRESERVE_ORDER);
  assert_string_equal (text, "[{\"PathOnHost\":\"/dev/null\",\"PathInContainer\":\"/dev/mydev\","
                             "\"CgroupPermissions\":\"r\"},{\"PathOnHost\":\"/dev/zero\","
                             "\"PathInContainer\":\"/dev/zero\",\"CgroupPermissions\":\"rwm\"}]");
  free (text);

  spec_device *devices = NULL;
  size_t n = 0;
  rc = engine_devices_resolve (list, &devices, &n, &err);
  assert_ok (rc, err);
  struct stat st;
  assert_int_equal (stat ("/dev/null", &st), 0);
  assert_int_equal (n, 2);
  assert_string_equal (devices[0].path, "/dev/mydev");
  assert_int_equal (devices[0].type, 'c');
  assert_int_equal (devices[0].major, major (st.st_rdev));
  assert_int_equal (devices[0].minor, minor (st.st_rdev));
  assert_int_equal (devices[0].file_mode, st.st_mode & 07777);
  assert_string_equal (devices[0].access, "r");
  assert_string_equal (devices[1].path, "/dev/zero");
  assert_string_equal (devices[1].access, "rwm");
  free (devices);
  json_decref (list);

  /* nothing stored, nothing made */
  assert_int_equal (engine_devices_resolve (NULL, &devices, &n, &err), 0);
  assert_null (devices);
  assert_int_equal (n, 0);

  static const struct {
    box_device device;
    box_error_code code;
    const char *message_part;
  } bad[] = {
    { { "/nonexistent-device", NULL, NULL },
      BOX_E_NOT_FOUND,
      "device /nonexistent-device: No such file" },
    { { "/etc/passwd", NULL, NULL }, BOX_E_INVALID, "not a device node (it is a regular file)" },
    { { "/proc/self/fdinfo", NULL, NULL },
      BOX_E_INVALID,
      "device /proc/self/fdinfo: not a device node, and no device node is below the directory" },
    { { "/dev/null", "mydev", NULL },
      BOX_E_INVALID,
      "path in the box \"mydev\" is not an absolute" },
    { { "/dev/null", NULL, "rwx" }, BOX_E_INVALID, "bad permissions \"rwx\"" },
    { { "dev/null", NULL, NULL }, BOX_E_INVALID, "device dev/null: the host path is not" },
    { { NULL, NULL, NULL }, BOX_E_INVALID, "no host path" },
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    {
      list = NULL;
      assert_int_equal (engine_devices_config (&bad[i].device, 1, &list, &err), bad[i].code);
      assert_null (list);
      if (!strstr (box_error_message (err), bad[i].message_part))
        fail_msg ("case %zu: \"%s\" lacks \"%s\"", i, box_error_message (err), bad[i].message_part);
      box_error_free (err);
      err = NULL;
    }
}

/* A host directory stands for the device nodes below it (docker's --device DIR): each at the
 * same relative path below the path in the box, in name order, nested directories entered,
 * other files and symlinks skipped; a directory without a device is refused. */
static void
test_directory_stands_for_the_nodes_below (void **state)
{
  char dir[] = "/tmp/test-devices-XXXXXX";
  assert_non_null (mkdtemp (dir));
  char path[256];
  static const struct {
    const char *name;
    unsigned major, minor;
  } nodes[] = { { "zero", 1, 5 }, { "null", 1, 3 }, { "sub/deeper/full", 1, 7 } };
  snprintf (path, sizeof path, "%s/sub", dir);
  assert_int_equal (mkdir (path, 0755), 0);
  snprintf (path, sizeof path, "%s/sub/deeper", dir);
  assert_int_equal (mkdir (path, 0755), 0);
  snprintf (path, sizeof path, "%s/empty", dir);
  assert_int_equal (mkdir (path, 0755), 0);
  for (size_t i = 0; i < 3; i++)
    {
      snprintf (path, sizeof path, "%s/%s", dir, nodes[i].name);
      assert_int_equal (mknod (path, S_IFCHR | 0640, makedev (nodes[i].major, nodes[i].minor)), 0);
    }
  snprintf (path, sizeof path, "%s/regular", dir);
  FILE *f = fopen (path, "w");
  assert_non_null (f);
  fclose (f);
  /* a symlink to a device below the directory is not followed (docker walks with lstat) */
  snprintf (path, sizeof path, "%s/link-to-null", dir);
  assert_int_equal (symlink ("/dev/null", path), 0);

  const box_device given[] = { { dir, "/dev/mine", "r" } };
  json_t *list = NULL;
  box_error *err = NULL;
  int rc = engine_devices_config (given, 1, &list, &err);
  assert_ok (rc, err);
  /* stored as given: the walk happens again at each start */
  assert_string_equal (json_string_value (json_object_get (json_array_get (list, 0), "PathOnHost")),
                       dir);

  spec_device *devices = NULL;
  size_t n = 0;
  rc = engine_devices_resolve (list, &devices, &n, &err);
  assert_ok (rc, err);
  assert_int_equal (n, 3);
  assert_string_equal (devices[0].path, "/dev/mine/null");
  assert_string_equal (devices[1].path, "/dev/mine/sub/deeper/full");
  assert_string_equal (devices[2].path, "/dev/mine/zero");
  const unsigned minors[] = { 3, 7, 5 };
  for (size_t i = 0; i < 3; i++)
    {
      assert_int_equal (devices[i].type, 'c');
      assert_int_equal (devices[i].major, 1);
      assert_int_equal (devices[i].minor, minors[i]);
      assert_int_equal (devices[i].file_mode, 0640);
      assert_string_equal (devices[i].access, "r");
    }
  free (devices);
  json_decref (list);

  /* a directory without a device node below it */
  snprintf (path, sizeof path, "%s/empty", dir);
  const box_device empty[] = { { path, NULL, NULL } };
  list = NULL;
  assert_int_equal (engine_devices_config (empty, 1, &list, &err), BOX_E_INVALID);
  assert_null (list);
  assert_non_null (strstr (box_error_message (err), "no device node is below the directory"));
  box_error_free (err);
  err = NULL;

  char command[300];
  snprintf (command, sizeof command, "rm -rf '%s'", dir);
  assert_int_equal (system (command), 0);
}

static void
test_resolve_refuses_a_vanished_node (void **state)
{
  json_t *list = json_pack ("[{s:s, s:s, s:s}]", "PathOnHost", "/etc/passwd", "PathInContainer",
                            "/dev/x", "CgroupPermissions", "rwm");
  spec_device *devices = NULL;
  size_t n = 0;
  box_error *err = NULL;
  assert_int_equal (engine_devices_resolve (list, &devices, &n, &err), BOX_E_INVALID);
  assert_non_null (strstr (box_error_message (err), "not a device node"));
  box_error_free (err);
  json_decref (list);
}

/* The bundle: a linux.devices entry per device and an allow rule after docker's defaults,
 * read back as the native runtime reads it. */
static void
test_spec_round_trip (void **state)
{
  static const char *const args[] = { "/bin/true", NULL };
  const spec_device devices[] = {
    { "/dev/mydev", 'c', 1, 5, 0666, "rw" },
    { "/dev/sub/disk", 'b', 8, 0, 0660, "r" },
  };
  spec_options opts = { .args = args, .rootfs = "rootfs", .devices = devices, .n_devices = 2 };
  json_t *config = NULL;
  box_error *err = NULL;
  int rc = spec_build (&opts, &config, &err);
  assert_ok (rc, err);
  json_t *list = json_object_get (json_object_get (config, "linux"), "devices");
  char *text = json_dumps (json_array_get (list, 1), JSON_COMPACT | JSON_PRESERVE_ORDER);
  assert_string_equal (text, "{\"path\":\"/dev/sub/disk\",\"type\":\"b\",\"major\":8,\"minor\":0,"
                             "\"fileMode\":432,\"uid\":0,\"gid\":0}");
  free (text);
  json_t *rules = json_object_get (json_object_get (json_object_get (config, "linux"), "resources"),
                                   "devices");
  text = json_dumps (json_array_get (rules, json_array_size (rules) - 1),
                     JSON_COMPACT | JSON_PRESERVE_ORDER);
  assert_string_equal (text,
                       "{\"allow\":true,\"type\":\"b\",\"major\":8,\"minor\":0,\"access\":\"r\"}");
  free (text);
  text = json_dumps (config, JSON_COMPACT);
  json_decref (config);
  oci_config *c = NULL;
  rc = spec_parse (text, strlen (text), &c, &err);
  free (text);
  assert_ok (rc, err);
  assert_int_equal (c->n_devices, 2);
  assert_string_equal (c->devices[0].path, "/dev/mydev");
  assert_int_equal (c->devices[0].type, 'c');
  assert_int_equal (c->devices[0].minor, 5);
  assert_int_equal (c->devices[0].file_mode, 0666);
  assert_int_equal (c->devices[1].type, 'b');
  /* the rules end with ours, after the default deny */
  const char *rules_text = c->resources.devices_rules;
  assert_non_null (strstr (rules_text, "-a *:* rwm\n"));
  assert_non_null (strstr (rules_text, "+c 1:5 rw\n+b 8:0 r\n"));
  assert_true (strstr (rules_text, "+b 8:0 r\n")[strlen ("+b 8:0 r\n")] == '\0');
  oci_config_free (c);

  /* privileged: everything allowed, the nodes still made */
  opts.privileged = true;
  config = NULL;
  rc = spec_build (&opts, &config, &err);
  assert_ok (rc, err);
  assert_int_equal (
      json_array_size (json_object_get (json_object_get (config, "linux"), "devices")), 2);
  json_decref (config);

  /* bad access letters never reach a bundle */
  const spec_device bad[] = { { "/dev/x", 'c', 1, 3, 0666, "rx" } };
  opts.devices = bad;
  opts.n_devices = 1;
  config = NULL;
  assert_int_equal (spec_build (&opts, &config, &err), BOX_E_INVALID);
  assert_null (config);
  box_error_free (err);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_parse_forms),
    cmocka_unit_test (test_parse_refusals),
    cmocka_unit_test (test_config_checks_the_host_node),
    cmocka_unit_test (test_directory_stands_for_the_nodes_below),
    cmocka_unit_test (test_resolve_refuses_a_vanished_node),
    cmocka_unit_test (test_spec_round_trip),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
