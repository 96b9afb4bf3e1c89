// A static x86_64 program as ld.lld links one (testing/BUILD.bazel's elf_static_program), for
// kernel/elf:elf_test: read-only data, text at -Ttext, data and bss. It writes a line and exits through
// kernel/abi's system calls, though the test only parses it.
	.section .text
	.globl _start
_start:
	incq counter(%rip)
	lea message(%rip), %rsi
	mov $1, %edi                       // fd 1, the console
	mov $(message_end - message), %edx
	mov $1, %eax                       // Sys::kWrite
	syscall
	mov initial(%rip), %edi
	xor %eax, %eax                     // Sys::kExit
	syscall

	.section .rodata
message:
	.ascii "static program\n"
message_end:

	.data
initial:
	.quad 0

	.bss
counter:
	.skip 8192

	.section .note.GNU-stack, "", @progbits
