#include "common/fs_util.h"

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

int cf_mkdir_p(const char *path)
{
	char p[4096];
	int n = snprintf(p, sizeof p, "%s", path);
	if (n <= 0 || (size_t)n >= sizeof p)
		return errno = ENAMETOOLONG, -1;
	for (char *c = p + 1; *c; c++)
		if (*c == '/') {
			*c = 0;
			if (mkdir(p, 0777) != 0 && errno != EEXIST)
				return -1;
			*c = '/';
		}
	return mkdir(p, 0777) != 0 && errno != EEXIST ? -1 : 0;
}
