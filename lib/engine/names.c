/* Owns generated box names: adjective_noun, readable, unique in the store. */
#include <stdio.h>
#include <stdlib.h>

#include "engine/engine.h"
#include "store/boxes.h"
#include "util/random.h"

static const char *const adjectives[] = {
  "agile",   "amber",   "bold",    "brave",  "bright", "brisk",   "calm",   "clever",
  "cosmic",  "crisp",   "curious", "daring", "eager",  "earnest", "fancy",  "fearless",
  "festive", "focused", "gentle",  "glad",   "golden", "happy",   "hardy",  "honest",
  "humble",  "jolly",   "keen",    "kind",   "lively", "loyal",   "lucid",  "mellow",
  "merry",   "mighty",  "modest",  "nimble", "noble",  "patient", "plucky", "polite",
  "proud",   "quick",   "quiet",   "rapid",  "ready",  "serene",  "sharp",  "shiny",
  "silent",  "sleepy",  "snappy",  "solid",  "steady", "stoic",   "sturdy", "sunny",
  "swift",   "tender",  "tidy",    "trusty", "upbeat", "vivid",   "witty",  "zealous",
};

static const char *const nouns[] = {
  "albatross", "badger",  "beaver", "bison",  "bobcat", "condor", "coyote",  "crane",
  "dingo",     "dolphin", "eagle",  "egret",  "falcon", "ferret", "finch",   "fox",
  "gazelle",   "gecko",   "heron",  "ibex",   "jackal", "jaguar", "kestrel", "koala",
  "lemur",     "lynx",    "magpie", "marmot", "marten", "mole",   "moose",   "narwhal",
  "ocelot",    "orca",    "osprey", "otter",  "owl",    "panda",  "pelican", "penguin",
  "puffin",    "quail",   "rabbit", "raven",  "robin",  "salmon", "seal",    "shrike",
  "sparrow",   "stork",   "swan",   "tapir",  "tern",   "tiger",  "toucan",  "turtle",
  "vole",      "walrus",  "weasel", "whale",  "wombat", "wren",   "yak",     "zebra",
};

/* After this many taken plain names, add a number: the plain space has 4096 names and a busy
 * host may hold many of them. */
#define PLAIN_NAME_ATTEMPTS 8
#define NAME_ATTEMPTS 64

int
engine_generate_name (box_engine *eng, char **out, box_error **err)
{
  for (int attempt = 0; attempt < NAME_ATTEMPTS; attempt++)
    {
      uint32_t a, n, suffix = 0;
      if (random_below (sizeof adjectives / sizeof adjectives[0], &a, err) < 0
          || random_below (sizeof nouns / sizeof nouns[0], &n, err) < 0)
        return box_err_code (err);
      if (attempt >= PLAIN_NAME_ATTEMPTS && random_below (1000, &suffix, err) < 0)
        return box_err_code (err);

      char *name = NULL;
      int len = attempt >= PLAIN_NAME_ATTEMPTS
                    ? asprintf (&name, "%s_%s%u", adjectives[a], nouns[n], suffix)
                    : asprintf (&name, "%s_%s", adjectives[a], nouns[n]);
      if (len < 0)
        return box_err (err, BOX_E_INTERNAL, "out of memory");

      box_box *holder = NULL;
      int found = store_box_get_by_name (eng->store, name, &holder, err);
      box_box_free (holder);
      if (found < 0)
        {
          free (name);
          return found;
        }
      if (found == 0)
        {
          *out = name;
          return 0;
        }
      free (name);
    }
  return box_err (err, BOX_E_CONFLICT, "could not find a free generated name; pass a name");
}
