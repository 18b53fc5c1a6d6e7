/* A tiny unit-test harness: TEST(name) { ... } registers a test; CHECK()
 * records a failure and continues; REQUIRE() records and returns. The
 * runner prints TAP ("ok N - name" / "not ok N - name"). */
#ifndef UNIT_H
#define UNIT_H

#include <stdio.h>
#include <string.h>

struct unit_test {
	const char *name;
	void (*fn)(int *failed);
	struct unit_test *next;
};
void unit_register(struct unit_test *t);

#define TEST(n)                                                                     \
	static void test_##n(int *unit_failed_);                                    \
	static struct unit_test unit_t_##n = { #n, test_##n, NULL };                \
	__attribute__((constructor)) static void unit_reg_##n(void) { unit_register(&unit_t_##n); } \
	static void test_##n(int *unit_failed_)

#define CHECK(cond)                                                                 \
	do {                                                                        \
		if (!(cond)) {                                                      \
			printf("#   %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
			(*unit_failed_)++;                                          \
		}                                                                   \
	} while (0)
#define REQUIRE(cond)                                                               \
	do {                                                                        \
		if (!(cond)) {                                                      \
			printf("#   %s:%d: REQUIRE(%s) failed\n", __FILE__, __LINE__, #cond); \
			(*unit_failed_)++;                                          \
			return;                                                     \
		}                                                                   \
	} while (0)
#define CHECK_STR(a, b)                                                             \
	do {                                                                        \
		const char *a_ = (a), *b_ = (b);                                    \
		if (!a_ || !b_ || strcmp(a_, b_)) {                                 \
			printf("#   %s:%d: \"%s\" != \"%s\"\n", __FILE__, __LINE__, a_ ? a_ : "(null)", \
			       b_ ? b_ : "(null)");                                 \
			(*unit_failed_)++;                                          \
		}                                                                   \
	} while (0)
#define CHECK_INT(a, b)                                                             \
	do {                                                                        \
		long long a_ = (long long)(a), b_ = (long long)(b);                 \
		if (a_ != b_) {                                                     \
			printf("#   %s:%d: %s == %lld, expected %lld\n", __FILE__, __LINE__, #a, a_, b_); \
			(*unit_failed_)++;                                          \
		}                                                                   \
	} while (0)

#endif
