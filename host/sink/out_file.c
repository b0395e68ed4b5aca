/*
 * Buffered output under a temporary name; see out_file.h.
 */
#include "sink/out_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int out_fail(cf_out_file *f, const char *action, int e)
{
	if (f->err)
		return f->err;
	f->err = e == ENOMEM ? CF_ERR_NOMEM : CF_ERR_IO;
	snprintf(f->msg, sizeof f->msg, "%s: cannot %s %s: %s", f->who, action, f->path ? f->path : "(null)",
	         strerror(e));
	return f->err;
}

static void out_release(cf_out_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	free(f->buf);
	free(f->path);
	free(f->tmp);
	f->buf = NULL;
	f->path = f->tmp = NULL;
	f->len = f->cap = 0;
}

int cf_out_open(cf_out_file *f, const char *who, const char *path, size_t buf_size)
{
	memset(f, 0, sizeof *f);
	f->fd = -1;
	f->who = who;
	f->path = strdup(path);
	size_t tcap = strlen(path) + 32;
	f->tmp = malloc(tcap);
	f->buf = malloc(buf_size);
	if (!f->path || !f->tmp || !f->buf) {
		int rc = out_fail(f, "allocate a buffer for", ENOMEM);
		out_release(f);
		return rc;
	}
	f->cap = buf_size;
	snprintf(f->tmp, tcap, "%s.tmp-%ld", path, (long)getpid());
	f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (f->fd < 0) {
		int rc = out_fail(f, "create", errno);
		out_release(f);
		return rc;
	}
	return CF_OK;
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
	while (n) {
		ssize_t r = write(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return errno;
		if (r == 0)
			return ENOSPC;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int out_flush(cf_out_file *f)
{
	if (f->err)
		return f->err;
	int e = write_all(f->fd, f->buf, f->len);
	f->len = 0;
	return e ? out_fail(f, "write", e) : CF_OK;
}

int cf_out_write(cf_out_file *f, const void *p, size_t n)
{
	if (f->err)
		return f->err;
	f->off += n;
	if (f->len + n <= f->cap) {
		memcpy(f->buf + f->len, p, n);
		f->len += n;
		return CF_OK;
	}
	int rc = out_flush(f);
	if (rc)
		return rc;
	if (n >= f->cap) { /* large pieces go straight to the file */
		int e = write_all(f->fd, p, n);
		return e ? out_fail(f, "write", e) : CF_OK;
	}
	memcpy(f->buf, p, n);
	f->len = n;
	return CF_OK;
}

int cf_out_commit(cf_out_file *f)
{
	if (f->fd < 0 && !f->err)
		return out_fail(f, "finish", EBADF);
	out_flush(f);
	if (f->fd >= 0) {
		int fd = f->fd;
		f->fd = -1;
		if (close(fd) != 0)
			out_fail(f, "write", errno);
	}
	if (!f->err && rename(f->tmp, f->path) != 0)
		out_fail(f, "rename the finished file to", errno);
	int rc = f->err;
	if (rc)
		unlink(f->tmp);
	out_release(f);
	return rc;
}

void cf_out_discard(cf_out_file *f)
{
	if (!f->tmp) /* never opened, or already committed/discarded (fd may read 0 in a zeroed one) */
		return;
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	unlink(f->tmp);
	out_release(f);
}
