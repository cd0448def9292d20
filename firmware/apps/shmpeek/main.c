/*
 * App "shmpeek" (test image platforms/images/meter_mu_isolation.yaml): a process the virtual
 * bus never granted LOADID's shared memory. It opens /shm/LOADID, asks its rights and address
 * (the address is no secret) and reads it through the file (refused), then touches it: the
 * MPU has no region for it in this process, so the kernel ends it with a MemManage report
 * while the meter runs on.
 */
#include "app.h"

int main(void)
{
    int fd = -1;
    for (unsigned i = 0; i < 20u && fd < 0; i++) {     /* the bus creates it at registration */
        fd = ms_io_open("/shm/LOADID", O_RDONLY, 0);
        if (fd < 0)
            ms_thread_sleep_ms(50);
    }
    uint32_t access = 0;
    void *base = 0;
    uint8_t byte;
    if (fd < 0 || ms_io_ioctl(fd, MS_IOCTL_SHM_ACCESS, &access) < 0 ||
        ms_io_ioctl(fd, MS_IOCTL_SHM_GET_ADDR, &base) < 0) {
        ms_printk("shmpeek: no /shm/LOADID (%d)\n", fd);
        return 1;
    }
    int r = ms_io_read(fd, &byte, 1);
    ms_printk("shmpeek: /shm/LOADID at %p, access %u, file read %d; touching it\n", base,
              (unsigned)access, r);
    uint32_t v = *(volatile const uint32_t *)base;
    ms_printk("shmpeek: read %08x without a grant\n", (unsigned)v);
    return 0;
}
