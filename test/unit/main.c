/* Unit test runner: runs every registered test (or those whose name
 * contains argv[1]) and prints TAP. Exit 1 if any failed. */
#include <stdlib.h>

#include "unit.h"

static struct unit_test *head, **tail = &head;

void unit_register(struct unit_test *t)
{
	*tail = t;
	tail = &t->next;
}

int main(int argc, char **argv)
{
	int n = 0, failed = 0;
	for (struct unit_test *t = head; t; t = t->next)
		if (argc < 2 || strstr(t->name, argv[1]))
			n++;
	printf("1..%d\n", n);
	int i = 0;
	for (struct unit_test *t = head; t; t = t->next) {
		if (argc >= 2 && !strstr(t->name, argv[1]))
			continue;
		int f = 0;
		t->fn(&f);
		printf("%sok %d - unit: %s\n", f ? "not " : "", ++i, t->name);
		fflush(stdout);
		failed += f != 0;
	}
	return failed ? 1 : 0;
}
