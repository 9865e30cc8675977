/* What the monitor does differently when built with AddressSanitizer (the test suite's
 * build): nobody reads a detached monitor's stderr, so its sanitizer reports, the leak check
 * at exit included, go to a file in the state directory that the tests look for. Without a
 * sanitizer these do nothing. */
#ifndef BOX_MONITOR_SANITIZER_H
#define BOX_MONITOR_SANITIZER_H

/* <root>/monitor-sanitizer.<pid>: a report of the monitor with that pid */
#define MONITOR_SANITIZER_REPORT "monitor-sanitizer"

/* Sends the sanitizers' reports to <root>/MONITOR_SANITIZER_REPORT.<pid>. */
void monitor_sanitizer_report_to (const char *root);

/* Before a normal exit (where LeakSanitizer checks): should the check ever not finish, the
 * monitor is ended after a while instead of spinning forever (its work is done by then). */
void monitor_sanitizer_exit_watchdog (void);

#endif
