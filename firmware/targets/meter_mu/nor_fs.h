/* /nor on the meter's management unit: littlefs on the NOR's file area, served by a kernel
 * thread (nor_fs.c). */
#ifndef NOR_FS_H
#define NOR_FS_H

#define NOR_FS_PATH "/nor"

/* Mounts littlefs (formatting a blank window) in a thread of priority prio and makes it /nor;
 * returns when done: MS_OK, or an MS_ERR_* code (no /nor). */
int nor_fs_start(unsigned prio);

#endif
