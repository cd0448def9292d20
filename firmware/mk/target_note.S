/* The build target of a metersim firmware image, recorded in the ELF itself so that
 * metersim picks the board from the file, never from its path (metersim._engine.firmware).
 *
 * One ELF note in the non-allocated section .note.metersim.target: owner "metersim",
 * type 1, descriptor "target=<name>\0part=<part>\0core=<core>\0". Not loaded: the image in
 * flash is the same with or without it. The build passes the three strings (firmware/Makefile).
 */
    .section .note.metersim.target, "", %note
    .balign 4
    .long   2f - 1f                 /* namesz */
    .long   4f - 3f                 /* descsz */
    .long   1                       /* type: metersim build target */
1:  .asciz  "metersim"
2:  .balign 4
3:  .ascii  "target="
    .asciz  METERSIM_TARGET
    .ascii  "part="
    .asciz  METERSIM_PART
    .ascii  "core="
    .asciz  METERSIM_CORE
4:  .balign 4
