/* Read-only flashfs reader (see ms_flashfs.h). */
#include "ms_flashfs.h"
#include "ms_image.h"

static int fail(const char **why, const char *what)
{
    if (why)
        *why = what;
    return MS_FLASHFS_ERR_IO;
}

int ms_flashfs_mount(ms_flashfs_t *fs, const void *base, uint32_t size, const char **why)
{
    const ms_flashfs_super_t *sb = base;
    fs->base = base;
    fs->size = size;
    fs->count = 0;
    fs->table = (const ms_flashfs_entry_t *)(sb + 1);
    if (size < sizeof *sb || sb->magic != MS_FLASHFS_MAGIC)
        return fail(why, "magic");
    if (sb->version != MS_FLASHFS_VERSION)
        return fail(why, "version");
    uint32_t table_end = sizeof *sb + (uint32_t)sb->count * sizeof(ms_flashfs_entry_t);
    if (table_end > size)
        return fail(why, "count");
    if (ms_crc32(0, fs->table, table_end - sizeof *sb) != sb->table_crc)
        return fail(why, "table_crc");
    for (uint32_t i = 0; i < sb->count; i++) {
        const ms_flashfs_entry_t *e = &fs->table[i];
        if (e->name[0] == '\0' || e->name[MS_FLASHFS_NAME_MAX - 1] != '\0')
            return fail(why, "entry name");
        if (e->offset < table_end || e->offset > size || e->size > size - e->offset)
            return fail(why, "entry outside the region");
        for (uint32_t j = 0; j < i; j++) {
            const ms_flashfs_entry_t *o = &fs->table[j];
            if (e->offset < o->offset + o->size && o->offset < e->offset + e->size)
                return fail(why, "entries overlap");
        }
    }
    fs->count = sb->count;
    return 0;
}

static int name_eq(const char *entry, const char *name)
{
    for (uint32_t i = 0; i < MS_FLASHFS_NAME_MAX; i++) {
        if (entry[i] != name[i])
            return 0;
        if (name[i] == '\0')
            return 1;
    }
    return name[MS_FLASHFS_NAME_MAX] == '\0';
}

int ms_flashfs_lookup(const ms_flashfs_t *fs, const char *name, const void **data,
                      uint32_t *size)
{
    for (uint32_t i = 0; i < fs->count; i++) {
        if (name_eq(fs->table[i].name, name)) {
            *data = fs->base + fs->table[i].offset;
            *size = fs->table[i].size;
            return 0;
        }
    }
    return MS_FLASHFS_ERR_NOENT;
}

const ms_flashfs_entry_t *ms_flashfs_entry(const ms_flashfs_t *fs, uint32_t i)
{
    return i < fs->count ? &fs->table[i] : 0;
}

static struct {
    ms_flashfs_t fs;
    const void *base;
    uint32_t size;
    int mounted;      /* 0 not yet, 1 ok, -1 refused */
    const char *why;
} g_sys = {.base = (const void *)MS_FLASHFS_BASE, .size = MS_FLASHFS_SIZE};

int ms_flashfs_use(const void *base, uint32_t size)
{
    if (!base || !size)
        return MS_FLASHFS_ERR_INVAL;
    g_sys.base = base;
    g_sys.size = size;
    g_sys.mounted = 0;
    return 0;
}

int ms_flashfs_status(const char **why)
{
    if (g_sys.mounted == 0) {
        g_sys.why = "ok";
        g_sys.mounted = ms_flashfs_mount(&g_sys.fs, g_sys.base, g_sys.size, &g_sys.why) ? -1 : 1;
    }
    if (why)
        *why = g_sys.why;
    return g_sys.mounted > 0 ? 0 : MS_FLASHFS_ERR_IO;
}

int ms_flashfs_find(const char *name, const void **data, uint32_t *size)
{
    int r = ms_flashfs_status(0);
    return r ? r : ms_flashfs_lookup(&g_sys.fs, name, data, size);
}

int ms_flashfs_next(uint32_t *it, const ms_flashfs_entry_t **entry)
{
    int r = ms_flashfs_status(0);
    if (r)
        return r;
    const ms_flashfs_entry_t *e = ms_flashfs_entry(&g_sys.fs, *it);
    if (!e)
        return MS_FLASHFS_ERR_NOENT;
    *entry = e;
    (*it)++;
    return 0;
}
