/* Unit tests of the registry concern's parsers and credential storage: manifests and platform
 * selection, authentication challenges, loopback detection, host normalization, docker's
 * config.json (auths, environment pair), registry settings. The network paths are exercised
 * against a real registry by the integration tests. */
#include "unit.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "registry/challenge.h"
#include "registry/client.h"
#include "registry/credentials.h"
#include "registry/http.h"
#include "registry/manifest.h"
#include "registry/registry.h"
#include "util/fs.h"

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define D3 "sha256:3333333333333333333333333333333333333333333333333333333333333333"

static registry_manifest *
parse_ok (const char *text, const char *content_type)
{
  registry_manifest *m = NULL;
  box_error *err = NULL;
  int rc = registry_manifest_parse (text, strlen (text), content_type, &m, &err);
  assert_ok (rc, err);
  return m;
}

static void
expect_parse_error (const char *text, box_error_code code, const char *fragment)
{
  registry_manifest *m = NULL;
  box_error *err = NULL;
  assert_int_equal (registry_manifest_parse (text, strlen (text), NULL, &m, &err), code);
  assert_null (m);
  if (!strstr (box_error_message (err), fragment))
    fail_msg ("\"%s\" does not mention \"%s\"", box_error_message (err), fragment);
  box_error_free (err);
}

static void
test_oci_manifest (void **state)
{
  registry_manifest *m = parse_ok (
      "{\"schemaVersion\":2,\"mediaType\":\"" MEDIA_TYPE_OCI_MANIFEST "\","
      "\"config\":{\"mediaType\":\"" MEDIA_TYPE_OCI_CONFIG "\",\"digest\":\"" D1 "\",\"size\":7},"
      "\"layers\":[{\"mediaType\":\"" MEDIA_TYPE_OCI_LAYER_GZIP "\",\"digest\":\"" D2
      "\",\"size\":100},{\"mediaType\":\"" MEDIA_TYPE_OCI_LAYER_ZSTD "\",\"digest\":\"" D3
      "\",\"size\":5}]}",
      NULL);
  assert_int_equal (m->kind, MANIFEST_KIND_IMAGE);
  assert_string_equal (m->config.digest, D1);
  assert_int_equal (m->config.size, 7);
  assert_int_equal (m->n_layers, 2);
  assert_string_equal (m->layers[1].digest, D3);
  layer_compression c;
  assert_int_equal (registry_layer_compression (m->layers[1].media_type, &c, NULL), 0);
  assert_int_equal (c, LAYER_COMPRESSION_ZSTD);
  registry_manifest_free (m);
}

static void
test_docker_manifest_and_media_type_from_header (void **state)
{
  registry_manifest *m
      = parse_ok ("{\"schemaVersion\":2,\"mediaType\":\"" MEDIA_TYPE_DOCKER_MANIFEST "\","
                  "\"config\":{\"mediaType\":\"" MEDIA_TYPE_DOCKER_CONFIG "\",\"digest\":\"" D1
                  "\",\"size\":7},\"layers\":[{\"mediaType\":\"" MEDIA_TYPE_DOCKER_LAYER_GZIP
                  "\",\"digest\":\"" D2 "\",\"size\":1}]}",
                  NULL);
  assert_string_equal (m->media_type, MEDIA_TYPE_DOCKER_MANIFEST);
  registry_manifest_free (m);

  /* OCI lets mediaType out: the Content-Type says what it is, else the shape */
  m = parse_ok ("{\"schemaVersion\":2,\"manifests\":[]}", NULL);
  assert_int_equal (m->kind, MANIFEST_KIND_INDEX);
  registry_manifest_free (m);
  m = parse_ok ("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\",\"digest\":\"" D1
                "\",\"size\":1},\"layers\":[]}",
                MEDIA_TYPE_OCI_MANIFEST);
  assert_int_equal (m->kind, MANIFEST_KIND_IMAGE);
  registry_manifest_free (m);
}

static void
test_manifest_rejections (void **state)
{
  expect_parse_error ("{\"schemaVersion\":1,\"fsLayers\":[]}", BOX_E_UNSUPPORTED,
                      "schema version 1");
  expect_parse_error ("[1,2]", BOX_E_INVALID, "not a JSON object");
  expect_parse_error ("{\"schemaVersion\":2", BOX_E_INVALID, "invalid JSON");
  expect_parse_error ("{\"schemaVersion\":2,\"mediaType\":\"" MEDIA_TYPE_OCI_MANIFEST
                      "\",\"config\":{\"mediaType\":\"x\",\"digest\":\"sha256:abc\",\"size\":1},"
                      "\"layers\":[]}",
                      BOX_E_INVALID, "invalid digest");
  expect_parse_error ("{\"schemaVersion\":2,\"mediaType\":\"" MEDIA_TYPE_OCI_MANIFEST
                      "\",\"config\":{\"mediaType\":\"x\",\"digest\":\"" D1 "\",\"size\":-1},"
                      "\"layers\":[]}",
                      BOX_E_INVALID, "size");
  expect_parse_error ("{\"schemaVersion\":2,\"mediaType\":\"" MEDIA_TYPE_OCI_MANIFEST
                      "\",\"config\":{\"mediaType\":\"x\",\"digest\":\"" D1 "\",\"size\":1},"
                      "\"layers\":[{\"mediaType\":\"application/vnd.docker.image.rootfs.foreign."
                      "diff.tar.gzip\",\"digest\":\"" D2 "\",\"size\":1}]}",
                      BOX_E_UNSUPPORTED, "non-distributable");
  expect_parse_error ("{\"schemaVersion\":2,\"mediaType\":\"text/plain\"}", BOX_E_UNSUPPORTED,
                      "text/plain");
  expect_parse_error ("{\"schemaVersion\":2,\"mediaType\":\"" MEDIA_TYPE_OCI_MANIFEST
                      "\",\"config\":{\"mediaType\":\"x\",\"digest\":\"sha512:00\",\"size\":1},"
                      "\"layers\":[]}",
                      BOX_E_UNSUPPORTED, "sha512");
  /* duplicate keys would let two parsers disagree on what a manifest says */
  expect_parse_error ("{\"schemaVersion\":2,\"schemaVersion\":2}", BOX_E_INVALID, "invalid JSON");
}

static void
test_index_platform_selection (void **state)
{
  registry_manifest *m
      = parse_ok ("{\"schemaVersion\":2,\"mediaType\":\"" MEDIA_TYPE_OCI_INDEX "\",\"manifests\":["
                  "{\"mediaType\":\"" MEDIA_TYPE_OCI_MANIFEST "\",\"digest\":\"" D1 "\",\"size\":1,"
                  "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\",\"variant\":\"v8\"}},"
                  "{\"mediaType\":\"" MEDIA_TYPE_OCI_MANIFEST "\",\"digest\":\"" D2 "\",\"size\":1,"
                  "\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}},"
                  "{\"mediaType\":\"" MEDIA_TYPE_OCI_MANIFEST "\",\"digest\":\"" D3 "\",\"size\":1,"
                  "\"platform\":{\"os\":\"unknown\",\"architecture\":\"unknown\"}}]}",
                  NULL);
  const registry_descriptor *d = NULL;
  box_error *err = NULL;
  assert_ok (registry_index_select (m, "linux/amd64", &d, &err), err);
  assert_string_equal (d->digest, D2);
  assert_ok (registry_index_select (m, "linux/arm64", &d, &err), err);
  assert_string_equal (d->digest, D1);
  assert_ok (registry_index_select (m, "linux/arm64/v8", &d, &err), err);
  assert_string_equal (d->digest, D1);
  assert_int_equal (registry_index_select (m, "linux/s390x", &d, &err), BOX_E_NOT_FOUND);
  assert_non_null (strstr (box_error_message (err), "linux/s390x"));
  box_error_free (err);
  err = NULL;
  assert_int_equal (registry_index_select (m, "amd64", &d, &err), BOX_E_INVALID);
  box_error_free (err);
  err = NULL;
  /* NULL: this host */
  if (strcmp (registry_host_platform (), "linux/amd64") == 0)
    {
      assert_ok (registry_index_select (m, NULL, &d, &err), err);
      assert_string_equal (d->digest, D2);
    }
  registry_manifest_free (m);
}

static void
test_challenge_parse (void **state)
{
  auth_challenge c;
  box_error *err = NULL;
  assert_ok (
      auth_challenge_parse ("Bearer realm=\"http://127.0.0.1:1/token\",service=\"reg\","
                            "scope=\"repository:a/b:pull,push\",error=\"insufficient_scope\"",
                            &c, &err),
      err);
  assert_string_equal (c.scheme, "bearer");
  assert_string_equal (c.realm, "http://127.0.0.1:1/token");
  assert_string_equal (c.service, "reg");
  assert_string_equal (c.scope, "repository:a/b:pull,push");
  assert_string_equal (c.error, "insufficient_scope");
  auth_challenge_clear (&c);

  assert_ok (auth_challenge_parse ("BASIC realm=\"a \\\"quoted\\\" realm\"", &c, &err), err);
  assert_string_equal (c.scheme, "basic");
  assert_string_equal (c.realm, "a \"quoted\" realm");
  assert_null (c.service);
  auth_challenge_clear (&c);

  assert_ok (auth_challenge_parse ("Bearer realm=bare,service=svc", &c, &err), err);
  assert_string_equal (c.realm, "bare");
  assert_string_equal (c.service, "svc");
  auth_challenge_clear (&c);

  assert_int_equal (auth_challenge_parse ("", &c, &err), BOX_E_INVALID);
  box_error_free (err);
}

static void
test_loopback (void **state)
{
  assert_true (http_host_is_loopback ("localhost"));
  assert_true (http_host_is_loopback ("localhost:5000"));
  assert_true (http_host_is_loopback ("127.0.0.1:5000"));
  assert_true (http_host_is_loopback ("127.200.3.4"));
  assert_true (http_host_is_loopback ("[::1]:5000"));
  assert_true (http_host_is_loopback ("::1"));
  assert_false (http_host_is_loopback ("128.0.0.1:5000"));
  assert_false (http_host_is_loopback ("10.0.0.1"));
  assert_false (http_host_is_loopback ("localhost.example.com"));
  assert_false (http_host_is_loopback ("127.0.0.1.example.com"));
  assert_false (http_host_is_loopback ("[::2]:5000"));
  assert_false (http_host_is_loopback (""));
  assert_false (http_host_is_loopback (NULL));
}

static void
test_normalize_host (void **state)
{
  char out[REGISTRY_HOST_MAX];
  assert_int_equal (registry_normalize_host (NULL, out, NULL), 0);
  assert_string_equal (out, "docker.io");
  assert_int_equal (registry_normalize_host ("https://index.docker.io/v1/", out, NULL), 0);
  assert_string_equal (out, "docker.io");
  assert_int_equal (registry_normalize_host ("http://127.0.0.1:5000/", out, NULL), 0);
  assert_string_equal (out, "127.0.0.1:5000");
  box_error *err = NULL;
  assert_int_equal (registry_normalize_host ("bad host", out, &err), BOX_E_INVALID);
  box_error_free (err);
}

/* A scratch DOCKER_CONFIG and HOME; returns the directory. */
static char *
scratch_config_dir (void)
{
  char *dir = unit_make_temp_dir ();
  setenv ("DOCKER_CONFIG", dir, 1);
  unsetenv (REGISTRY_AUTH_HOST_ENV);
  unsetenv (REGISTRY_AUTH_ENV);
  return dir;
}

static void
write_config (const char *dir, const char *text)
{
  char path[4096];
  snprintf (path, sizeof path, "%s/config.json", dir);
  FILE *f = fopen (path, "w");
  assert_non_null (f);
  fputs (text, f);
  fclose (f);
}

static void
test_credentials_from_config (void **state)
{
  char *dir = scratch_config_dir ();
  /* "alice:s3cret:with:colons" — the password may hold colons */
  write_config (dir, "{\"auths\":{\"https://reg.test:5000/v1/\":{\"auth\":"
                     "\"YWxpY2U6czNjcmV0OndpdGg6Y29sb25z\"},"
                     "\"https://index.docker.io/v1/\":{\"auth\":\"aHViOmh1YnB3\"}}}");
  registry_credentials *c = NULL;
  box_error *err = NULL;
  assert_ok (registry_credentials_lookup ("reg.test:5000", &c, &err), err);
  assert_non_null (c);
  assert_string_equal (c->username, "alice");
  assert_string_equal (c->password, "s3cret:with:colons");
  registry_credentials_free (c);
  assert_ok (registry_credentials_lookup ("docker.io", &c, &err), err);
  assert_string_equal (c->username, "hub");
  registry_credentials_free (c);
  assert_ok (registry_credentials_lookup ("other:1", &c, &err), err);
  assert_null (c);

  /* the environment pair wins for its one host only */
  setenv (REGISTRY_AUTH_HOST_ENV, "reg.test:5000", 1);
  setenv (REGISTRY_AUTH_ENV, "env-user:env:pw", 1);
  assert_ok (registry_credentials_lookup ("reg.test:5000", &c, &err), err);
  assert_string_equal (c->username, "env-user");
  assert_string_equal (c->password, "env:pw");
  assert_string_equal (c->source, "environment");
  registry_credentials_free (c);
  assert_ok (registry_credentials_lookup ("docker.io", &c, &err), err);
  assert_string_equal (c->username, "hub");
  registry_credentials_free (c);
  setenv (REGISTRY_AUTH_ENV, "no-colon", 1);
  assert_int_equal (registry_credentials_lookup ("reg.test:5000", &c, &err), BOX_E_INVALID);
  assert_null (strstr (box_error_message (err), "no-colon"));
  box_error_free (err);
  unsetenv (REGISTRY_AUTH_HOST_ENV);
  unsetenv (REGISTRY_AUTH_ENV);

  unit_remove_tree (dir);
  free (dir);
}

static void
test_credentials_store_and_erase (void **state)
{
  char *dir = scratch_config_dir ();
  write_config (dir, "{\"psFormat\":\"table\",\"auths\":{\"keep:1\":{\"auth\":\"eDp5\"}}}");
  box_error *err = NULL;
  assert_ok (registry_credentials_store ("reg.test:5000", "bob", "pw", &err), err);
  char path[4096];
  snprintf (path, sizeof path, "%s/config.json", dir);
  struct stat st;
  assert_int_equal (stat (path, &st), 0);
  assert_int_equal (st.st_mode & 0777, 0600);
  char *text = NULL;
  size_t len = 0;
  assert_ok (fs_read_file (AT_FDCWD, path, &text, &len, &err), err);
  assert_non_null (strstr (text, "\"psFormat\""));
  assert_non_null (strstr (text, "\"keep:1\""));
  assert_non_null (strstr (text, "Ym9iOnB3")); /* base64("bob:pw") */
  free (text);

  registry_credentials *c = NULL;
  assert_ok (registry_credentials_lookup ("reg.test:5000", &c, &err), err);
  assert_string_equal (c->password, "pw");
  registry_credentials_free (c);

  bool found = false;
  assert_ok (registry_credentials_erase ("reg.test:5000", &found, &err), err);
  assert_true (found);
  assert_ok (registry_credentials_lookup ("reg.test:5000", &c, &err), err);
  assert_null (c);
  assert_ok (registry_credentials_erase ("reg.test:5000", &found, &err), err);
  assert_false (found);
  unit_remove_tree (dir);
  free (dir);
}

static void
test_settings (void **state)
{
  char *dir = unit_make_temp_dir ();
  int fd = open (dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  registry_settings *s = NULL;
  box_error *err = NULL;
  assert_ok (registry_settings_load (fd, &s, &err), err);
  assert_null (s->insecure_registries);
  registry_settings_free (s);

  const char *text = "{\"insecure-registries\":[\"a:1\"],\"registry-mirrors\":[\"http://m:2\"]}";
  assert_ok (fs_write_file_atomic (fd, REGISTRY_SETTINGS_FILE, text, strlen (text), 0644, &err),
             err);
  assert_ok (registry_settings_load (fd, &s, &err), err);
  assert_string_equal (s->insecure_registries[0], "a:1");
  assert_null (s->insecure_registries[1]);
  assert_string_equal (s->mirrors[0], "http://m:2");
  registry_settings_free (s);

  text = "{\"registry-mirrors\":\"not-a-list\"}";
  assert_ok (fs_write_file_atomic (fd, REGISTRY_SETTINGS_FILE, text, strlen (text), 0644, &err),
             err);
  assert_int_equal (registry_settings_load (fd, &s, &err), BOX_E_INVALID);
  box_error_free (err);
  close (fd);
  unit_remove_tree (dir);
  free (dir);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_oci_manifest),
    cmocka_unit_test (test_docker_manifest_and_media_type_from_header),
    cmocka_unit_test (test_manifest_rejections),
    cmocka_unit_test (test_index_platform_selection),
    cmocka_unit_test (test_challenge_parse),
    cmocka_unit_test (test_loopback),
    cmocka_unit_test (test_normalize_host),
    cmocka_unit_test (test_credentials_from_config),
    cmocka_unit_test (test_credentials_store_and_erase),
    cmocka_unit_test (test_settings),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
