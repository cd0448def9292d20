#include "ms_path.h"
#include <string.h>

int ms_path_normalize(const char *in, char *out, size_t out_size)
{
    if (!in || in[0] != '/' || out_size < 2)
        return -1;
    size_t o = 0;
    const char *p = in;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *seg = p;
        while (*p && *p != '/')
            p++;
        size_t len = (size_t)(p - seg);
        if (len == 1 && seg[0] == '.')
            continue;
        if (len == 2 && seg[0] == '.' && seg[1] == '.')
            return -1;
        if (o + 1 + len + 1 > out_size)
            return -1;
        out[o++] = '/';
        memcpy(out + o, seg, len);
        o += len;
    }
    if (o == 0)
        out[o++] = '/';
    out[o] = '\0';
    return (int)o;
}

struct ms_io_node *ms_path_lookup(struct ms_io_node *tab, unsigned n, const char *path,
                                  const char **rest)
{
    struct ms_io_node *best = 0;
    size_t best_len = 0;
    for (unsigned i = 0; i < n; i++) {
        struct ms_io_node *node = &tab[i];
        if (node->kind == MS_NODE_FREE)
            continue;
        size_t len = strlen(node->path);
        if (strcmp(node->path, path) == 0) {
            *rest = node->kind == MS_NODE_MOUNT ? "" : path;
            return node;
        }
        if (node->kind != MS_NODE_MOUNT || strncmp(node->path, path, len) != 0)
            continue;
        /* "/nor" owns "/nor/x" but not "/norx"; "/" owns everything. */
        if (path[len] != '/' && !(len == 1 && node->path[0] == '/'))
            continue;
        if (len > best_len) {
            best = node;
            best_len = len;
        }
    }
    if (best)
        *rest = path + best_len + (path[best_len] == '/' ? 1 : 0);
    return best;
}
