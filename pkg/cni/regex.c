/* A small regular-expression matcher for configuration allowlists (the
 * reference plugins read them with Go's regexp, RE2 syntax): literals,
 * `.`, `^`, `$`, classes `[a-z_]`, `[^...]`, `[[:alpha:]]`, the escapes
 * \d \D \w \W \s \S \t \n and escaped punctuation, groups `(...)` and
 * `(?:...)`, alternation `|`, and the quantifiers * + ? {n} {n,} {n,m},
 * each optionally lazy (`?`). Unanchored search, as Go's MatchString.
 * Anything else (backreferences, \b, \p{..}, flags) is refused when the
 * pattern is compiled, so a pattern never means something else here.
 *
 * Matching is backtracking with a step budget (the inputs are sysctl keys
 * and patterns an administrator wrote; the budget only stops pathological
 * patterns, which then match nothing). glibc's regcomp would cost ~60 KB in
 * every static plugin and reads POSIX syntax, where \d is not a digit. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cni/common.h"

enum { R_BYTE, R_ANY, R_CLASS, R_BOL, R_EOL, R_GROUP };

struct re_seq;

struct re_node {
	int type;
	unsigned char c;
	uint8_t cls[32]; /* R_CLASS bitmap */
	struct re_seq *alts;
	size_t n_alts;
	int min, max; /* max -1 = unbounded */
	bool lazy;
};

struct re_seq {
	struct re_node *v;
	size_t n, cap;
};

struct cni_regex {
	struct re_seq top; /* one alternative list: a group without repetition */
	struct re_node root;
};

struct parser {
	const char *p;
	const char *err;
	int depth;
};

static void seq_free(struct re_seq *s);

static void node_free(struct re_node *n)
{
	for (size_t i = 0; i < n->n_alts; i++)
		seq_free(&n->alts[i]);
	free(n->alts);
}

static void seq_free(struct re_seq *s)
{
	for (size_t i = 0; i < s->n; i++)
		node_free(&s->v[i]);
	free(s->v);
}

static void cls_set(uint8_t *cls, unsigned c)
{
	cls[c / 8] |= (uint8_t)(1u << (c % 8));
}

static void cls_range(uint8_t *cls, unsigned lo, unsigned hi)
{
	for (unsigned c = lo; c <= hi; c++)
		cls_set(cls, c);
}

static void cls_invert(uint8_t *cls)
{
	for (int i = 0; i < 32; i++)
		cls[i] = (uint8_t)~cls[i];
}

/* \d \w \s and their negations into cls; false if e is not one */
static bool perl_class(char e, uint8_t *cls)
{
	uint8_t t[32] = { 0 };
	switch (e | 0x20) {
	case 'd':
		cls_range(t, '0', '9');
		break;
	case 'w':
		cls_range(t, '0', '9'), cls_range(t, 'a', 'z'), cls_range(t, 'A', 'Z'), cls_set(t, '_');
		break;
	case 's':
		cls_set(t, ' '), cls_set(t, '\t'), cls_set(t, '\n'), cls_set(t, '\f'), cls_set(t, '\r'), cls_set(t, '\v');
		break;
	default:
		return false;
	}
	if (e >= 'A' && e <= 'Z')
		cls_invert(t);
	for (int i = 0; i < 32; i++)
		cls[i] |= t[i];
	return true;
}

/* the byte an escape stands for, or -1 */
static int escape_byte(char e)
{
	if (e == 't')
		return '\t';
	if (e == 'n')
		return '\n';
	if (e == 'r')
		return '\r';
	if (e == 'f')
		return '\f';
	if (e == 'v')
		return '\v';
	if ((e >= '!' && e <= '/') || (e >= ':' && e <= '@') || (e >= '[' && e <= '`') || (e >= '{' && e <= '~'))
		return (unsigned char)e;
	return -1;
}

static bool posix_class(const char **pp, uint8_t *cls)
{
	static const char *const names[] = { "alnum", "alpha", "digit", "lower", "upper", "space", "xdigit", "word",
					     "punct" };
	const char *p = *pp + 2; /* after "[:" */
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		size_t l = strlen(names[i]);
		if (strncmp(p, names[i], l) || p[l] != ':' || p[l + 1] != ']')
			continue;
		switch (i) {
		case 0: cls_range(cls, '0', '9'), cls_range(cls, 'a', 'z'), cls_range(cls, 'A', 'Z'); break;
		case 1: cls_range(cls, 'a', 'z'), cls_range(cls, 'A', 'Z'); break;
		case 2: cls_range(cls, '0', '9'); break;
		case 3: cls_range(cls, 'a', 'z'); break;
		case 4: cls_range(cls, 'A', 'Z'); break;
		case 5: (void)perl_class('s', cls); break;
		case 6: cls_range(cls, '0', '9'), cls_range(cls, 'a', 'f'), cls_range(cls, 'A', 'F'); break;
		case 7: (void)perl_class('w', cls); break;
		default:
			for (unsigned c = '!'; c <= '~'; c++)
				if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
					cls_set(cls, c);
		}
		*pp = p + l + 2;
		return true;
	}
	return false;
}

static int parse_class(struct parser *ps, struct re_node *n)
{
	const char *p = ps->p + 1; /* after '[' */
	bool neg = *p == '^';
	if (neg)
		p++;
	n->type = R_CLASS;
	bool first = true;
	while (*p && (*p != ']' || first)) {
		first = false;
		if (p[0] == '[' && p[1] == ':') {
			if (!posix_class(&p, n->cls))
				return ps->err = "unknown character class", -1;
			continue;
		}
		int lo;
		if (*p == '\\') {
			if (!p[1])
				return ps->err = "trailing backslash", -1;
			if (perl_class(p[1], n->cls)) {
				p += 2;
				continue;
			}
			if ((lo = escape_byte(p[1])) < 0)
				return ps->err = "unsupported escape", -1;
			p += 2;
		} else {
			lo = (unsigned char)*p++;
		}
		int hi = lo;
		if (p[0] == '-' && p[1] && p[1] != ']') {
			p++;
			if (*p == '\\') {
				if (!p[1] || (hi = escape_byte(p[1])) < 0)
					return ps->err = "unsupported escape", -1;
				p += 2;
			} else {
				hi = (unsigned char)*p++;
			}
			if (hi < lo)
				return ps->err = "invalid character class range", -1;
		}
		cls_range(n->cls, (unsigned)lo, (unsigned)hi);
	}
	if (*p != ']')
		return ps->err = "missing ]", -1;
	if (neg)
		cls_invert(n->cls);
	ps->p = p + 1;
	return 0;
}

static int parse_alts(struct parser *ps, struct re_node *group);

static int parse_number(const char **pp, int *out)
{
	const char *p = *pp;
	if (*p < '0' || *p > '9')
		return -1;
	long v = 0;
	while (*p >= '0' && *p <= '9' && v <= 1000)
		v = v * 10 + (*p++ - '0');
	if (v > 1000)
		return -1;
	*out = (int)v;
	*pp = p;
	return 0;
}

/* quantifier after an atom; node->min/max default 1/1 */
static int parse_quant(struct parser *ps, struct re_node *n)
{
	const char *p = ps->p;
	if (*p == '*')
		n->min = 0, n->max = -1, p++;
	else if (*p == '+')
		n->min = 1, n->max = -1, p++;
	else if (*p == '?')
		n->min = 0, n->max = 1, p++;
	else if (*p == '{') {
		const char *q = p + 1;
		int lo, hi;
		if (parse_number(&q, &lo) < 0)
			return 0; /* a literal '{', as RE2 */
		hi = lo;
		if (*q == ',') {
			q++;
			hi = -1;
			if (*q != '}' && parse_number(&q, &hi) < 0)
				return 0;
		}
		if (*q != '}')
			return 0;
		if (hi >= 0 && hi < lo)
			return ps->err = "invalid repeat count", -1;
		n->min = lo, n->max = hi, p = q + 1;
	} else {
		return 0;
	}
	if (n->type == R_BOL || n->type == R_EOL)
		return ps->err = "repeated anchor", -1;
	if (*p == '?')
		n->lazy = true, p++;
	if (*p == '*' || *p == '+' || *p == '?' || (*p == '{' && p[1] >= '0' && p[1] <= '9'))
		return ps->err = "invalid nested repetition operator", -1;
	ps->p = p;
	return 0;
}

static int parse_seq(struct parser *ps, struct re_seq *s)
{
	while (*ps->p && *ps->p != '|' && *ps->p != ')') {
		if (cni_grow((void **)&s->v, &s->cap, s->n, sizeof(*s->v)) < 0)
			return ps->err = "out of memory", -1;
		struct re_node *n = &s->v[s->n];
		memset(n, 0, sizeof(*n));
		n->min = n->max = 1;
		s->n++;
		char ch = *ps->p;
		if (ch == '(') {
			ps->p++;
			if (ps->p[0] == '?') {
				if (ps->p[1] != ':')
					return ps->err = "unsupported group flags", -1;
				ps->p += 2;
			}
			if (++ps->depth > 100)
				return ps->err = "nesting too deep", -1;
			n->type = R_GROUP;
			if (parse_alts(ps, n) < 0)
				return -1;
			ps->depth--;
			if (*ps->p != ')')
				return ps->err = "missing )", -1;
			ps->p++;
		} else if (ch == '[') {
			if (parse_class(ps, n) < 0)
				return -1;
		} else if (ch == '\\') {
			char e = ps->p[1];
			int b;
			if (!e)
				return ps->err = "trailing backslash", -1;
			if (perl_class(e, n->cls)) {
				n->type = R_CLASS;
			} else if ((b = escape_byte(e)) >= 0) {
				n->type = R_BYTE, n->c = (unsigned char)b;
			} else {
				return ps->err = "unsupported escape", -1;
			}
			ps->p += 2;
		} else if (ch == '*' || ch == '+' || ch == '?') {
			return ps->err = "missing argument to repetition operator", -1;
		} else {
			n->type = ch == '.' ? R_ANY : ch == '^' ? R_BOL : ch == '$' ? R_EOL : R_BYTE;
			n->c = (unsigned char)ch;
			ps->p++;
		}
		if (parse_quant(ps, n) < 0)
			return -1;
	}
	return 0;
}

static int parse_alts(struct parser *ps, struct re_node *g)
{
	for (;;) {
		struct re_seq *a = realloc(g->alts, (g->n_alts + 1) * sizeof(*a));
		if (!a)
			return ps->err = "out of memory", -1;
		g->alts = a;
		memset(&a[g->n_alts], 0, sizeof(*a));
		g->n_alts++;
		if (parse_seq(ps, &a[g->n_alts - 1]) < 0)
			return -1;
		if (*ps->p != '|')
			return 0;
		ps->p++;
	}
}

struct cni_regex *cni_regex_compile(const char *pattern, const char **why)
{
	struct cni_regex *re = calloc(1, sizeof(*re));
	if (!re) {
		*why = "out of memory";
		return NULL;
	}
	struct parser ps = { .p = pattern };
	re->root.type = R_GROUP;
	re->root.min = re->root.max = 1;
	if (parse_alts(&ps, &re->root) < 0 || (*ps.p && (ps.err = "unexpected )"))) {
		*why = ps.err;
		cni_regex_free(re);
		return NULL;
	}
	re->top.v = &re->root;
	re->top.n = 1;
	return re;
}

void cni_regex_free(struct cni_regex *re)
{
	if (!re)
		return;
	node_free(&re->root);
	free(re);
}

/* ---- matching ---- */

struct cont {
	const struct re_seq *s;
	size_t i;
	int count;    /* iterations of s->v[i] done, for a group iteration */
	size_t start; /* where that iteration began */
	const struct cont *next;
};

struct mstate {
	const unsigned char *str;
	size_t len;
	long budget;
};

static bool m_seq(struct mstate *m, const struct re_seq *s, size_t i, size_t pos, const struct cont *k);

static bool m_node(struct mstate *m, const struct re_seq *s, size_t i, int count, size_t pos, const struct cont *k);

static bool m_cont(struct mstate *m, size_t pos, const struct cont *k)
{
	if (!k)
		return true;
	/* a group iteration that matched nothing ends the repetition */
	if (pos == k->start && k->count > k->s->v[k->i].min)
		return m_seq(m, k->s, k->i + 1, pos, k->next);
	return m_node(m, k->s, k->i, k->count, pos, k->next);
}

static bool atom_at(const struct mstate *m, const struct re_node *n, size_t pos)
{
	if (pos >= m->len)
		return false;
	unsigned char c = m->str[pos];
	switch (n->type) {
	case R_BYTE:
		return c == n->c;
	case R_ANY:
		return c != '\n';
	default:
		return n->cls[c / 8] & (1u << (c % 8));
	}
}

static bool m_more(struct mstate *m, const struct re_seq *s, size_t i, int count, size_t pos, const struct cont *k)
{
	const struct re_node *n = &s->v[i];
	if (n->max >= 0 && count >= n->max)
		return false;
	if (n->type == R_GROUP) {
		struct cont c = { s, i, count + 1, pos, k };
		for (size_t a = 0; a < n->n_alts; a++)
			if (m_seq(m, &n->alts[a], 0, pos, &c))
				return true;
		return false;
	}
	return atom_at(m, n, pos) && m_node(m, s, i, count + 1, pos + 1, k);
}

static bool m_node(struct mstate *m, const struct re_seq *s, size_t i, int count, size_t pos, const struct cont *k)
{
	if (--m->budget < 0)
		return false;
	const struct re_node *n = &s->v[i];
	bool can_stop = count >= n->min;
	if (n->lazy) {
		if (can_stop && m_seq(m, s, i + 1, pos, k))
			return true;
		return m_more(m, s, i, count, pos, k);
	}
	if (m_more(m, s, i, count, pos, k))
		return true;
	return can_stop && m_seq(m, s, i + 1, pos, k);
}

static bool m_seq(struct mstate *m, const struct re_seq *s, size_t i, size_t pos, const struct cont *k)
{
	if (--m->budget < 0)
		return false;
	if (i == s->n)
		return m_cont(m, pos, k);
	const struct re_node *n = &s->v[i];
	if (n->type == R_BOL)
		return pos == 0 && m_seq(m, s, i + 1, pos, k);
	if (n->type == R_EOL)
		return pos == m->len && m_seq(m, s, i + 1, pos, k);
	return m_node(m, s, i, 0, pos, k);
}

bool cni_regex_search(const struct cni_regex *re, const char *str)
{
	struct mstate m = { (const unsigned char *)str, strlen(str), 1000000 };
	for (size_t start = 0; start <= m.len; start++)
		if (m_seq(&m, &re->top, 0, start, NULL))
			return true;
	return false;
}
