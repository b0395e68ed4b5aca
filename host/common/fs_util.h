/* Small file-system helpers shared by the library and the CLI. */
#ifndef CUFLOW_FS_UTIL_H
#define CUFLOW_FS_UTIL_H

/* mkdir -p: path and its missing parents (0777 before the umask). 0, or
 * -1 with errno (ENAMETOOLONG past 4095 bytes). An existing directory is
 * fine. */
int cf_mkdir_p(const char *path);

#endif
