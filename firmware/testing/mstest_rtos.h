/* main() of an RTOS unit-test image: `int main(void) { mstest_rtos_main("unit_x"); }`. */
#ifndef MSTEST_RTOS_H
#define MSTEST_RTOS_H

__attribute__((noreturn)) void mstest_rtos_main(const char *image);

#endif
