/*
 * VFS name space: device nodes ("/dev/ttyS1", exact names) and mount points
 * ("/nor": the node and everything below it) in one table. Paths are
 * normalised first (absolute, single slashes, "." removed, ".." refused).
 */
#ifndef MS_PATH_H
#define MS_PATH_H

#include <stddef.h>
#include "ms_config.h"

#define MS_NODE_FREE 0
#define MS_NODE_DEVICE 1
#define MS_NODE_MOUNT 2

struct ms_io_node {
    char path[MS_PATH_MAX];
    unsigned char kind;
    const void *ops;   /* ms_io_dev_ops_t or ms_io_fs_ops_t */
    void *ctx;
};

/* Returns the length of the normalised path, or -1 (relative, "..", too long). */
int ms_path_normalize(const char *in, char *out, size_t out_size);

/* Finds the node for a normalised path: an exact device or mount match wins,
 * otherwise the longest mount prefix ending at a '/' boundary. *rest gets the
 * path inside the mount ("" for the mount root; unchanged for devices). */
struct ms_io_node *ms_path_lookup(struct ms_io_node *tab, unsigned n, const char *path,
                                  const char **rest);

#endif
