/*
 * Kernel sizing. Everything the kernel keeps in RAM is sized here, so the
 * STM32F103RB build (20 KiB SRAM) stays under its 4 KiB kernel budget
 * (ready queues, object/file/node tables, kernel heap); thread stacks,
 * process heaps, pipe and shared-memory buffers come from the memory pool the
 * application hands to ms_rtos_init(). A program may override any value with
 * -D or by defining it before including ms_rtos.h consistently.
 */
#ifndef MS_CONFIG_H
#define MS_CONFIG_H

#define MS_PRIO_COUNT 64u          /* 0 = most urgent, 63 = idle */
#ifndef MS_TICK_HZ
#define MS_TICK_HZ 1000u
#endif
#ifndef MS_DEFAULT_SLICE
#define MS_DEFAULT_SLICE 10u       /* round-robin slice in ticks */
#endif

#if defined(STM32F103xB) || defined(MS_SMALL)
#define MS_KHEAP_SIZE 1792u        /* TCBs, kernel objects, process records */
#define MS_MAX_KOBJ 24u            /* threads + semaphores + mutexes + ... */
#define MS_MAX_FILES 8u
#define MS_MAX_NODES 8u            /* device nodes + mounts */
#define MS_NAME_MAX 12u            /* thread/process/object names, NUL included */
#define MS_PATH_MAX 16u            /* device and mount paths, NUL included */
#define MS_IDLE_STACK 320u
#define MS_TIMER_STACK 512u
#define MS_EVLOG_SIZE 8u           /* kernel event log records kept */
#define MS_KSTACK_SIZE 512u        /* system-call stack of an isolated process thread */
#else
#define MS_KHEAP_SIZE 8192u
#define MS_MAX_KOBJ 96u
#define MS_MAX_FILES 40u           /* meter_mu's services, pipes and apps went past 32 */
#define MS_MAX_NODES 32u           /* meter_mu: its devices, /nor, /dev/reset and the vbus
                                      shared memories went past 24 */
#define MS_NAME_MAX 16u
#define MS_PATH_MAX 32u
#define MS_IDLE_STACK 512u
#define MS_TIMER_STACK 1024u
#define MS_EVLOG_SIZE 16u
#define MS_KSTACK_SIZE 1024u
#endif

#define MS_TIMER_PRIO 1u           /* soft-timer thread */
#define MS_IDLE_PRIO (MS_PRIO_COUNT - 1u)
#define MS_EEPROM_RANGES 2u        /* permitted EEPROM windows per process */
#define MS_STACK_CANARY_WORDS 4u
#define MS_STACK_MIN 256u
#define MS_CONSOLE_DEFER_BYTES 256u /* handler lines held while a thread writes the console */

/* MPU (PMSAv7) process isolation, where the core has one: region 0 maps the
 * on-chip flash (read/execute for everyone, writable only privileged), region 1
 * the running process's RAM window, regions 2.. its mapped shared memories. */
#define MS_MPU_FLASH_BASE 0x08000000u
#define MS_MPU_FLASH_LOG2 20u        /* 1 MiB */
#define MS_MPU_MIN_WINDOW 4096u
#define MS_MPU_MAPS 4u               /* shared-memory regions per process */

#endif
