// The user self-test's program (usertest.cc), assembled into the kernel's read-only data and copied to a
// user page: position-independent, rip-relative. System-call numbers and errors are kernel/abi/syscall.h's.
// Each check that fails exits with its own status (10 and up), which the kernel's test reports.

#define SYS_EXIT 0
#define SYS_WRITE 1
#define SYS_GETPID 6
#define SYS_YIELD 7
#define SYS_MEMSTAT 9
#define EFAULT (-14)
#define ARG0 0x1234
#define ARG1 0x5678
#define PID 42
#define DEMAND 0x600000               // two pages the test's fault hook maps on first touch
#define BAD_POINTER 0x10000           // a user address nothing maps
#define KERNEL_ADDRESS 0xffffffff80100000  // the kernel's text
#define NULL_CALLS 1001               // usertest.cc's kNullCalls
#define KEPT 0x0123456789abcdef

.macro CHECK_OR_EXIT status
  jne 1f
  jmp 2f
1:
  movl $\status, %edi
  jmp fail
2:
.endm

  .section .rodata
  .balign 16
  .globl user_test_code
user_test_code:
// rdi = ARG0, rsi = ARG1, every other register zero.
  cmpq $ARG0, %rdi
  CHECK_OR_EXIT 10
  cmpq $ARG1, %rsi
  CHECK_OR_EXIT 10
  orq %rbx, %rax
  orq %rcx, %rax
  orq %rdx, %rax
  orq %rbp, %rax
  orq %r8, %rax
  orq %r9, %rax
  orq %r10, %rax
  orq %r11, %rax
  orq %r12, %rax
  orq %r13, %rax
  orq %r14, %rax
  orq %r15, %rax
  testq %rax, %rax
  CHECK_OR_EXIT 11
// write(1, message, length) returns the length, and keeps every register but rax, rcx and r11.
  movabsq $KEPT, %r12
  movq %r12, %rbx
  movq %r12, %rbp
  movq %r12, %r10
  movq %r12, %r15
  movl $SYS_WRITE, %eax
  movl $1, %edi
  leaq message(%rip), %rsi
  movl $(message_end - message), %edx
  syscall
  cmpq $(message_end - message), %rax
  CHECK_OR_EXIT 12
  movabsq $KEPT, %rax
  cmpq %rax, %r12
  CHECK_OR_EXIT 13
  cmpq %rax, %rbx
  CHECK_OR_EXIT 13
  cmpq %rax, %rbp
  CHECK_OR_EXIT 13
  cmpq %rax, %r10
  CHECK_OR_EXIT 13
  cmpq %rax, %r15
  CHECK_OR_EXIT 13
// write of a user address nothing maps, and of a kernel address: -EFAULT.
  movl $SYS_WRITE, %eax
  movl $1, %edi
  movl $BAD_POINTER, %esi
  movl $4, %edx
  syscall
  cmpq $EFAULT, %rax
  CHECK_OR_EXIT 14
  movl $SYS_WRITE, %eax
  movl $1, %edi
  movabsq $KERNEL_ADDRESS, %rsi
  movl $4, %edx
  syscall
  cmpq $EFAULT, %rax
  CHECK_OR_EXIT 15
// A write to a page the fault hook maps, read back.
  movl $DEMAND, %ebx
  movq $0x5a5a, (%rbx)
  cmpq $0x5a5a, (%rbx)
  CHECK_OR_EXIT 16
// memstat into the second such page, which the kernel's CopyToUser faults in: the pid comes back.
  movl $SYS_MEMSTAT, %eax
  leaq 4096(%rbx), %rdi
  syscall
  testq %rax, %rax
  CHECK_OR_EXIT 17
  cmpq $PID, 4096(%rbx)
  CHECK_OR_EXIT 17
// yield, after which the test interrupts this code (a self-IPI pending over the return).
  movl $SYS_YIELD, %eax
  syscall
// The null system calls the test times.
  movl $NULL_CALLS, %ebx
3:
  movl $SYS_GETPID, %eax
  syscall
  cmpq $PID, %rax
  CHECK_OR_EXIT 18
  decl %ebx
  jnz 3b
// The end: a read of a kernel address, which kills.
  movabsq $KERNEL_ADDRESS, %rax
  movq (%rax), %rax
  movl $19, %edi
fail:
  movl $SYS_EXIT, %eax
  syscall
  ud2

  .globl user_test_exit7
user_test_exit7:
  movl $SYS_EXIT, %eax
  movl $7, %edi
  syscall
  ud2

  .globl user_test_hlt
user_test_hlt:
  hlt

// Not NUL-terminated here: the zeros after the program on its page end it (usertest.cc's string copies).
  .globl user_test_message
user_test_message:
message:
  .ascii "hello from ring 3"
message_end:

  .globl user_test_code_end
user_test_code_end:
