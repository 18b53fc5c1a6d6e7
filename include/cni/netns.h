/* Entering a network namespace by path and always coming back. */
#ifndef CNI_NETNS_H
#define CNI_NETNS_H

#include "cni/common.h"

/* Open a netns path; fd or -1 (code 101). */
int netns_open(const char *path, struct cni_error *err);

/* Run fn(arg, err) inside the namespace of nsfd, then return to the
 * original namespace whatever fn did. Returns fn's result, or -1 when
 * entering failed. Failing to return is fatal for the process state, so it
 * is reported as an error too (and the caller must not continue). */
int netns_run_fd(int nsfd, int (*fn)(void *arg, struct cni_error *err), void *arg, struct cni_error *err);
int netns_run(const char *path, int (*fn)(void *arg, struct cni_error *err), void *arg, struct cni_error *err);

/* Low-level pair for callers that need several steps; every successful
 * netns_enter must be followed by netns_leave on all paths. */
int netns_enter(int nsfd, int *saved_fd, struct cni_error *err);
int netns_leave(int saved_fd, struct cni_error *err);

#endif
