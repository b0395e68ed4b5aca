/*
 * Reading .npy files cuflow wrote (C order, little-endian, integer or
 * float elements, up to 4 dimensions): the header parsed, the file left
 * at the first element for the caller's fread. The model engine reads
 * FlowPic images and extract datasets through it.
 */
#ifndef CUFLOW_NPY_READ_H
#define CUFLOW_NPY_READ_H

#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cf_npy_file {
	FILE *f;            /* at the first element; the caller fcloses it */
	char kind;          /* 'u', 'i', 'f' */
	int size;           /* bytes per element */
	int ndim;
	uint64_t shape[4];
} cf_npy_file;

/* CF_OK; CF_ERR_IO (cannot open) or CF_ERR_CORRUPT (not such an .npy),
 * the message naming the file in errbuf. */
int cf_npy_file_open(const char *path, cf_npy_file *n, char *errbuf);
/* One element at p (n->size bytes, little-endian) as a double. */
double cf_npy_file_value(const cf_npy_file *n, const unsigned char *p);

#ifdef __cplusplus
}
#endif

#endif
