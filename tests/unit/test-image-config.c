/* Image configs: docker-import --change instructions, config validation, RFC 3339 times. */
#include "unit.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "image/image-config.h"

typedef struct change_case {
  const char *changes[3];
  const char *expected; /* the config object after applying them, as compact JSON (sorted) */
} change_case;

static const change_case change_cases[] = {
  { { "CMD [\"sh\",\"-c\",\"echo hi\"]" }, "{\"Cmd\": [\"sh\", \"-c\", \"echo hi\"]}" },
  { { "CMD echo hi there" }, "{\"Cmd\": [\"/bin/sh\", \"-c\", \"echo hi there\"]}" },
  { { "cmd [\"/bin/true\"]  " }, "{\"Cmd\": [\"/bin/true\"]}" },
  { { "ENTRYPOINT [\"/init\"]" }, "{\"Entrypoint\": [\"/init\"]}" },
  { { "ENTRYPOINT [not json" }, "{\"Entrypoint\": [\"/bin/sh\", \"-c\", \"[not json\"]}" },
  { { "ENV A=b C=\"d e\" F='g h' I=j\\ k" },
    "{\"Env\": [\"A=b\", \"C=d e\", \"F=g h\", \"I=j k\"]}" },
  { { "ENV PATH=/bin", "ENV PATH=/usr/bin" }, "{\"Env\": [\"PATH=/usr/bin\"]}" },
  { { "ENV KEY value with spaces" }, "{\"Env\": [\"KEY=value with spaces\"]}" },
  { { "ENV A=", "ENV B=1" }, "{\"Env\": [\"A=\", \"B=1\"]}" },
  { { "LABEL a=b \"c d\"=\"e f\"" }, "{\"Labels\": {\"a\": \"b\", \"c d\": \"e f\"}}" },
  { { "EXPOSE 80 443/tcp 53/udp" },
    "{\"ExposedPorts\": {\"443/tcp\": {}, \"53/udp\": {}, \"80/tcp\": {}}}" },
  { { "VOLUME /data /cache" }, "{\"Volumes\": {\"/cache\": {}, \"/data\": {}}}" },
  { { "VOLUME [\"/data\"]" }, "{\"Volumes\": {\"/data\": {}}}" },
  { { "WORKDIR /srv/app", "USER 1000:1000", "STOPSIGNAL SIGQUIT" },
    "{\"StopSignal\": \"SIGQUIT\", \"User\": \"1000:1000\", \"WorkingDir\": \"/srv/app\"}" },
};

static void
test_changes (void **state)
{
  for (size_t i = 0; i < sizeof change_cases / sizeof change_cases[0]; i++)
    {
      const change_case *c = &change_cases[i];
      json_t *config = json_object ();
      for (size_t j = 0; j < 3 && c->changes[j]; j++)
        {
          box_error *err = NULL;
          int rc = image_config_apply_change (config, c->changes[j], &err);
          if (rc < 0)
            fail_msg ("%s: %s", c->changes[j], box_error_message (err));
        }
      char *text = json_dumps (config, JSON_SORT_KEYS);
      if (strcmp (text, c->expected) != 0)
        fail_msg ("%s: got %s, expected %s", c->changes[0], text, c->expected);
      free (text);
      json_decref (config);
    }
}

static void
test_invalid_changes (void **state)
{
  static const struct {
    const char *change, *message_part;
  } cases[] = {
    { "", "expected INSTRUCTION" },
    { "RUN make", "RUN is not one of" },
    { "ONBUILD CMD x", "ONBUILD is not one of" },
    { "CMD", "needs an argument" },
    { "ENV =x", "not key=value" },
    { "ENV A=b C", "not key=value" },
    { "ENV KEY", "needs a value" },
    { "LABEL a", "not key=value" },
    { "LABEL a=\"unterminated", "unterminated" },
    { "EXPOSE 0", "PORT" },
    { "EXPOSE 70000", "PORT" },
    { "EXPOSE 80/icmp", "PORT" },
    { "EXPOSE http", "PORT" },
    { "WORKDIR \xff\xfe", "UTF-8" },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    {
      json_t *config = json_object ();
      box_error *err = NULL;
      int rc = image_config_apply_change (config, cases[i].change, &err);
      if (rc == 0)
        fail_msg ("\"%s\" was accepted", cases[i].change);
      assert_int_equal (rc, BOX_E_INVALID);
      if (!strstr (box_error_message (err), cases[i].message_part))
        fail_msg ("\"%s\": \"%s\" does not mention \"%s\"", cases[i].change,
                  box_error_message (err), cases[i].message_part);
      box_error_free (err);
      json_decref (config);
    }
}

static void
test_validate (void **state)
{
  static const struct {
    const char *json, *message_part; /* NULL: valid */
  } cases[] = {
    { "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}", NULL },
    { "{\"config\":null,\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}", NULL },
    { "{\"config\":{\"Env\":null,\"Cmd\":null},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}",
      NULL },
    { "{}", "rootfs" },
    { "{\"rootfs\":{\"type\":\"zfs\",\"diff_ids\":[]}}", "rootfs.type" },
    { "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"md5:x\"]}}", "diff_ids[0]" },
    { "{\"config\":[],\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}", "not an object" },
    { "{\"config\":{\"Cmd\":\"sh\"},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}",
      "config.Cmd" },
    { "{\"config\":{\"Env\":[1]},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}", "config.Env" },
    { "{\"config\":{\"User\":0},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}", "config.User" },
    { "{\"config\":{\"Labels\":{\"a\":1}},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}",
      "config.Labels" },
    { "{\"config\":{\"Healthcheck\":{\"Test\":\"x\"}},\"rootfs\":{\"type\":\"layers\","
      "\"diff_ids\":[]}}",
      "Healthcheck.Test" },
    { "{\"history\":{},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}", "history" },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    {
      json_t *blob = json_loads (cases[i].json, 0, NULL);
      assert_non_null (blob);
      box_error *err = NULL;
      int rc = image_config_validate (blob, &err);
      if (!cases[i].message_part)
        assert_ok (rc, err);
      else
        {
          if (rc == 0)
            fail_msg ("%s was accepted", cases[i].json);
          if (!strstr (box_error_message (err), cases[i].message_part))
            fail_msg ("%s: \"%s\" does not mention %s", cases[i].json, box_error_message (err),
                      cases[i].message_part);
          box_error_free (err);
        }
      json_decref (blob);
    }
}

static void
test_rfc3339 (void **state)
{
  static const struct {
    const char *text;
    int64_t ns; /* -1: invalid */
  } cases[] = {
    { "1970-01-01T00:00:00Z", 0 },
    { "2026-11-22T13:00:00Z", 1795352400000000000LL },
    { "2026-11-22T13:00:00.5Z", 1795352400500000000LL },
    { "2026-11-22T13:00:00.123456789Z", 1795352400123456789LL },
    { "2026-11-22T13:00:00.1234567891234Z", 1795352400123456789LL },
    { "2026-11-22T15:00:00+02:00", 1795352400000000000LL },
    { "2026-11-22T12:30:00-00:30", 1795352400000000000LL },
    { "2026-11-22 13:00:00Z", 1795352400000000000LL },
    { "2026-11-22T13:00:00", -1 },
    { "2026-13-22T13:00:00Z", -1 },
    { "2026-11-22T13:00:00.Z", -1 },
    { "2026-11-22T13:00:00Zjunk", -1 },
    { "2262-04-11T23:47:16Z", 9223372036000000000LL },
    { "9999-12-31T23:59:59Z", -1 }, /* beyond int64_t nanoseconds (found by fuzz-archive-load) */
    { "0001-01-01T00:00:00Z", -1 },
    { "yesterday", -1 },
    { "", -1 },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    {
      int64_t ns = 0;
      box_error *err = NULL;
      int rc = image_time_parse_rfc3339 (cases[i].text, &ns, &err);
      if (cases[i].ns < 0)
        {
          if (rc == 0)
            fail_msg ("\"%s\" was accepted", cases[i].text);
          box_error_free (err);
        }
      else
        {
          if (rc < 0)
            fail_msg ("%s: %s", cases[i].text, box_error_message (err));
          if (ns != cases[i].ns)
            fail_msg ("%s: %lld, expected %lld", cases[i].text, (long long) ns,
                      (long long) cases[i].ns);
        }
    }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_changes),
    cmocka_unit_test (test_invalid_changes),
    cmocka_unit_test (test_validate),
    cmocka_unit_test (test_rfc3339),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
