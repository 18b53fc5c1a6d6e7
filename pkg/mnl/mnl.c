/* Our implementation of the libmnl API (the netlink socket, message, batch,
 * attribute and callback helpers declared by <libmnl/libmnl.h>).
 *
 * Why: Debian ships libmnl only as a shared library (no libmnl.a), and both
 * our code and the libnftnl.a we link statically call it; with these
 * definitions the plugins link without any libmnl, so a fully static
 * (static-pie) build works from Debian packages. Written from the API's
 * documented behaviour; the prototypes come from the system header (which
 * libnftnl was compiled against), so the compiler checks that every
 * signature here matches the ABI libnftnl expects. It is linked as its own
 * archive after the pkg-config libraries, where -lmnl used to be.
 *
 * Conventions kept: everything is aligned to MNL_ALIGNTO (4); functions that
 * fail return -1 / NULL / false and set errno; callbacks return MNL_CB_OK (1)
 * to go on, MNL_CB_STOP (0) to stop, MNL_CB_ERROR (-1) on error.
 * Not provided: mnl_nlmsg_fprintf (a debug printer nothing here uses). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libmnl/libmnl.h>

/* ---- sockets ---------------------------------------------------------- */

struct mnl_socket {
	int fd;
	struct sockaddr_nl addr; /* our address once bound */
};

struct mnl_socket *mnl_socket_open2(int bus, int flags)
{
	struct mnl_socket *nl = calloc(1, sizeof(*nl));
	if (!nl)
		return NULL;
	nl->fd = socket(AF_NETLINK, SOCK_RAW | flags, bus);
	if (nl->fd < 0) {
		int e = errno;
		free(nl);
		errno = e;
		return NULL;
	}
	return nl;
}

struct mnl_socket *mnl_socket_open(int bus)
{
	return mnl_socket_open2(bus, 0);
}

struct mnl_socket *mnl_socket_fdopen(int fd)
{
	struct sockaddr_nl addr;
	socklen_t alen = sizeof(addr);
	memset(&addr, 0, sizeof(addr));
	if (getsockname(fd, (struct sockaddr *)&addr, &alen) < 0)
		return NULL;
	if (alen != sizeof(addr) || addr.nl_family != AF_NETLINK) {
		errno = EINVAL;
		return NULL;
	}
	struct mnl_socket *nl = calloc(1, sizeof(*nl));
	if (!nl)
		return NULL;
	nl->fd = fd;
	nl->addr = addr;
	return nl;
}

int mnl_socket_bind(struct mnl_socket *nl, unsigned int groups, pid_t pid)
{
	struct sockaddr_nl addr = { .nl_family = AF_NETLINK, .nl_groups = groups, .nl_pid = (__u32)pid };
	if (bind(nl->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		return -1;
	/* the kernel picks the port id when pid is MNL_SOCKET_AUTOPID: read it back */
	socklen_t alen = sizeof(addr);
	if (getsockname(nl->fd, (struct sockaddr *)&addr, &alen) < 0)
		return -1;
	if (alen != sizeof(addr) || addr.nl_family != AF_NETLINK) {
		errno = EINVAL;
		return -1;
	}
	nl->addr = addr;
	return 0;
}

int mnl_socket_close(struct mnl_socket *nl)
{
	int r = close(nl->fd);
	free(nl);
	return r;
}

int mnl_socket_get_fd(const struct mnl_socket *nl)
{
	return nl->fd;
}

unsigned int mnl_socket_get_portid(const struct mnl_socket *nl)
{
	return nl->addr.nl_pid;
}

ssize_t mnl_socket_sendto(const struct mnl_socket *nl, const void *req, size_t siz)
{
	static const struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	return sendto(nl->fd, req, siz, 0, (const struct sockaddr *)&kernel, sizeof(kernel));
}

ssize_t mnl_socket_recvfrom(const struct mnl_socket *nl, void *buf, size_t siz)
{
	struct sockaddr_nl from;
	struct iovec iov = { .iov_base = buf, .iov_len = siz };
	struct msghdr msg = { .msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t r = recvmsg(nl->fd, &msg, 0);
	if (r < 0)
		return r;
	if (msg.msg_flags & MSG_TRUNC) { /* the buffer was too small for the datagram */
		errno = ENOSPC;
		return -1;
	}
	if (msg.msg_namelen != sizeof(from)) {
		errno = EINVAL;
		return -1;
	}
	return r;
}

int mnl_socket_setsockopt(const struct mnl_socket *nl, int type, void *buf, socklen_t len)
{
	return setsockopt(nl->fd, SOL_NETLINK, type, buf, len);
}

int mnl_socket_getsockopt(const struct mnl_socket *nl, int type, void *buf, socklen_t *len)
{
	return getsockopt(nl->fd, SOL_NETLINK, type, buf, len);
}

/* ---- messages --------------------------------------------------------- */

size_t mnl_nlmsg_size(size_t len)
{
	return len + MNL_NLMSG_HDRLEN;
}

size_t mnl_nlmsg_get_payload_len(const struct nlmsghdr *nlh)
{
	return nlh->nlmsg_len - MNL_NLMSG_HDRLEN;
}

struct nlmsghdr *mnl_nlmsg_put_header(void *buf)
{
	memset(buf, 0, MNL_NLMSG_HDRLEN);
	struct nlmsghdr *nlh = buf;
	nlh->nlmsg_len = MNL_NLMSG_HDRLEN;
	return nlh;
}

void *mnl_nlmsg_put_extra_header(struct nlmsghdr *nlh, size_t size)
{
	char *p = (char *)nlh + nlh->nlmsg_len;
	size_t len = MNL_ALIGN(size);
	nlh->nlmsg_len += len;
	memset(p, 0, len);
	return p;
}

bool mnl_nlmsg_ok(const struct nlmsghdr *nlh, int len)
{
	return len >= (int)sizeof(struct nlmsghdr) && nlh->nlmsg_len >= sizeof(struct nlmsghdr) &&
	       (int)nlh->nlmsg_len <= len;
}

struct nlmsghdr *mnl_nlmsg_next(const struct nlmsghdr *nlh, int *len)
{
	*len -= MNL_ALIGN(nlh->nlmsg_len);
	return (struct nlmsghdr *)((char *)nlh + MNL_ALIGN(nlh->nlmsg_len));
}

/* 0 on either side means "don't check" (e.g. kernel notifications have seq 0) */
bool mnl_nlmsg_seq_ok(const struct nlmsghdr *nlh, unsigned int seq)
{
	return !nlh->nlmsg_seq || !seq || nlh->nlmsg_seq == seq;
}

bool mnl_nlmsg_portid_ok(const struct nlmsghdr *nlh, unsigned int portid)
{
	return !nlh->nlmsg_pid || !portid || nlh->nlmsg_pid == portid;
}

void *mnl_nlmsg_get_payload(const struct nlmsghdr *nlh)
{
	return (char *)nlh + MNL_NLMSG_HDRLEN;
}

void *mnl_nlmsg_get_payload_offset(const struct nlmsghdr *nlh, size_t offset)
{
	return (char *)nlh + MNL_NLMSG_HDRLEN + MNL_ALIGN(offset);
}

void *mnl_nlmsg_get_payload_tail(const struct nlmsghdr *nlh)
{
	return (char *)nlh + MNL_ALIGN(nlh->nlmsg_len);
}

/* ---- batches ---------------------------------------------------------- */

/* Messages are built one after another in buf; bufsiz is the batch's limit,
 * and buf must have room past it for one more message: the one that did not
 * fit, which mnl_nlmsg_batch_reset() moves to the front of the next batch. */
struct mnl_nlmsg_batch {
	char *buf;
	size_t limit;
	size_t len; /* bytes of complete messages in the batch */
	char *cur;  /* where the next message is being built */
	bool overflow;
};

struct mnl_nlmsg_batch *mnl_nlmsg_batch_start(void *buf, size_t bufsiz)
{
	struct mnl_nlmsg_batch *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->buf = b->cur = buf;
	b->limit = bufsiz;
	return b;
}

bool mnl_nlmsg_batch_next(struct mnl_nlmsg_batch *b)
{
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)b->cur;
	if (b->len + nlh->nlmsg_len > b->limit) {
		b->overflow = true;
		return false;
	}
	b->cur += nlh->nlmsg_len;
	b->len += nlh->nlmsg_len;
	return true;
}

void mnl_nlmsg_batch_stop(struct mnl_nlmsg_batch *b)
{
	free(b);
}

size_t mnl_nlmsg_batch_size(struct mnl_nlmsg_batch *b)
{
	return b->len;
}

void mnl_nlmsg_batch_reset(struct mnl_nlmsg_batch *b)
{
	if (b->overflow) {
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)b->cur;
		size_t n = nlh->nlmsg_len;
		memmove(b->buf, b->cur, n);
		b->len = n;
		b->cur = b->buf + n;
		b->overflow = false;
	} else {
		b->len = 0;
		b->cur = b->buf;
	}
}

void *mnl_nlmsg_batch_head(struct mnl_nlmsg_batch *b)
{
	return b->buf;
}

void *mnl_nlmsg_batch_current(struct mnl_nlmsg_batch *b)
{
	return b->cur;
}

bool mnl_nlmsg_batch_is_empty(struct mnl_nlmsg_batch *b)
{
	return b->len == 0;
}

/* ---- attributes ------------------------------------------------------- */

uint16_t mnl_attr_get_type(const struct nlattr *attr)
{
	return attr->nla_type & NLA_TYPE_MASK;
}

uint16_t mnl_attr_get_len(const struct nlattr *attr)
{
	return attr->nla_len;
}

uint16_t mnl_attr_get_payload_len(const struct nlattr *attr)
{
	return attr->nla_len - MNL_ATTR_HDRLEN;
}

void *mnl_attr_get_payload(const struct nlattr *attr)
{
	return (char *)attr + MNL_ATTR_HDRLEN;
}

/* payloads are only 4-byte aligned: read through memcpy */
uint8_t mnl_attr_get_u8(const struct nlattr *attr)
{
	return *(const uint8_t *)mnl_attr_get_payload(attr);
}

uint16_t mnl_attr_get_u16(const struct nlattr *attr)
{
	uint16_t v;
	memcpy(&v, mnl_attr_get_payload(attr), sizeof(v));
	return v;
}

uint32_t mnl_attr_get_u32(const struct nlattr *attr)
{
	uint32_t v;
	memcpy(&v, mnl_attr_get_payload(attr), sizeof(v));
	return v;
}

uint64_t mnl_attr_get_u64(const struct nlattr *attr)
{
	uint64_t v;
	memcpy(&v, mnl_attr_get_payload(attr), sizeof(v));
	return v;
}

const char *mnl_attr_get_str(const struct nlattr *attr)
{
	return mnl_attr_get_payload(attr);
}

bool mnl_attr_ok(const struct nlattr *attr, int len)
{
	return len >= (int)sizeof(struct nlattr) && attr->nla_len >= sizeof(struct nlattr) &&
	       (int)attr->nla_len <= len;
}

struct nlattr *mnl_attr_next(const struct nlattr *attr)
{
	return (struct nlattr *)((char *)attr + MNL_ALIGN(attr->nla_len));
}

int mnl_attr_type_valid(const struct nlattr *attr, uint16_t maxtype)
{
	if (mnl_attr_get_type(attr) > maxtype) {
		errno = EOPNOTSUPP;
		return -1;
	}
	return 1;
}

/* the payload size each fixed-size type must have (0: no fixed size) */
static size_t attr_type_len(enum mnl_attr_data_type type)
{
	switch (type) {
	case MNL_TYPE_U8: return sizeof(uint8_t);
	case MNL_TYPE_U16: return sizeof(uint16_t);
	case MNL_TYPE_U32: return sizeof(uint32_t);
	case MNL_TYPE_U64:
	case MNL_TYPE_MSECS: return sizeof(uint64_t);
	default: return 0;
	}
}

static int attr_validate(const struct nlattr *attr, enum mnl_attr_data_type type, size_t want)
{
	size_t len = mnl_attr_get_payload_len(attr);
	const char *p = mnl_attr_get_payload(attr);
	if (attr->nla_len < MNL_ATTR_HDRLEN || len < want)
		goto range;
	switch (type) {
	case MNL_TYPE_FLAG:
		if (len > 0)
			goto range;
		break;
	case MNL_TYPE_NUL_STRING:
		if (len == 0)
			goto range;
		if (p[len - 1] != '\0') {
			errno = EINVAL;
			return -1;
		}
		break;
	case MNL_TYPE_STRING:
		if (len == 0)
			goto range;
		break;
	case MNL_TYPE_NESTED:
		/* an empty nest is fine; otherwise it holds at least one attribute header */
		if (len > 0 && len < MNL_ATTR_HDRLEN)
			goto range;
		break;
	default:
		break;
	}
	if (want && len > want)
		goto range;
	return 0;
range:
	errno = ERANGE;
	return -1;
}

int mnl_attr_validate(const struct nlattr *attr, enum mnl_attr_data_type type)
{
	if ((unsigned)type >= MNL_TYPE_MAX) {
		errno = EINVAL;
		return -1;
	}
	return attr_validate(attr, type, attr_type_len(type));
}

int mnl_attr_validate2(const struct nlattr *attr, enum mnl_attr_data_type type, size_t len)
{
	if ((unsigned)type >= MNL_TYPE_MAX) {
		errno = EINVAL;
		return -1;
	}
	return attr_validate(attr, type, len);
}

int mnl_attr_parse(const struct nlmsghdr *nlh, unsigned int offset, mnl_attr_cb_t cb, void *data)
{
	const struct nlattr *attr;
	int r = MNL_CB_OK;
	mnl_attr_for_each(attr, nlh, offset)
		if ((r = cb(attr, data)) <= MNL_CB_STOP)
			return r;
	return r;
}

int mnl_attr_parse_nested(const struct nlattr *nest, mnl_attr_cb_t cb, void *data)
{
	const struct nlattr *attr;
	int r = MNL_CB_OK;
	mnl_attr_for_each_nested(attr, nest)
		if ((r = cb(attr, data)) <= MNL_CB_STOP)
			return r;
	return r;
}

int mnl_attr_parse_payload(const void *payload, size_t payload_len, mnl_attr_cb_t cb, void *data)
{
	const struct nlattr *attr;
	int r = MNL_CB_OK;
	mnl_attr_for_each_payload(payload, payload_len)
		if ((r = cb(attr, data)) <= MNL_CB_STOP)
			return r;
	return r;
}

void mnl_attr_put(struct nlmsghdr *nlh, uint16_t type, size_t len, const void *data)
{
	struct nlattr *attr = mnl_nlmsg_get_payload_tail(nlh);
	size_t alen = MNL_ATTR_HDRLEN + len;
	attr->nla_type = type;
	attr->nla_len = (uint16_t)alen; /* without the padding */
	char *p = mnl_attr_get_payload(attr);
	if (len)
		memcpy(p, data, len);
	memset(p + len, 0, MNL_ALIGN(len) - len); /* no uninitialised bytes go to the kernel */
	nlh->nlmsg_len += MNL_ALIGN(alen);
}

void mnl_attr_put_u8(struct nlmsghdr *nlh, uint16_t type, uint8_t data)
{
	mnl_attr_put(nlh, type, sizeof(data), &data);
}

void mnl_attr_put_u16(struct nlmsghdr *nlh, uint16_t type, uint16_t data)
{
	mnl_attr_put(nlh, type, sizeof(data), &data);
}

void mnl_attr_put_u32(struct nlmsghdr *nlh, uint16_t type, uint32_t data)
{
	mnl_attr_put(nlh, type, sizeof(data), &data);
}

void mnl_attr_put_u64(struct nlmsghdr *nlh, uint16_t type, uint64_t data)
{
	mnl_attr_put(nlh, type, sizeof(data), &data);
}

void mnl_attr_put_str(struct nlmsghdr *nlh, uint16_t type, const char *data)
{
	mnl_attr_put(nlh, type, strlen(data), data);
}

void mnl_attr_put_strz(struct nlmsghdr *nlh, uint16_t type, const char *data)
{
	mnl_attr_put(nlh, type, strlen(data) + 1, data);
}

/* the _check variants put nothing (and return false) when the attribute
 * would take the message past buflen bytes */
static bool attr_fits(const struct nlmsghdr *nlh, size_t buflen, size_t len)
{
	return nlh->nlmsg_len + MNL_ATTR_HDRLEN + MNL_ALIGN(len) <= buflen;
}

bool mnl_attr_put_check(struct nlmsghdr *nlh, size_t buflen, uint16_t type, size_t len, const void *data)
{
	if (!attr_fits(nlh, buflen, len))
		return false;
	mnl_attr_put(nlh, type, len, data);
	return true;
}

bool mnl_attr_put_u8_check(struct nlmsghdr *nlh, size_t buflen, uint16_t type, uint8_t data)
{
	return mnl_attr_put_check(nlh, buflen, type, sizeof(data), &data);
}

bool mnl_attr_put_u16_check(struct nlmsghdr *nlh, size_t buflen, uint16_t type, uint16_t data)
{
	return mnl_attr_put_check(nlh, buflen, type, sizeof(data), &data);
}

bool mnl_attr_put_u32_check(struct nlmsghdr *nlh, size_t buflen, uint16_t type, uint32_t data)
{
	return mnl_attr_put_check(nlh, buflen, type, sizeof(data), &data);
}

bool mnl_attr_put_u64_check(struct nlmsghdr *nlh, size_t buflen, uint16_t type, uint64_t data)
{
	return mnl_attr_put_check(nlh, buflen, type, sizeof(data), &data);
}

bool mnl_attr_put_str_check(struct nlmsghdr *nlh, size_t buflen, uint16_t type, const char *data)
{
	return mnl_attr_put_check(nlh, buflen, type, strlen(data), data);
}

bool mnl_attr_put_strz_check(struct nlmsghdr *nlh, size_t buflen, uint16_t type, const char *data)
{
	return mnl_attr_put_check(nlh, buflen, type, strlen(data) + 1, data);
}

struct nlattr *mnl_attr_nest_start(struct nlmsghdr *nlh, uint16_t type)
{
	struct nlattr *start = mnl_nlmsg_get_payload_tail(nlh);
	start->nla_type = NLA_F_NESTED | type;
	start->nla_len = MNL_ATTR_HDRLEN; /* mnl_attr_nest_end sets the real length */
	nlh->nlmsg_len += MNL_ATTR_HDRLEN;
	return start;
}

struct nlattr *mnl_attr_nest_start_check(struct nlmsghdr *nlh, size_t buflen, uint16_t type)
{
	if (nlh->nlmsg_len + MNL_ATTR_HDRLEN > buflen)
		return NULL;
	return mnl_attr_nest_start(nlh, type);
}

void mnl_attr_nest_end(struct nlmsghdr *nlh, struct nlattr *start)
{
	start->nla_len = (uint16_t)((char *)mnl_nlmsg_get_payload_tail(nlh) - (char *)start);
}

void mnl_attr_nest_cancel(struct nlmsghdr *nlh, struct nlattr *start)
{
	nlh->nlmsg_len -= (uint32_t)((char *)mnl_nlmsg_get_payload_tail(nlh) - (char *)start);
}

/* ---- callbacks -------------------------------------------------------- */

static int cb_noop(const struct nlmsghdr *nlh, void *data)
{
	(void)nlh;
	(void)data;
	return MNL_CB_OK;
}

/* NLMSG_ERROR: error 0 is an ACK (stop, errno 0); otherwise errno = -error */
static int cb_error(const struct nlmsghdr *nlh, void *data)
{
	(void)data;
	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(struct nlmsgerr))) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);
	errno = err->error < 0 ? -err->error : err->error;
	return err->error == 0 ? MNL_CB_STOP : MNL_CB_ERROR;
}

static int cb_stop(const struct nlmsghdr *nlh, void *data)
{
	(void)nlh;
	(void)data;
	return MNL_CB_STOP;
}

static const mnl_cb_t default_ctl_cb[NLMSG_MIN_TYPE] = {
	[NLMSG_NOOP] = cb_noop,
	[NLMSG_ERROR] = cb_error,
	[NLMSG_DONE] = cb_stop,
	[NLMSG_OVERRUN] = cb_noop,
};

int mnl_cb_run2(const void *buf, size_t numbytes, unsigned int seq, unsigned int portid, mnl_cb_t cb_data,
		void *data, mnl_cb_t *cb_ctl_array, unsigned int cb_ctl_array_len)
{
	const struct nlmsghdr *nlh = buf;
	int len = (int)numbytes;
	int r = MNL_CB_OK;
	while (mnl_nlmsg_ok(nlh, len)) {
		if (!mnl_nlmsg_portid_ok(nlh, portid)) { /* not for our socket */
			errno = ESRCH;
			return MNL_CB_ERROR;
		}
		if (!mnl_nlmsg_seq_ok(nlh, seq)) { /* an answer to another request */
			errno = EPROTO;
			return MNL_CB_ERROR;
		}
		if (nlh->nlmsg_flags & NLM_F_DUMP_INTR) { /* the dump is inconsistent: redo it */
			errno = EINTR;
			return MNL_CB_ERROR;
		}
		mnl_cb_t cb = NULL;
		if (nlh->nlmsg_type >= NLMSG_MIN_TYPE)
			cb = cb_data;
		else if (nlh->nlmsg_type < cb_ctl_array_len)
			cb = cb_ctl_array ? cb_ctl_array[nlh->nlmsg_type] : NULL;
		else
			cb = default_ctl_cb[nlh->nlmsg_type];
		if (cb && (r = cb(nlh, data)) <= MNL_CB_STOP)
			return r;
		nlh = mnl_nlmsg_next(nlh, &len);
	}
	return r;
}

int mnl_cb_run(const void *buf, size_t numbytes, unsigned int seq, unsigned int portid, mnl_cb_t cb_data,
	       void *data)
{
	return mnl_cb_run2(buf, numbytes, seq, portid, cb_data, data, NULL, 0);
}
