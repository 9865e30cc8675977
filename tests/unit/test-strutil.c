/* String helpers: hex and UTF-8 validation (what external_ref validation stands on). */
#include "unit.h"

#include <string.h>

#include "util/strutil.h"

static void
test_hex (void **state)
{
  char out[9];
  hex_encode ((const unsigned char *) "\x00\xab\xff\x10", 4, out);
  assert_string_equal (out, "00abff10");
  assert_true (str_is_lower_hex ("0123456789abcdef"));
  assert_false (str_is_lower_hex (""));
  assert_false (str_is_lower_hex ("ABC"));
  assert_false (str_is_lower_hex ("abg"));
}

static void
test_utf8 (void **state)
{
  static const struct {
    const char *s;
    bool valid, valid_without_controls;
  } cases[] = {
    { "plain", true, true },
    { "caf\xc3\xa9", true, true },        /* é */
    { "\xe2\x82\xac", true, true },       /* € */
    { "\xf0\x9f\x93\xa6", true, true },   /* 📦 */
    { "tab\there", true, false },         /* C0 control */
    { "del\x7f", true, false },           /* DEL */
    { "c1\xc2\x85", true, false },        /* U+0085, a C1 control */
    { "\xc0\xaf", false, false },         /* overlong '/' */
    { "\xed\xa0\x80", false, false },     /* surrogate */
    { "\xf4\x90\x80\x80", false, false }, /* above U+10FFFF */
    { "\xe2\x82", false, false },         /* truncated */
    { "\x80", false, false },             /* lone continuation */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    {
      size_t len = strlen (cases[i].s);
      assert_int_equal (utf8_is_valid (cases[i].s, len, false), cases[i].valid);
      assert_int_equal (utf8_is_valid (cases[i].s, len, true), cases[i].valid_without_controls);
    }
}

static void
test_normalize_relative_path (void **state)
{
  struct {
    const char *raw;
    const char *normalized; /* NULL: refused */
  } cases[] = {
    { "a/b", "a/b" },
    { "./a//./b/", "a/b" },
    { "/etc/passwd", "etc/passwd" },
    { "/", "" },
    { ".", "" },
    { "", "" },
    { "..a/b..", "..a/b.." },
    { "a/../b", NULL },
    { "..", NULL },
    { "/../x", NULL },
    { "a/..", NULL },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    {
      char out[64];
      bool ok = str_normalize_relative_path (cases[i].raw, out);
      assert_int_equal (ok, cases[i].normalized != NULL);
      if (ok)
        assert_string_equal (out, cases[i].normalized);
    }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_hex),
    cmocka_unit_test (test_utf8),
    cmocka_unit_test (test_normalize_relative_path),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
