/* The flashfs packed by image/tests/mk_test_flashfs.py, placed at 0x08040000 (the meter's
 * flashfs address) by the linker (--section-start, image/module.mk). */
    .section .flashfs, "a"
    .global test_flashfs
test_flashfs:
    .incbin "test_flashfs.bin"
