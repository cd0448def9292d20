/* The 96 bytes an image's header takes at its start; `metersim image` (src/metersim/image)
 * fills them in after linking. The program reads its own header through `ms_header`. */
    .section .ms_header, "a"
    .global ms_header
    .balign 4
ms_header:
    .space 96, 0xFF
