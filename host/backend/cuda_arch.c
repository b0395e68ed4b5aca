/* cf_cuda_arch_runs: see cuda_arch.h. */
#include <stdlib.h>
#include <string.h>

#include "cuda_arch.h"

int cf_cuda_arch_runs(const char *archs, int major, int minor)
{
	if (!archs)
		return -1;
	int dev = major * 10 + minor, checked = 0;
	const char *p = archs;
	while (*p) {
		const char *end = p + strcspn(p, ",; ");
		char tok[32];
		size_t n = (size_t)(end - p);
		if (n && n < sizeof tok) {
			memcpy(tok, p, n);
			tok[n] = 0;
			char *rest;
			long a = strtol(tok, &rest, 10);
			if (rest != tok && a > 0) {
				int am = (int)(a / 10), real = 1, virt = 1;
				checked = 1;
				if (*rest == 'a' || *rest == 'f') {
					/* arch-specific and family images run only inside their own major */
					if (*rest == 'a' ? dev == a : (major == am && dev >= a))
						return 1;
				} else {
					if (!strcmp(rest, "-real"))
						virt = 0;
					else if (!strcmp(rest, "-virtual"))
						real = 0;
					if (real && major == am && dev >= a)
						return 1;
					if (virt && dev >= a)
						return 1;
				}
			}
		}
		p = *end ? end + 1 : end;
	}
	return checked ? 0 : -1;
}
