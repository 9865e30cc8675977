/* Owns the monitor's sanitizer report path and exit watchdog (see sanitizer.h). */
#include "sanitizer.h"

#include <limits.h>
#include <stdio.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define MONITOR_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MONITOR_SANITIZED 1
#endif
#endif

#ifdef MONITOR_SANITIZED
#include <sanitizer/common_interface_defs.h>
#endif

/* LeakSanitizer scans a small heap in milliseconds; a minute means it is stuck */
#define LEAK_CHECK_WATCHDOG_SECONDS 60

void
monitor_sanitizer_report_to (const char *root)
{
#ifdef MONITOR_SANITIZED
  static char path[PATH_MAX];
  snprintf (path, sizeof path, "%s/" MONITOR_SANITIZER_REPORT, root);
  __sanitizer_set_report_path (path);
#else
  (void) root;
#endif
}

void
monitor_sanitizer_exit_watchdog (void)
{
#ifdef MONITOR_SANITIZED
  alarm (LEAK_CHECK_WATCHDOG_SECONDS);
#endif
}
