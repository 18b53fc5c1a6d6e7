/*
 * cni-c: every plugin in one executable (make MULTICALL=1, the default).
 *
 * bin/<plugin> are hard links to this binary (build/rel/cni-c); a CNI runtime execs the
 * plugin by path, so basename(argv[0]) names the plugin to run.
 * `cni-c <plugin> [args]` works too (handy for a renamed copy).
 * Each plugin's main() is renamed cnic_main_<plugin> at link time
 * (see the Makefile); the list comes from the generated cni-c-plugins.h.
 */
#include <stdio.h>
#include <string.h>

#define PLUGIN(name, fn) int fn(int argc, char **argv);
#include "cni-c-plugins.h"
#undef PLUGIN

static const struct {
	const char *name;
	int (*main)(int argc, char **argv);
} plugins[] = {
#define PLUGIN(name, fn) { name, fn },
#include "cni-c-plugins.h"
#undef PLUGIN
};

static int (*lookup(const char *path))(int, char **)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	for (size_t i = 0; i < sizeof(plugins) / sizeof(plugins[0]); i++)
		if (strcmp(base, plugins[i].name) == 0)
			return plugins[i].main;
	return NULL;
}

/* for pkg/cni/exec.c (weak there): a delegate that is this executable
 * runs without exec */
int (*cni_multicall_main(const char *path))(int, char **);
int (*cni_multicall_main(const char *path))(int, char **)
{
	return lookup(path);
}

int main(int argc, char **argv)
{
	int (*fn)(int, char **) = argc > 0 ? lookup(argv[0]) : NULL;
	if (fn)
		return fn(argc, argv);
	if (argc > 1 && (fn = lookup(argv[1])) != NULL)
		return fn(argc - 1, argv + 1);
	fprintf(stderr, "cni-c: unknown plugin name '%s'; run me as (a link named) one of:",
		argc > 0 ? argv[0] : "");
	for (size_t i = 0; i < sizeof(plugins) / sizeof(plugins[0]); i++)
		fprintf(stderr, " %s", plugins[i].name);
	fputc('\n', stderr);
	return 1;
}
